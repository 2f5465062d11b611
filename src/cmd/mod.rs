//! The commands, one room each. No command imports another; what several need is here.

pub mod archive_binlog;
pub mod backup;
pub mod catchup;
pub mod check;
pub mod expire;
pub mod list;
pub mod restore;
pub mod setup_replication;
pub mod verify;
pub mod watch_replication;

use std::path::PathBuf;

use crate::config::{Settings, When};
use crate::error::{Error, Result};
use crate::mysql::Endpoint;

/// Whether the `--when` condition lets the command run. A data dir holding the marker of a
/// killed restore ([`restore::INCOMPLETE_MARKER`]) counts as no data dir: it is half-built,
/// and `restore --when no-data-dir` replaces it.
pub async fn when_allows(s: &Settings) -> bool {
    match s.when {
        None => true,
        Some(When::NoDataDir) => no_data_dir(s),
        Some(When::Stopped) => !Endpoint::from_settings(s).is_running().await,
    }
}

/// No data dir to keep: none, an empty one (a mount point made ready for the restore), or one
/// a killed restore left half-built (holding its marker).
fn no_data_dir(s: &Settings) -> bool {
    match std::fs::read_dir(&s.data_dir) {
        Err(_) => !s.data_dir.exists(),
        Ok(mut entries) => {
            half_built(s).is_some()
                || (entries.next().is_none() && unmounted_mount_point(&s.data_dir).is_none())
        }
    }
}

/// The fstab mount point at or above `dir` (below `/`) that nothing is mounted on: an empty
/// data dir there is a disk that failed to mount, never a place to restore into.
pub fn unmounted_mount_point(dir: &std::path::Path) -> Option<PathBuf> {
    unmounted_in(&std::fs::read_to_string("/etc/fstab").ok()?, dir)
}

/// [`unmounted_mount_point`] for the fstab text `fstab`.
fn unmounted_in(fstab: &str, dir: &std::path::Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = crate::lock::canonical_dir(dir);
    fstab
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(PathBuf::from)
        .filter(|m| m.as_os_str() != "/" && m.is_absolute() && dir.starts_with(m))
        .find(|m| {
            // Mounted: its device differs from its parent's.
            match (std::fs::metadata(m), m.parent().map(std::fs::metadata)) {
                (Ok(a), Some(Ok(b))) => a.dev() == b.dev(),
                _ => false,
            }
        })
}

/// Why `--when` skipped the command, in the flag's own words.
pub fn when_skip_reason(s: &Settings) -> String {
    match s.when {
        Some(When::NoDataDir) => match unmounted_mount_point(&s.data_dir) {
            Some(m) => format!(
                "--when no-data-dir does not hold: {} is empty, but /etc/fstab mounts {} and \
                 nothing is mounted there (a disk that failed to mount): mount it, or restore \
                 without --when",
                s.data_dir.display(),
                m.display()
            ),
            None => format!(
                "--when no-data-dir does not hold: {} exists and holds files (it is never \
                 replaced; move it away to restore)",
                s.data_dir.display()
            ),
        },
        Some(When::Stopped) => format!(
            "--when stopped does not hold: the instance on port {} is running",
            s.port
        ),
        None => "nothing to do".into(),
    }
}

/// The marker of a restore that did not finish, in the instance's data or binlog dir.
pub fn half_built(s: &Settings) -> Option<PathBuf> {
    [&s.data_dir, &s.binlog_dir]
        .into_iter()
        .map(|d| d.join(restore::INCOMPLETE_MARKER))
        .find(|m| m.exists())
}

/// Refuses to `command` an instance whose data dir a restore left half-built: its data lacks
/// what that restore had yet to apply, whatever its binlog says.
pub fn refuse_half_built(s: &Settings, command: &str) -> Result<()> {
    match half_built(s) {
        Some(marker) => Err(Error::Refused(format!(
            "{} marks a restore that did not finish (killed, or the host went down): the data \
             dir is half-built, so {command} would lose what that restore had yet to apply; \
             run restore again (it replaces the half-built dir)",
            marker.display()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_fstab_mount_point_with_nothing_mounted_is_found() {
        let base = tempfile::tempdir().unwrap();
        let mnt = base.path().join("data1");
        std::fs::create_dir(&mnt).unwrap();
        let data = mnt.join("mysql-3306");
        let fstab = format!(
            "# a comment\nUUID=x / ext4 defaults 0 1\nproc /proc proc defaults 0 0\n\
             /dev/sdb1 {} ext4 defaults 0 2\n",
            mnt.display()
        );
        assert_eq!(unmounted_in(&fstab, &data), Some(mnt.clone()));
        // /proc is mounted (its device differs from /'s); / itself never counts.
        assert_eq!(
            unmounted_in(&fstab, std::path::Path::new("/proc/sys")),
            None
        );
        assert_eq!(
            unmounted_in(&fstab, std::path::Path::new("/var/lib/mysql")),
            None
        );
    }
}

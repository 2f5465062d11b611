//! The directories a restore builds: claimed (created, or found empty) before anything is
//! written, marked while half-built, removed or emptied again on failure. A directory that
//! holds anything the restore did not put there is never touched.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::{Error, Result};

/// A file a restore puts in the data dir it builds and removes when it succeeded. A data dir
/// holding it is the half-built one of a restore that was killed (SIGKILL, a crash, a reboot:
/// nothing could clean up), which the next restore may replace.
pub const INCOMPLETE_MARKER: &str = "mysqlbackup-restore.incomplete";

/// Directories this restore created (removed on failure), pre-existing empty ones (emptied on
/// failure), and the markers to remove on success.
#[derive(Default, Debug)]
pub struct Created {
    dirs: Vec<PathBuf>,
    emptied: Vec<PathBuf>,
    markers: Vec<PathBuf>,
    /// Files made outside the claimed dirs (a conf `my_cnf` elsewhere that did not exist).
    files: Vec<PathBuf>,
}

/// Whether `dir` has no entries.
fn is_empty_dir(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .next()
        .is_none())
}

/// Removes everything in `dir`, keeping `dir`.
fn empty_dir(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let r = if p.is_dir() && !p.is_symlink() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if let Err(err) = r {
                tracing::error!("could not remove {}: {err}", p.display());
            }
        }
    }
}

/// Fails, before anything is downloaded, when `dir` holds anything but is not the half-built
/// data dir of a killed restore (replaced at [`Created::claim`]). `what` names it.
pub fn check_claimable(dir: &Path, what: &str) -> Result<()> {
    if dir.is_symlink() || (dir.exists() && !dir.is_dir()) {
        return Err(Error::Refused(format!(
            "{what} {} is not a plain directory: refusing to restore into it",
            dir.display()
        )));
    }
    if dir.exists() && !dir.join(INCOMPLETE_MARKER).exists() && !is_empty_dir(dir)? {
        return Err(Error::Refused(format!(
            "{what} {} is not empty: refusing to restore over it",
            dir.display()
        )));
    }
    Ok(())
}

impl Created {
    /// Makes `dir` ready: it must be missing or empty (or the half-built one of a killed
    /// restore, which is replaced). Records what to undo. `marked` dirs get the
    /// [`INCOMPLETE_MARKER`] until [`Created::finish`].
    pub fn claim(&mut self, dir: &Path, what: &str, marked: bool) -> Result<()> {
        if dir.exists() {
            if dir.join(INCOMPLETE_MARKER).exists() {
                recover_interrupted(dir, what)?;
            }
            check_claimable(dir, what)?;
            if !self.emptied.iter().any(|d| d == dir) {
                self.emptied.push(dir.to_path_buf());
            }
        } else {
            let mut top = dir.to_path_buf();
            while let Some(parent) = top.parent() {
                if parent.as_os_str().is_empty() || parent.exists() {
                    break;
                }
                top = parent.to_path_buf();
            }
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            // The parents made here must let the server's user through whatever root's umask
            // is (077 would make them 0700); the dir itself is handed to that user.
            let mut parent = dir.parent();
            while let Some(p) = parent.filter(|p| p.starts_with(&top)) {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| Error::io("set the mode of", p, e))?;
                parent = p.parent();
            }
            self.dirs.push(top);
        }
        if marked {
            let marker = dir.join(INCOMPLETE_MARKER);
            std::fs::write(
                &marker,
                "a mysqlbackup restore is building this directory; if none runs, it was \
                 interrupted and the next restore replaces it\n",
            )
            .map_err(|e| Error::io("write", &marker, e))?;
            self.markers.push(marker);
        }
        Ok(())
    }

    /// Writes the restored my.cnf `text` to `wanted`. Inside `data_dir` (claimed by this
    /// restore) it is simply written. Outside, only where nothing is (`create_new`: never over
    /// a file or a link someone else put there, even one created since a check), recorded so
    /// that a failed restore removes it; where something is, the text goes to
    /// `<data_dir>/my.cnf.restored` instead, with a warning. Returns where it went.
    pub fn write_my_cnf(
        &mut self,
        wanted: &Path,
        data_dir: &Path,
        text: &str,
        warnings: &mut Vec<String>,
    ) -> Result<PathBuf> {
        if wanted.starts_with(data_dir) {
            std::fs::write(wanted, text).map_err(|e| Error::io("write", wanted, e))?;
            return Ok(wanted.to_path_buf());
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(wanted);
        match created {
            Ok(mut f) => {
                self.files.push(wanted.to_path_buf());
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::io("write", wanted, e))?;
                Ok(wanted.to_path_buf())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let p = data_dir.join("my.cnf.restored");
                warnings.push(format!(
                    "{} exists and is not this restore's: the restored my.cnf is {}",
                    wanted.display(),
                    p.display()
                ));
                std::fs::write(&p, text).map_err(|e| Error::io("write", &p, e))?;
                Ok(p)
            }
            Err(e) => Err(Error::io("create", wanted, e)),
        }
    }

    /// Removes what this restore made (failure path).
    pub fn undo(&self) {
        for f in &self.files {
            if let Err(e) = std::fs::remove_file(f)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::error!("could not remove {}: {e}", f.display());
            }
        }
        for d in &self.dirs {
            if let Err(e) = std::fs::remove_dir_all(d) {
                tracing::error!("could not remove {}: {e}", d.display());
            }
        }
        for d in &self.emptied {
            empty_dir(d);
        }
    }

    /// The restore succeeded: its dirs are no longer half-built.
    pub fn finish(&self) -> Result<()> {
        for m in &self.markers {
            std::fs::remove_file(m).map_err(|e| Error::io("remove", m, e))?;
        }
        Ok(())
    }
}

/// Replaces the half-built dir of a killed restore: ends what that restore left running on it
/// (its temporary server, a prepare), then empties it. Runs under the instance lock, so no live
/// restore of this instance owns the dir.
fn recover_interrupted(dir: &Path, what: &str) -> Result<()> {
    tracing::warn!(
        "{} is the half-built {what} of an interrupted restore: removing what it holds",
        dir.display()
    );
    let args = [
        format!("--datadir={}", dir.display()),
        format!("--target-dir={}", dir.display()),
    ];
    for (sig, wait) in [
        ("TERM", std::time::Duration::from_secs(120)),
        ("KILL", std::time::Duration::from_secs(10)),
    ] {
        let pids = crate::procfs::pids_with_arg(&args);
        if pids.is_empty() {
            break;
        }
        for pid in &pids {
            tracing::warn!("ending process {pid} left on {} (SIG{sig})", dir.display());
            let _ = std::process::Command::new("kill")
                .args([&format!("-{sig}"), &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let started = std::time::Instant::now();
        while !crate::procfs::pids_with_arg(&args).is_empty() && started.elapsed() < wait {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    if let Some(pid) = crate::procfs::pids_with_arg(&args).first() {
        return Err(Error::Refused(format!(
            "process {pid} still runs on the half-built dir {}",
            dir.display()
        )));
    }
    empty_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_missing_or_empty_dirs_and_undoes_only_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let busy = tmp.path().join("busy");
        std::fs::create_dir(&busy).unwrap();
        std::fs::write(busy.join("keep"), "x").unwrap();
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let new = tmp.path().join("a/b/new");
        let mut c = Created::default();
        let err = c.claim(&busy, "binlog dir", false).unwrap_err();
        assert!(err.to_string().contains("binlog dir"), "{err}");
        c.claim(&empty, "binlog dir", false).unwrap();
        c.claim(&new, "data dir", true).unwrap();
        assert!(new.join(INCOMPLETE_MARKER).exists());
        std::fs::write(empty.join("restored"), "x").unwrap();
        c.undo();
        assert!(busy.join("keep").exists());
        assert!(empty.exists() && is_empty_dir(&empty).unwrap());
        assert!(!tmp.path().join("a").exists());
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&empty, &link).unwrap();
        assert!(check_claimable(&link, "data dir").is_err());
    }
}

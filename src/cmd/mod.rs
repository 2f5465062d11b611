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
        Ok(mut entries) => entries.next().is_none() || half_built(s).is_some(),
    }
}

/// Why `--when` skipped the command, in the flag's own words.
pub fn when_skip_reason(s: &Settings) -> String {
    match s.when {
        Some(When::NoDataDir) => format!(
            "--when no-data-dir does not hold: {} exists and holds files (it is never replaced; \
             move it away to restore)",
            s.data_dir.display()
        ),
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

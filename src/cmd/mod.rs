//! The commands, one room each. No command imports another; what several need is here.

pub mod backup;
pub mod catchup;
pub mod check;
pub mod expire;
pub mod list;
pub mod restore;
pub mod setup_replication;
pub mod verify;

use crate::config::{Settings, When};
use crate::mysql::Endpoint;

/// Whether the `--when` condition lets the command run.
pub async fn when_allows(s: &Settings) -> bool {
    match s.when {
        None => true,
        Some(When::NoDataDir) => !s.data_dir.exists(),
        Some(When::Stopped) => !Endpoint::from_settings(s).is_running().await,
    }
}

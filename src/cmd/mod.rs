//! The commands, one room each. No command imports another; what several need is here.

pub mod backup;
pub mod catchup;
pub mod check;
pub mod restore;
pub mod setup_replication;

use std::os::unix::fs::PermissionsExt;

use crate::codec::chain::Keys;
use crate::config::{Settings, When};
use crate::error::Result;
use crate::mysql::Endpoint;

/// Whether the `--when` condition lets the command run.
pub async fn when_allows(s: &Settings) -> bool {
    match s.when {
        None => true,
        Some(When::NoDataDir) => !s.data_dir.exists(),
        Some(When::Stopped) => !Endpoint::from_settings(s).is_running().await,
    }
}

/// The keys of the chain: reads the des3 password (warning when its file is readable by
/// others).
pub fn load_keys(s: &Settings) -> Result<Keys> {
    if let Ok(meta) = std::fs::metadata(&s.des3_key_file)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(
            "des3 key file {} is world-readable; chmod 600 it",
            s.des3_key_file.display()
        );
    }
    Ok(Keys {
        des3_password: Some(crate::codec::des3::read_password(&s.des3_key_file)?),
        kdf: s.key_derivation,
    })
}

//! The commands, one room each. No command imports another; what several need is here.

pub mod backup;
pub mod catchup;
pub mod check;
pub mod expire;
pub mod list;
pub mod restore;
pub mod setup_replication;
pub mod verify;

use std::os::unix::fs::PermissionsExt;

use crate::codec::chain::Keys;
use crate::config::{EncryptionName, Settings, When};
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

/// The keys of the chain. For a backup (`writing`), the configured cipher's: the des3
/// password (warning when its file is readable by others) or the age recipients. For a restore,
/// whatever conf gives to open either format: the des3 password if its file exists, the age
/// identities if `age_identity_file` is set (a world-readable one is refused).
pub fn load_keys(s: &Settings, writing: bool) -> Result<Keys> {
    let want_des3 = if writing {
        s.encryption == EncryptionName::Des3
    } else {
        s.des3_key_file.exists()
    };
    let des3_password = if want_des3 {
        if let Ok(meta) = std::fs::metadata(&s.des3_key_file)
            && meta.permissions().mode() & 0o004 != 0
        {
            tracing::warn!(
                "des3 key file {} is world-readable; chmod 600 it",
                s.des3_key_file.display()
            );
        }
        Some(crate::codec::des3::read_password(&s.des3_key_file)?)
    } else {
        None
    };
    let age_identities = match (&s.age_identity_file, writing) {
        (Some(p), false) => Some(crate::codec::age::read_identities(p)?),
        _ => None,
    };
    Ok(Keys {
        des3_password,
        kdf: s.key_derivation,
        age_recipients: s.age_recipients.clone(),
        age_identities,
    })
}

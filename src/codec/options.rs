//! The chain's options: conf keys `compression`, `compression_level`, `compression_threads`,
//! `gzip_level`, `encryption`, `key_derivation`, `des3_key_file`, `age_recipients`,
//! `age_identity_file`, resolved and checked into [`ChainOptions`], which builds the
//! [`Chain`] backups are written with and loads the [`Keys`] it needs. Owned here, beside the
//! codecs, so a new codec touches only this folder (a new conf key, e.g. its level, also
//! needs its field in the flat `config::ConfFile` and in [`RawChain`]).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde::Deserialize;

use super::chain::{Chain, Cipher, Compression, Keys};
use super::des3::KeyDerivation;
use crate::error::{Error, Result};

/// zstd level when conf names none: level 1 with two workers keeps up with mariabackup's
/// stream on two cores and stores about what `zstd -1` does.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// gzip level when conf names none. zlib-rs level 1 is a quicker strategy that stores ~35%
/// more than `gzip --fast`; level 2 compresses like `gzip --fast` (sysbench xbstream: 0.100
/// vs 0.107 of the input, 420 MiB/s) and leaves des3, the slowest stage, fewer bytes.
pub const DEFAULT_GZIP_LEVEL: u32 = 2;

/// zstd's own worker threads when conf names none.
pub const DEFAULT_ZSTD_WORKERS: u32 = 2;

/// conf `compression`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CompressionName {
    /// gzip (the seed's format; default).
    #[default]
    Gzip,
    /// zstd, multi-threaded.
    Zstd,
}

/// conf `encryption`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EncryptionName {
    /// OpenSSL `enc` des3 (the seed's format; default).
    #[default]
    Des3,
    /// age to public-key recipients.
    Age,
}

/// The chain's keys as conf gives them (None: not set).
#[derive(Clone, Debug, Default)]
pub struct RawChain {
    pub compression: Option<CompressionName>,
    pub compression_level: Option<i32>,
    pub compression_threads: Option<u32>,
    pub gzip_level: Option<u32>,
    pub encryption: Option<EncryptionName>,
    pub key_derivation: Option<KeyDerivation>,
    /// Already defaulted by the caller (`{conf_base}/des3_password`).
    pub des3_key_file: PathBuf,
    pub age_recipients: Option<Vec<String>>,
    pub age_identity_file: Option<PathBuf>,
}

/// The chain's options, resolved.
#[derive(Clone, Debug)]
pub struct ChainOptions {
    pub compression: CompressionName,
    /// zstd's level (or gzip's, when set with gzip).
    pub compression_level: Option<i32>,
    /// zstd's own worker threads.
    pub compression_threads: u32,
    pub gzip_level: u32,
    pub encryption: EncryptionName,
    pub key_derivation: KeyDerivation,
    pub des3_key_file: PathBuf,
    pub age_recipients: Vec<String>,
    pub age_identity_file: Option<PathBuf>,
}

/// Checks and defaults the chain's conf keys.
pub fn resolve(raw: RawChain) -> Result<ChainOptions> {
    let gzip_level = raw.gzip_level.unwrap_or(DEFAULT_GZIP_LEVEL);
    if gzip_level > 9 {
        return Err(Error::Config(format!(
            "`gzip_level` must be 0..=9, got {gzip_level}"
        )));
    }
    if let (Some(CompressionName::Zstd), Some(l)) = (raw.compression, raw.compression_level)
        && !(-7..=22).contains(&l)
    {
        return Err(Error::Config(format!(
            "`compression_level` for zstd must be -7..=22, got {l}"
        )));
    }
    if raw.encryption == Some(EncryptionName::Age)
        && raw.age_recipients.as_ref().is_none_or(Vec::is_empty)
    {
        return Err(Error::Config(
            "`encryption: age` needs `age_recipients` (public keys age1...)".into(),
        ));
    }
    Ok(ChainOptions {
        compression: raw.compression.unwrap_or_default(),
        compression_level: raw.compression_level,
        compression_threads: raw.compression_threads.unwrap_or(DEFAULT_ZSTD_WORKERS),
        gzip_level,
        encryption: raw.encryption.unwrap_or_default(),
        key_derivation: raw.key_derivation.unwrap_or_default(),
        des3_key_file: raw.des3_key_file,
        age_recipients: raw.age_recipients.unwrap_or_default(),
        age_identity_file: raw.age_identity_file,
    })
}

impl ChainOptions {
    /// The chain backups are written with.
    pub fn chain(&self) -> Chain {
        Chain {
            compression: match self.compression {
                CompressionName::Gzip => Compression::Gzip {
                    level: self
                        .compression_level
                        .map_or(self.gzip_level, |l| l.clamp(0, 9) as u32),
                },
                CompressionName::Zstd => Compression::Zstd {
                    level: self.compression_level.unwrap_or(DEFAULT_ZSTD_LEVEL),
                    workers: self.compression_threads,
                },
            },
            cipher: match self.encryption {
                EncryptionName::Des3 => Cipher::Des3 {
                    kdf: self.key_derivation,
                },
                EncryptionName::Age => Cipher::Age,
            },
        }
    }

    /// The keys of the chain. For a backup (`writing`), the configured cipher's: the des3
    /// password (refused when its file is readable by others) or the age recipients. For a
    /// restore, whatever conf gives to open either format: the des3 password if its file
    /// exists, the age identities if `age_identity_file` is set (a world-readable one is
    /// refused).
    pub fn keys(&self, writing: bool) -> Result<Keys> {
        let want_des3 = if writing {
            self.encryption == EncryptionName::Des3
        } else {
            self.des3_key_file.exists()
        };
        // One rule for secrets, as for an age identity: readable by others is refused. A
        // restore refuses it only when a des3 archive needs it (an age or stdin restore of a
        // host whose old des3 file is 0644 goes on).
        let world_readable = std::fs::metadata(&self.des3_key_file)
            .is_ok_and(|m| m.permissions().mode() & 0o004 != 0);
        let refused = world_readable.then(|| {
            format!(
                "des3 key file {} is world-readable: chmod 600 it",
                self.des3_key_file.display()
            )
        });
        let des3_password = match (want_des3, &refused) {
            (true, Some(why)) if writing => return Err(Error::Config(why.clone())),
            (true, None) => Some(super::des3::read_password(&self.des3_key_file)?),
            _ => None,
        };
        let age_identities = match (&self.age_identity_file, writing) {
            (Some(p), false) => Some(super::age::read_identities(p)?),
            _ => None,
        };
        Ok(Keys {
            des3_password,
            kdf: self.key_derivation,
            age_recipients: self.age_recipients.clone(),
            age_identities,
            des3_key_file: Some(self.des3_key_file.clone()),
            des3_refused: refused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(key: &std::path::Path) -> ChainOptions {
        ChainOptions {
            compression: CompressionName::Gzip,
            compression_level: None,
            compression_threads: 2,
            gzip_level: 1,
            encryption: EncryptionName::Des3,
            key_derivation: KeyDerivation::Sha256,
            des3_key_file: key.to_path_buf(),
            age_recipients: Vec::new(),
            age_identity_file: None,
        }
    }

    #[test]
    fn a_world_readable_des3_key_is_refused_when_it_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("des3_password");
        std::fs::write(&key, "pw\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = options(&key);
        // A backup needs it: refused at once.
        let e = o.keys(true).err().unwrap().to_string();
        assert!(e.contains("world-readable"), "{e}");
        // A restore reads it only for a des3 archive: refused then, naming why.
        let keys = o.keys(false).unwrap();
        assert!(keys.des3_password.is_none());
        let e = crate::codec::chain::Chain {
            compression: crate::codec::chain::Compression::Gzip { level: 1 },
            cipher: crate::codec::chain::Cipher::Des3 {
                kdf: KeyDerivation::Sha256,
            },
        }
        .encoders(&keys)
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("world-readable"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            o.keys(false).unwrap().des3_password.as_deref(),
            Some(&b"pw"[..])
        );
    }
}

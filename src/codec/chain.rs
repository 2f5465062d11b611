//! The codec chain as data: which compression and cipher a backup's bytes go through, built
//! from options by one function per direction. Every stored backup records its chain (the
//! key's suffix, object metadata); reading needs no record: the cipher is recognised from the
//! stored bytes' header and the compression from the decrypted bytes' magic, so every archive
//! written so far keeps restoring.
//!
//! Adding a codec touches this folder only: its transforms in a new file, its arm in
//! [`Compression`] or [`Cipher`] (with its name, suffix and encoder here), its magic in
//! [`recognise`] or [`AutoDecompress`], its stage name in [`check_of_stage`], and its conf
//! name in `options.rs` (plus a field in `config::ConfFile` if it brings a new conf key).

use bytes::Bytes;

use super::age::{AgeEncrypt, Identities, age_decrypt, parse_recipients};
use super::des3::{self, Des3Decrypt, Des3Encrypt, KeyDerivation};
use super::gzip::{GzipCompress, GzipDecompress};
use super::zstd::{ZstdCompress, ZstdDecompress};
use super::{BoxedTransform, Stage, Transform};
use crate::error::{Error, Result};

/// The compression of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (one member), zlib-rs `level`.
    Gzip { level: u32 },
    /// zstd at `level` with `workers` threads of its own.
    Zstd { level: i32, workers: u32 },
}

/// The cipher of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// 3DES-CBC in the OpenSSL `enc` format (`openssl des3 -pass file:...`).
    Des3 { kdf: KeyDerivation },
    /// age v1 to public-key recipients (authenticated).
    Age,
}

/// What a chain needs to encrypt and decrypt (no `Debug`: it holds secrets).
#[derive(Clone, Default)]
pub struct Keys {
    /// The des3 password (first line of the key file).
    pub des3_password: Option<Vec<u8>>,
    /// How des3 derives key and IV from it (what `openssl enc` options made the archive).
    pub kdf: KeyDerivation,
    /// age public keys to encrypt to.
    pub age_recipients: Vec<String>,
    /// age identities to decrypt with.
    pub age_identities: Option<Identities>,
    /// Where the des3 password was looked for (for messages when it is missing).
    pub des3_key_file: Option<std::path::PathBuf>,
    /// Why the des3 password was not read (its file is readable by others): said when a des3
    /// archive needs it.
    pub des3_refused: Option<String>,
}

/// A chain: compression, then cipher (the digests of the stored bytes follow in the pipeline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    pub compression: Compression,
    pub cipher: Cipher,
}

/// Every key suffix a chain can have.
pub const SUFFIXES: &[&str] = &[".tgz.des3", ".tar.zst.age", ".tgz.age", ".tar.zst.des3"];

/// Suffixes of stored files that are no tar (archived binlog files), one per chain.
pub const RAW_SUFFIXES: &[&str] = &[".gz.des3", ".zst.age", ".gz.age", ".zst.des3"];

impl Chain {
    /// Its name as recorded with a backup, e.g. `gzip+des3`.
    pub fn name(&self) -> String {
        let c = match self.compression {
            Compression::Gzip { .. } => "gzip",
            Compression::Zstd { .. } => "zstd",
        };
        let k = match self.cipher {
            Cipher::Des3 { .. } => "des3",
            Cipher::Age => "age",
        };
        format!("{c}+{k}")
    }

    /// The suffix of a stored file that is no tar (an archived binlog file), e.g. `.zst.age`.
    pub fn raw_suffix(&self) -> &'static str {
        match (self.compression, self.cipher) {
            (Compression::Gzip { .. }, Cipher::Des3 { .. }) => ".gz.des3",
            (Compression::Zstd { .. }, Cipher::Age) => ".zst.age",
            (Compression::Gzip { .. }, Cipher::Age) => ".gz.age",
            (Compression::Zstd { .. }, Cipher::Des3 { .. }) => ".zst.des3",
        }
    }

    /// The suffix of a backup's key: the seed's `.tgz.des3`, or e.g. `.tar.zst.age`.
    pub fn suffix(&self) -> &'static str {
        match (self.compression, self.cipher) {
            (Compression::Gzip { .. }, Cipher::Des3 { .. }) => ".tgz.des3",
            (Compression::Zstd { .. }, Cipher::Age) => ".tar.zst.age",
            (Compression::Gzip { .. }, Cipher::Age) => ".tgz.age",
            (Compression::Zstd { .. }, Cipher::Des3 { .. }) => ".tar.zst.des3",
        }
    }

    /// The chain a key suffix names (levels and workers at their defaults): the inverse of
    /// [`Chain::suffix`].
    pub fn of_suffix(suffix: &str) -> Option<Chain> {
        let compressions = [
            Compression::Gzip { level: 6 },
            Compression::Zstd {
                level: 1,
                workers: 0,
            },
        ];
        let ciphers = [
            Cipher::Des3 {
                kdf: KeyDerivation::default(),
            },
            Cipher::Age,
        ];
        compressions
            .into_iter()
            .flat_map(|compression| {
                ciphers.map(|cipher| Chain {
                    compression,
                    cipher,
                })
            })
            .find(|c| c.suffix() == suffix)
    }

    /// The encoding transforms, in order (plain tar in, stored bytes out).
    pub fn encoders(&self, keys: &Keys) -> Result<Vec<Stage>> {
        let compress: BoxedTransform = match self.compression {
            Compression::Gzip { level } => Box::new(GzipCompress::new(level)),
            Compression::Zstd { level, workers } => Box::new(ZstdCompress::new(level, workers)?),
        };
        let encrypt: BoxedTransform = match self.cipher {
            Cipher::Des3 { kdf } => Box::new(Des3Encrypt::new(des3_password(keys)?, kdf)),
            Cipher::Age => Box::new(AgeEncrypt::new(&parse_recipients(&keys.age_recipients)?)?),
        };
        Ok(vec![Stage::Push(compress), Stage::Push(encrypt)])
    }
}

/// The check (as `verify` names it) a failure of the stage named `stage` belongs to; None
/// when no codec has that name.
pub fn check_of_stage(stage: &str) -> Option<&'static str> {
    match stage {
        "sha1" | "sha256" => Some("checksum"),
        "des3" | "age" => Some("decryption"),
        "gzip" | "gunzip" | "zstd" | "decompress" => Some("decompression"),
        _ => None,
    }
}

fn des3_password(keys: &Keys) -> Result<&[u8]> {
    if let Some(why) = &keys.des3_refused {
        return Err(Error::Config(why.clone()));
    }
    keys.des3_password.as_deref().ok_or_else(|| {
        Error::Config(match &keys.des3_key_file {
            Some(p) => format!(
                "the des3 password file {} does not exist, and the archive is des3-encrypted: \
                 conf des3_key_file (default {{conf_base}}/des3_password) names the file whose \
                 first line is the password",
                p.display()
            ),
            None => "des3 needs its password: the des3 key file (conf des3_key_file)".into(),
        })
    })
}

/// What the stored bytes' header says they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recognised {
    /// `Salted__`: OpenSSL `enc` (des3).
    Des3,
    /// `age-encryption.org/v1`: age.
    Age,
}

/// Bytes needed to recognise a cipher.
pub const RECOGNISE_LEN: usize = 22;

/// Recognises the cipher from the first bytes of a stored backup.
pub fn recognise(leading: &[u8]) -> Result<Recognised> {
    if leading.starts_with(des3::MAGIC) {
        return Ok(Recognised::Des3);
    }
    if leading.starts_with(super::age::MAGIC) {
        return Ok(Recognised::Age);
    }
    Err(Error::format(
        "archive",
        "not a mysqlbackup archive: it starts with neither `Salted__` (des3) nor an age header",
    ))
}

/// The decoding stages for stored bytes that start with `leading` (stored bytes in, plain
/// tar out), and the cipher's name.
pub fn decoders(leading: &[u8], keys: &Keys) -> Result<(String, Vec<Stage>)> {
    let (name, decrypt) = match recognise(leading)? {
        Recognised::Des3 => (
            "des3",
            Stage::Push(Box::new(Des3Decrypt::new(des3_password(keys)?, keys.kdf))),
        ),
        Recognised::Age => {
            let ids = keys.age_identities.clone().ok_or_else(|| {
                Error::Config(
                    "the backup is encrypted with age: set `age_identity_file` (its private key)"
                        .into(),
                )
            })?;
            ("age", Stage::Pull("age", age_decrypt(ids)))
        }
    };
    Ok((
        name.to_string(),
        vec![decrypt, Stage::Push(Box::new(AutoDecompress::default()))],
    ))
}

/// Decompression chosen by the magic of its input (gzip's `1f 8b`, zstd's `28 b5 2f fd`).
#[derive(Default)]
pub struct AutoDecompress {
    head: Vec<u8>,
    inner: Option<BoxedTransform>,
}

impl AutoDecompress {
    fn choose(&mut self) -> Result<()> {
        if self.inner.is_none() {
            let t: BoxedTransform = if self.head.starts_with(&[0x1f, 0x8b]) {
                Box::new(GzipDecompress::new())
            } else if self.head.starts_with(&super::zstd::MAGIC) {
                Box::new(ZstdDecompress::new()?)
            } else {
                return Err(Error::stage(
                    "decompress",
                    "the decrypted bytes are neither gzip nor zstd (wrong des3 password, or not a \
                     mysqlbackup archive)",
                ));
            };
            self.inner = Some(t);
        }
        Ok(())
    }

    fn push_head(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        self.choose()?;
        let head = Bytes::from(std::mem::take(&mut self.head));
        let t = self.inner.as_mut().expect("chosen");
        super::push_sliced(t, head, out, &mut |_| Ok(()))
    }
}

impl Transform for AutoDecompress {
    fn name(&self) -> &'static str {
        self.inner.as_ref().map_or("decompress", |t| t.name())
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        match &mut self.inner {
            Some(t) => t.push(input, out),
            None => {
                self.head.extend_from_slice(&input);
                if self.head.len() < 4 {
                    return Ok(());
                }
                self.push_head(out)
            }
        }
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        if self.inner.is_none() {
            if self.head.is_empty() {
                return Err(Error::stage("decompress", "no data: truncated archive"));
            }
            self.push_head(out)?;
        }
        self.inner.as_mut().expect("chosen").finish(out)
    }
    fn max_push(&self) -> usize {
        self.inner.as_ref().map_or(8 << 10, |t| t.max_push())
    }
}

#[cfg(test)]
mod tests;

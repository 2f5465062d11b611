//! The codec chain as data: which compression and cipher a backup's bytes go through, built
//! from options by one function per direction. Every stored backup records its chain (the
//! key's suffix, object metadata / sidecar); reading needs no record: the cipher is recognised
//! from the stored bytes' header and the compression from the decrypted bytes' magic, so every
//! archive written so far keeps restoring.
//!
//! Adding a codec: its `Transform`s in a file of this folder, one arm in [`Compression`] or
//! [`Cipher`], and its magic in [`Recognised`].

use bytes::Bytes;

use super::des3::{self, Des3Decrypt, Des3Encrypt, KeyDerivation};
use super::gzip::{GzipCompress, GzipDecompress};
use super::{BoxedTransform, Transform};
use crate::error::{Error, Result};

/// The compression of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (one member), zlib-rs `level`.
    Gzip { level: u32 },
}

/// The cipher of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// 3DES-CBC in the OpenSSL `enc` format (`openssl des3 -pass file:...`).
    Des3 { kdf: KeyDerivation },
}

/// What a chain needs to encrypt and decrypt (no `Debug`: it holds secrets).
#[derive(Clone, Default)]
pub struct Keys {
    /// The des3 password (first line of the key file).
    pub des3_password: Option<Vec<u8>>,
    /// How des3 derives key and IV from it (what `openssl enc` options made the archive).
    pub kdf: KeyDerivation,
}

/// A chain: compression, then cipher (the digests of the stored bytes follow in the pipeline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    pub compression: Compression,
    pub cipher: Cipher,
}

impl Chain {
    /// Its name as recorded with a backup, e.g. `gzip+des3`.
    pub fn name(&self) -> String {
        let c = match self.compression {
            Compression::Gzip { .. } => "gzip",
        };
        let k = match self.cipher {
            Cipher::Des3 { .. } => "des3",
        };
        format!("{c}+{k}")
    }

    /// The suffix of a backup's key: the seed's `.tgz.des3`.
    pub fn suffix(&self) -> &'static str {
        match (self.compression, self.cipher) {
            (Compression::Gzip { .. }, Cipher::Des3 { .. }) => ".tgz.des3",
        }
    }

    /// The encoding transforms, in order (plain tar in, stored bytes out).
    pub fn encoders(&self, keys: &Keys) -> Result<Vec<BoxedTransform>> {
        let compress: BoxedTransform = match self.compression {
            Compression::Gzip { level } => Box::new(GzipCompress::new(level)),
        };
        let encrypt: BoxedTransform = match self.cipher {
            Cipher::Des3 { kdf } => Box::new(Des3Encrypt::new(des3_password(keys)?, kdf)),
        };
        Ok(vec![compress, encrypt])
    }
}

fn des3_password(keys: &Keys) -> Result<&[u8]> {
    keys.des3_password
        .as_deref()
        .ok_or_else(|| Error::Config("des3 needs its password (the des3 key file)".into()))
}

/// What the stored bytes' header says they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recognised {
    /// `Salted__`: OpenSSL `enc` (des3).
    Des3,
}

/// Bytes needed to recognise a cipher.
pub const RECOGNISE_LEN: usize = 8;

/// Recognises the cipher from the first bytes of a stored backup.
pub fn recognise(leading: &[u8]) -> Result<Recognised> {
    if leading.starts_with(des3::MAGIC) {
        return Ok(Recognised::Des3);
    }
    Err(Error::format(
        "archive",
        "not a mysqlbackup archive: it starts with neither `Salted__` (des3) nor an age header",
    ))
}

/// The decoding transforms for stored bytes that start with `leading` (stored bytes in, plain
/// tar out), and the chain's name.
pub fn decoders(leading: &[u8], keys: &Keys) -> Result<(String, Vec<BoxedTransform>)> {
    let decrypt: BoxedTransform = match recognise(leading)? {
        Recognised::Des3 => Box::new(Des3Decrypt::new(des3_password(keys)?, keys.kdf)),
    };
    Ok((
        "des3".to_string(),
        vec![decrypt, Box::new(AutoDecompress::default())],
    ))
}

/// Decompression chosen by the magic of its input (gzip's `1f 8b`).
#[derive(Default)]
pub struct AutoDecompress {
    head: Vec<u8>,
    inner: Option<BoxedTransform>,
}

impl AutoDecompress {
    fn choose(&mut self) -> Result<&mut BoxedTransform> {
        if self.inner.is_none() {
            let t: BoxedTransform = if self.head.starts_with(&[0x1f, 0x8b]) {
                Box::new(GzipDecompress::new())
            } else {
                return Err(Error::stage(
                    "decompress",
                    "the decrypted bytes are not gzip (wrong des3 password, or not a mysqlbackup archive)",
                ));
            };
            self.inner = Some(t);
        }
        Ok(self.inner.as_mut().expect("chosen"))
    }
}

impl Transform for AutoDecompress {
    fn name(&self) -> &'static str {
        self.inner.as_ref().map_or("decompress", |t| t.name())
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        if self.inner.is_none() && self.head.len() + input.len() < 4 {
            self.head.extend_from_slice(&input);
            return Ok(());
        }
        if self.inner.is_none() {
            self.head.extend_from_slice(&input);
            self.choose()?;
            let head = Bytes::from(std::mem::take(&mut self.head));
            let t = self.inner.as_mut().expect("chosen");
            return super::push_sliced(t, head, out, &mut |_| Ok(()));
        }
        self.choose()?.push(input, out)
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        if self.inner.is_none() {
            if self.head.is_empty() {
                return Err(Error::stage("decompress", "no data: truncated archive"));
            }
            self.choose()?;
            let head = Bytes::from(std::mem::take(&mut self.head));
            let t = self.inner.as_mut().expect("chosen");
            super::push_sliced(t, head, out, &mut |_| Ok(()))?;
        }
        self.choose()?.finish(out)
    }
    fn max_push(&self) -> usize {
        self.inner.as_ref().map_or(8 << 10, |t| t.max_push())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::run_to_vec;

    fn keys() -> Keys {
        Keys {
            des3_password: Some(b"pw".to_vec()),
            kdf: KeyDerivation::Sha256,
        }
    }

    #[test]
    fn both_directions_round_trip_and_are_recognised() {
        let chain = Chain {
            compression: Compression::Gzip { level: 2 },
            cipher: Cipher::Des3 {
                kdf: KeyDerivation::Sha256,
            },
        };
        assert_eq!(chain.name(), "gzip+des3");
        assert_eq!(chain.suffix(), ".tgz.des3");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut stored = data.clone();
        for mut t in chain.encoders(&keys()).unwrap() {
            stored = run_to_vec(&mut t, &stored, 7777).unwrap();
        }
        let (_, decs) = decoders(&stored[..RECOGNISE_LEN], &keys()).unwrap();
        let mut plain = stored.clone();
        for mut t in decs {
            plain = run_to_vec(&mut t, &plain, 3).unwrap();
        }
        assert_eq!(plain, data);
        assert!(recognise(b"PK\x03\x04....").is_err());
        let mut wrong = Keys {
            des3_password: Some(b"other".to_vec()),
            ..keys()
        };
        wrong.kdf = KeyDerivation::Sha256;
        let (_, decs) = decoders(&stored, &wrong).unwrap();
        let mut out: Result<Vec<u8>> = Ok(stored.clone());
        for mut t in decs {
            out = out.and_then(|b| run_to_vec(&mut t, &b, 4096));
        }
        assert!(out.unwrap_err().to_string().contains("des3 password"));
    }
}

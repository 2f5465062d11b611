//! 3DES-CBC in the OpenSSL `enc` format, both directions ([`Des3Encrypt`], [`Des3Decrypt`]).
//!
//! Format (what `openssl des3 -pass file:F` writes): `Salted__`, an 8-byte salt, then
//! DES-EDE3-CBC ciphertext with PKCS#7 padding. Key (24 bytes) and IV (8 bytes) come from the
//! password (the first line of F) and the salt by [`KeyDerivation`]: EVP_BytesToKey with SHA-256
//! (OpenSSL 1.1+ default) or MD5 (older OpenSSL), or PBKDF2-HMAC-SHA256 with 10,000 iterations
//! (`-pbkdf2`). The codec is a plain state machine; the async layer knows nothing of it.

use bytes::Bytes;
use serde::Deserialize;
mod tdes;

use sha2::Digest;
pub use tdes::TdesEde3;

use super::{CHUNK_SIZE, Transform};
use crate::error::{Error, Result};

/// How the des3 key and IV are derived from the password (OpenSSL `enc` options).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum KeyDerivation {
    /// EVP_BytesToKey with SHA-256, one iteration: OpenSSL 1.1+ default.
    #[default]
    Sha256,
    /// EVP_BytesToKey with MD5: OpenSSL before 1.1.0 (`-md md5`).
    Md5,
    /// PBKDF2-HMAC-SHA256 with 10,000 iterations (`-pbkdf2`).
    Pbkdf2,
}

/// The magic that opens every salted OpenSSL `enc` stream.
pub const MAGIC: &[u8; 8] = b"Salted__";
/// Length of the header: magic + salt.
pub const HEADER_LEN: usize = 16;
const BLOCK: usize = 8;
/// PBKDF2 iterations of `openssl enc -pbkdf2`.
pub const PBKDF2_ITERATIONS: u32 = 10_000;

/// A 3DES key and IV.
#[derive(Clone)]
pub struct KeyIv {
    pub key: [u8; 24],
    pub iv: [u8; 8],
}

/// Derives key and IV from `password` and `salt` as `openssl enc` does.
pub fn derive(password: &[u8], salt: &[u8; 8], kdf: KeyDerivation) -> KeyIv {
    let mut material = [0u8; 32];
    match kdf {
        KeyDerivation::Sha256 => bytes_to_key::<sha2::Sha256>(password, salt, &mut material),
        KeyDerivation::Md5 => bytes_to_key::<md5::Md5>(password, salt, &mut material),
        KeyDerivation::Pbkdf2 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, PBKDF2_ITERATIONS, &mut material)
        }
    }
    let mut key = [0u8; 24];
    let mut iv = [0u8; 8];
    key.copy_from_slice(&material[..24]);
    iv.copy_from_slice(&material[24..]);
    KeyIv { key, iv }
}

/// EVP_BytesToKey with one iteration: `D_i = H(D_{i-1} || pass || salt)`.
fn bytes_to_key<H: Digest>(password: &[u8], salt: &[u8], out: &mut [u8]) {
    let mut prev: Vec<u8> = Vec::new();
    let mut filled = 0;
    while filled < out.len() {
        let mut h = H::new();
        h.update(&prev);
        h.update(password);
        h.update(salt);
        prev = h.finalize().to_vec();
        let n = prev.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&prev[..n]);
        filled += n;
    }
}

/// Reads the password from a key file: its first line, without the line end (as
/// `openssl -pass file:` does).
pub fn read_password(path: &std::path::Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Config(format!(
            "des3 key file {} does not exist: conf des3_key_file (default \
             {{conf_base}}/des3_password, conf_base defaulting to the conf file's directory) \
             names the file whose first line is the password",
            path.display()
        )),
        _ => Error::io("read des3 key file", path, e),
    })?;
    let line = raw
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    if line.is_empty() {
        return Err(Error::Config(format!(
            "des3 key file {} has an empty first line",
            path.display()
        )));
    }
    Ok(line)
}

/// Encrypts to the OpenSSL `enc` format.
pub struct Des3Encrypt {
    cipher: TdesEde3,
    prev: u64,
    pending: Vec<u8>,
    header: Option<[u8; HEADER_LEN]>,
}

impl Des3Encrypt {
    /// An encryptor with a random salt.
    pub fn new(password: &[u8], kdf: KeyDerivation) -> Self {
        Self::with_salt(password, rand::random(), kdf)
    }

    /// An encryptor with a given salt (tests and known vectors).
    pub fn with_salt(password: &[u8], salt: [u8; 8], kdf: KeyDerivation) -> Self {
        let KeyIv { key, iv } = derive(password, &salt, kdf);
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&salt);
        Des3Encrypt {
            cipher: TdesEde3::new(&key),
            prev: u64::from_be_bytes(iv),
            pending: Vec::with_capacity(BLOCK),
            header: Some(header),
        }
    }

    fn encrypt_blocks(&mut self, data: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(data.len() % BLOCK, 0);
        let start = out.len();
        out.resize(start + data.len(), 0);
        let mut prev = self.prev;
        for (src, dst) in data
            .chunks_exact(BLOCK)
            .zip(out[start..].chunks_exact_mut(BLOCK))
        {
            prev = self
                .cipher
                .encrypt(u64::from_be_bytes(src.try_into().expect("8 bytes")) ^ prev);
            dst.copy_from_slice(&prev.to_be_bytes());
        }
        self.prev = prev;
    }

    fn take_header(&mut self, out: &mut Vec<u8>) {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
    }
}

impl Transform for Des3Encrypt {
    fn name(&self) -> &'static str {
        "des3 encrypt"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let mut buf = Vec::with_capacity(input.len() + HEADER_LEN + BLOCK);
        self.take_header(&mut buf);
        let mut data: &[u8] = &input;
        if !self.pending.is_empty() {
            let need = BLOCK - self.pending.len();
            let take = need.min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == BLOCK {
                let p = std::mem::take(&mut self.pending);
                self.encrypt_blocks(&p, &mut buf);
            }
        }
        let whole = data.len() / BLOCK * BLOCK;
        for piece in data[..whole].chunks(CHUNK_SIZE) {
            self.encrypt_blocks(piece, &mut buf);
        }
        self.pending.extend_from_slice(&data[whole..]);
        if !buf.is_empty() {
            out.push(Bytes::from(buf));
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        let mut buf = Vec::with_capacity(HEADER_LEN + BLOCK);
        self.take_header(&mut buf);
        let pad = (BLOCK - self.pending.len()) as u8;
        let mut last = std::mem::take(&mut self.pending);
        last.resize(BLOCK, pad);
        self.encrypt_blocks(&last, &mut buf);
        out.push(Bytes::from(buf));
        Ok(())
    }
}

/// Decrypts the OpenSSL `enc` format. A wrong key or corrupt data shows as bad padding at the
/// end (and usually as garbage to the next stage long before).
pub struct Des3Decrypt {
    password: Vec<u8>,
    kdf: KeyDerivation,
    header: Vec<u8>,
    cipher: Option<TdesEde3>,
    prev: [u8; BLOCK],
    threads: usize,
    /// Ciphertext not yet decrypted: at most one block (the held-back last one, or a partial
    /// block) between calls.
    pending: Vec<u8>,
}

impl Des3Decrypt {
    /// A decryptor for `password`.
    pub fn new(password: &[u8], kdf: KeyDerivation) -> Self {
        Des3Decrypt {
            password: password.to_vec(),
            kdf,
            header: Vec::with_capacity(HEADER_LEN),
            cipher: None,
            prev: [0; BLOCK],
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
            pending: Vec::with_capacity(2 * BLOCK),
        }
    }

    /// CBC decryption: block i needs only ciphertext blocks i and i-1, so large inputs are
    /// cut into one piece per core and decrypted in parallel.
    fn decrypt_blocks(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let cipher = self.cipher.as_ref().expect("header parsed");
        let start = out.len();
        out.resize(start + data.len(), 0);
        let dst = &mut out[start..];
        let blocks = data.len() / BLOCK;
        let pieces = if blocks >= 8192 {
            self.threads.max(1)
        } else {
            1
        };
        let per = blocks.div_ceil(pieces) * BLOCK;
        let iv = u64::from_be_bytes(self.prev);
        std::thread::scope(|scope| {
            for (n, (src, dst)) in data
                .chunks(per.max(BLOCK))
                .zip(dst.chunks_mut(per.max(BLOCK)))
                .enumerate()
            {
                let before = if n == 0 {
                    iv
                } else {
                    let at = n * per;
                    u64::from_be_bytes(data[at - BLOCK..at].try_into().expect("8 bytes"))
                };
                let mut work = move || decrypt_cbc(cipher, before, src, dst);
                if pieces == 1 || n + 1 == pieces {
                    work();
                } else {
                    scope.spawn(work);
                }
            }
        });
        if let Some(last) = data.len().checked_sub(BLOCK) {
            self.prev.copy_from_slice(&data[last..]);
        }
    }
}

fn decrypt_cbc(cipher: &TdesEde3, mut prev: u64, src: &[u8], dst: &mut [u8]) {
    for (s, d) in src.chunks_exact(BLOCK).zip(dst.chunks_exact_mut(BLOCK)) {
        let c = u64::from_be_bytes(s.try_into().expect("8 bytes"));
        d.copy_from_slice(&(cipher.decrypt(c) ^ prev).to_be_bytes());
        prev = c;
    }
}

impl Transform for Des3Decrypt {
    fn name(&self) -> &'static str {
        "des3 decrypt"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let mut data: &[u8] = &input;
        if self.cipher.is_none() {
            let take = (HEADER_LEN - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.header.len() < HEADER_LEN {
                return Ok(());
            }
            if &self.header[..8] != MAGIC {
                return Err(Error::format(
                    "des3",
                    "not an OpenSSL salted stream (no `Salted__` header)",
                ));
            }
            let salt: [u8; 8] = self.header[8..].try_into().expect("8 bytes");
            let KeyIv { key, iv } = derive(&self.password, &salt, self.kdf);
            self.cipher = Some(TdesEde3::new(&key));
            self.prev = iv;
        }
        self.pending.extend_from_slice(data);
        // Decrypt every whole block but the newest one, which may hold the padding.
        let len = self.pending.len();
        let ready = if len.is_multiple_of(BLOCK) {
            len.saturating_sub(BLOCK)
        } else {
            len - len % BLOCK
        };
        let mut buf = Vec::with_capacity(ready);
        let p = std::mem::take(&mut self.pending);
        self.decrypt_blocks(&p[..ready], &mut buf);
        self.pending = p[ready..].to_vec();
        if !buf.is_empty() {
            out.push(Bytes::from(buf));
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        if self.cipher.is_none() {
            return Err(Error::format(
                "des3",
                "stream ends inside its 16-byte header",
            ));
        }
        if self.pending.is_empty() || !self.pending.len().is_multiple_of(BLOCK) {
            return Err(Error::format(
                "des3",
                "truncated: ciphertext is not a whole number of blocks",
            ));
        }
        let p = std::mem::take(&mut self.pending);
        let mut buf = Vec::with_capacity(p.len());
        self.decrypt_blocks(&p, &mut buf);
        let pad = *buf.last().expect("one block") as usize;
        let valid =
            (1..=BLOCK).contains(&pad) && buf[buf.len() - pad..].iter().all(|&b| b as usize == pad);
        if !valid {
            return Err(Error::format(
                "des3",
                "truncated or damaged at its end (invalid padding in the last block): an \
                 interrupted `backup --output -`? (a wrong des3 password fails at the first \
                 bytes instead)",
            ));
        }
        buf.truncate(buf.len() - pad);
        if !buf.is_empty() {
            out.push(Bytes::from(buf));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

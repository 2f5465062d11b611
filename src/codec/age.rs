//! age (v1, the `age` crate of the rage project) in both directions: [`AgeEncrypt`], a push
//! transform to public-key recipients (a backup host needs no secret), and [`age_decrypt`], a
//! pull stage (the age reader asks for its input) that authenticates every 64 KiB chunk: a
//! flipped byte, a truncation or a wrong identity is an error, never wrong plaintext.

use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::{CHUNK_SIZE, PullStage, Transform};
use crate::error::{Error, Result};

/// The first bytes of every (binary) age file.
pub const MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// Identities that can decrypt (from an identity file).
pub type Identities = Arc<Vec<Box<dyn age::Identity + Send + Sync>>>;

/// A writer whose bytes the transform takes out.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self, min: usize, out: &mut Vec<Bytes>) {
        let mut b = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() >= min.max(1) {
            out.push(Bytes::from(std::mem::take(&mut *b)));
        }
    }
}

/// Parses `age1...` recipients.
pub fn parse_recipients(texts: &[String]) -> Result<Vec<age::x25519::Recipient>> {
    if texts.is_empty() {
        return Err(Error::Config(
            "encryption: age needs `age_recipients` (public keys age1...)".into(),
        ));
    }
    texts
        .iter()
        .map(|t| {
            age::x25519::Recipient::from_str(t.trim()).map_err(|e| {
                Error::Config(format!(
                    "age_recipients: {t:?} is not an age public key: {e}"
                ))
            })
        })
        .collect()
}

/// Reads an identity file (`age-keygen` output); refuses one that others can read.
pub fn read_identities(path: &std::path::Path) -> Result<Identities> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read age identity file", path, e))?;
    if meta.permissions().mode() & 0o004 != 0 {
        return Err(Error::Config(format!(
            "age identity file {} is world-readable: chmod 600 it",
            path.display()
        )));
    }
    let ids = age::IdentityFile::from_file(path.display().to_string())
        .map_err(|e| Error::io("read age identity file", path, e))?
        .into_identities()
        .map_err(|e| Error::Config(format!("age identity file {}: {e}", path.display())))?;
    if ids.is_empty() {
        return Err(Error::Config(format!(
            "age identity file {} holds no identity",
            path.display()
        )));
    }
    Ok(Arc::new(ids))
}

/// Encrypts to age recipients.
pub struct AgeEncrypt {
    w: Option<age::stream::StreamWriter<Shared>>,
    buf: Shared,
}

impl AgeEncrypt {
    /// An encryptor to `recipients`.
    pub fn new(recipients: &[age::x25519::Recipient]) -> Result<Self> {
        let enc =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| Error::stage("age", e.to_string()))?;
        let buf = Shared::default();
        let w = enc
            .wrap_output(buf.clone())
            .map_err(|e| Error::stage("age", e.to_string()))?;
        Ok(AgeEncrypt { w: Some(w), buf })
    }
}

impl Transform for AgeEncrypt {
    fn name(&self) -> &'static str {
        "age"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let w = self
            .w
            .as_mut()
            .ok_or_else(|| Error::stage("age", "push after finish"))?;
        w.write_all(&input)
            .map_err(|e| Error::stage("age", e.to_string()))?;
        self.buf.take(CHUNK_SIZE, out);
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        let w = self
            .w
            .take()
            .ok_or_else(|| Error::stage("age", "finished twice"))?;
        w.finish().map_err(|e| Error::stage("age", e.to_string()))?;
        self.buf.take(1, out);
        Ok(())
    }
}

/// What went wrong in words an operator can act on.
fn decrypt_error(e: age::DecryptError) -> Error {
    let why = match e {
        age::DecryptError::NoMatchingKeys => {
            "no identity of age_identity_file can open it (wrong age identity)".to_string()
        }
        age::DecryptError::DecryptionFailed | age::DecryptError::InvalidMac => {
            "authentication failed: the header was changed".to_string()
        }
        other => other.to_string(),
    };
    Error::stage("age", why)
}

/// A reader that names age in its errors (a failed chunk: changed or truncated bytes).
struct Named<R>(R);

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("authentication failed ({e}): the archive was changed or truncated"),
            )
        })
    }
}

/// The age decryption stage with `identities`.
pub fn age_decrypt(identities: Identities) -> PullStage {
    Box::new(move |input: Box<dyn Read + Send>| {
        let d = age::Decryptor::new(input).map_err(decrypt_error)?;
        let r = d
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(decrypt_error)?;
        Ok(Box::new(Named(r)) as Box<dyn Read + Send>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::run_to_vec;

    fn keypair() -> (age::x25519::Identity, age::x25519::Recipient) {
        let id = age::x25519::Identity::generate();
        let r = id.to_public();
        (id, r)
    }

    fn decrypt(ids: &Identities, bytes: &[u8]) -> Result<Vec<u8>> {
        let mut r = age_decrypt(ids.clone())(Box::new(std::io::Cursor::new(bytes.to_vec())))?;
        let mut v = Vec::new();
        r.read_to_end(&mut v)
            .map_err(|e| Error::stage("age", e.to_string()))?;
        Ok(v)
    }

    #[test]
    fn round_trip_and_every_tampering_is_refused() {
        let (id, r) = keypair();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let enc = run_to_vec(&mut AgeEncrypt::new(&[r]).unwrap(), &data, 12_345).unwrap();
        assert!(enc.starts_with(MAGIC));
        let ids: Identities = Arc::new(vec![Box::new(id)]);
        assert_eq!(decrypt(&ids, &enc).unwrap(), data);
        let mut flipped = enc.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 1;
        let e = decrypt(&ids, &flipped).unwrap_err().to_string();
        assert!(e.contains("age") && e.contains("authentication"), "{e}");
        let e = decrypt(&ids, &enc[..enc.len() - 100])
            .unwrap_err()
            .to_string();
        assert!(e.contains("age"), "{e}");
        let (other, _) = keypair();
        let e = decrypt(&Arc::new(vec![Box::new(other)]), &enc)
            .unwrap_err()
            .to_string();
        assert!(e.contains("wrong age identity"), "{e}");
        assert!(parse_recipients(&["nope".into()]).is_err());
        assert!(parse_recipients(&[]).is_err());
    }
}

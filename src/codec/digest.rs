//! The digests of the stored bytes (SHA-1, the seed's `x-amz-meta-sha1`, and SHA-256) as one
//! pass-through stage: bytes flow on unchanged and the digests are read at the end.

use bytes::Bytes;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::Transform;
use crate::error::Result;

/// Passes bytes through and computes their SHA-1, SHA-256 and length.
#[derive(Default, Clone)]
pub struct Digests {
    sha1: Sha1,
    sha256: Sha256,
    len: u64,
}

/// What [`Digests`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestReport {
    pub sha1: String,
    pub sha256: String,
    pub len: u64,
}

impl Digests {
    /// New digests.
    pub fn new() -> Self {
        Self::default()
    }
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.sha1.update(data);
        self.sha256.update(data);
        self.len += data.len() as u64;
    }
    /// The lowercase hex digests and length of everything seen so far.
    pub fn report(&self) -> DigestReport {
        DigestReport {
            sha1: hex::encode(self.sha1.clone().finalize()),
            sha256: hex::encode(self.sha256.clone().finalize()),
            len: self.len,
        }
    }
}

impl Transform for Digests {
    fn name(&self) -> &'static str {
        "sha1"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        self.update(&input);
        out.push(input);
        Ok(())
    }
    fn finish(&mut self, _out: &mut Vec<Bytes>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_pass_through() {
        let mut d = Digests::new();
        let out = crate::codec::run_to_vec(&mut d, b"abc", 1).unwrap();
        assert_eq!(out, b"abc");
        let r = d.report();
        assert_eq!(r.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            r.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(r.len, 3);
    }
}

//! SHA-1 as a pass-through stage: bytes flow on unchanged and the digest is read at the end.

use bytes::Bytes;
use sha1::{Digest, Sha1};

use super::Transform;
use crate::error::Result;

/// Passes bytes through and computes their SHA-1 and length.
#[derive(Default, Clone)]
pub struct Sha1Digest {
    hasher: Sha1,
    len: u64,
}

impl Sha1Digest {
    /// A new digest.
    pub fn new() -> Self {
        Self::default()
    }
    /// Feeds bytes (for use outside a pipeline).
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.len += data.len() as u64;
    }
    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// True when no byte was seen.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The lowercase hex SHA-1 of everything seen so far.
    pub fn hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

impl Transform for Sha1Digest {
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
    fn known_vector_and_pass_through() {
        let mut s = Sha1Digest::new();
        let out = crate::codec::run_to_vec(&mut s, b"abc", 1).unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(s.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(s.len(), 3);
    }
}

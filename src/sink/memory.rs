//! An in-memory sink for tests and benches; commits into a shared slot.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::{Sink, StoredReport};
use crate::error::Result;

/// The committed object of a [`MemorySink`]: bytes and SHA-1.
pub type MemorySlot = Arc<Mutex<Option<(Vec<u8>, String)>>>;

/// Collects bytes; they appear in the slot only on commit.
pub struct MemorySink {
    buf: Vec<u8>,
    slot: MemorySlot,
}

impl MemorySink {
    /// A sink committing into `slot`.
    pub fn new(slot: MemorySlot) -> Self {
        MemorySink {
            buf: Vec::new(),
            slot,
        }
    }
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    fn describe(&self) -> String {
        "memory".into()
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.buf.extend_from_slice(&chunk);
        Ok(())
    }
    async fn commit(self: Box<Self>, sha1: &str, size: u64) -> Result<StoredReport> {
        *self.slot.lock().expect("slot lock") = Some((self.buf, sha1.to_string()));
        Ok(StoredReport {
            location: "memory".into(),
            size,
            sha1: sha1.to_string(),
        })
    }
    async fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

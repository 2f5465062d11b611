//! Stdout as a sink (`--output -`), for custom sinks downstream of a pipe.
//!
//! Bytes already written cannot be taken back: on failure the command exits non-zero and the
//! reader must discard what it got (the SHA-1 is printed on stderr only on success).

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{Sink, StoredReport};
use crate::error::{Error, Result};

/// Writes to the process's stdout.
pub struct StdoutSink {
    out: tokio::io::Stdout,
}

impl Default for StdoutSink {
    fn default() -> Self {
        StdoutSink {
            out: tokio::io::stdout(),
        }
    }
}

#[async_trait::async_trait]
impl Sink for StdoutSink {
    fn describe(&self) -> String {
        "stdout".into()
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.out
            .write_all(&chunk)
            .await
            .map_err(|e| Error::io("write", "stdout", e))
    }
    async fn commit(mut self: Box<Self>, sha1: &str, size: u64) -> Result<StoredReport> {
        self.out
            .flush()
            .await
            .map_err(|e| Error::io("flush", "stdout", e))?;
        Ok(StoredReport {
            location: "-".into(),
            size,
            sha1: sha1.to_string(),
        })
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        let _ = self.out.flush().await;
        Ok(())
    }
}

//! Standard output as an upload (`backup --output -`) and standard input as a download
//! (`restore --input -`), for custom sinks and sources at either end of a pipe.
//!
//! Bytes already written to stdout cannot be taken back: on failure the command exits
//! non-zero and the reader must discard what it got (the SHA-1 is printed on stderr only on
//! success).

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

use super::{StoredObject, Upload};
use crate::error::{Error, Result};

/// Writes to the process's stdout.
pub struct StdoutUpload {
    out: tokio::io::Stdout,
    size: u64,
}

impl Default for StdoutUpload {
    fn default() -> Self {
        StdoutUpload {
            out: tokio::io::stdout(),
            size: 0,
        }
    }
}

#[async_trait::async_trait]
impl Upload for StdoutUpload {
    fn describe(&self) -> String {
        "stdout".into()
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.size += chunk.len() as u64;
        self.out
            .write_all(&chunk)
            .await
            .map_err(|e| Error::io("write", "stdout", e))
    }
    async fn commit(mut self: Box<Self>) -> Result<Vec<StoredObject>> {
        self.out
            .flush()
            .await
            .map_err(|e| Error::io("flush", "stdout", e))?;
        Ok(vec![StoredObject {
            key: "-".into(),
            size: self.size,
        }])
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        let _ = self.out.flush().await;
        Ok(())
    }
}

/// The process's stdin as a stream of chunks.
pub fn stdin() -> BoxStream<'static, Result<Bytes>> {
    tokio_util::io::ReaderStream::with_capacity(tokio::io::stdin(), 1 << 20)
        .map_err(|e| Error::io("read", "stdin", e))
        .boxed()
}

//! Sinks: where the stored bytes go. S3 (multipart upload), a file under `backup_base` (the
//! local store), stdout, or memory (tests and benches).
//!
//! Contract: `write` receives the final bytes in order. End of input is not success: nothing
//! becomes visible until the driver calls [`Sink::commit`] on its verdict that every stage and
//! the backup tool succeeded; on any failure the driver calls [`Sink::abort`], which removes
//! everything the sink wrote (S3: aborts the multipart upload; local: deletes the partial file).
//! Dropping a sink without either is a bug: S3 does not clean up on drop.

pub mod extract;
pub mod local;
pub mod memory;
pub mod s3;
pub mod stdout;

use bytes::Bytes;

use crate::error::Result;

/// Where a committed backup went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReport {
    /// `s3://bucket/key`, a file path, or `-` for stdout.
    pub location: String,
    pub size: u64,
    pub sha1: String,
}

/// A destination for the stored bytes.
#[async_trait::async_trait]
pub trait Sink: Send {
    /// Human name of the destination, for messages.
    fn describe(&self) -> String;
    /// Writes the next chunk.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    /// Makes the object visible, with its SHA-1 recorded (S3 metadata `x-amz-meta-sha1`, or a
    /// `.sha1` sidecar file).
    async fn commit(self: Box<Self>, sha1: &str, size: u64) -> Result<StoredReport>;
    /// Removes what was written. Errors here are reported but do not mask the cause.
    async fn abort(self: Box<Self>) -> Result<()>;
}

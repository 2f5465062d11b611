//! Backup repositories: one [`Store`] trait with its contract, and its implementations: a
//! local directory ([`local`]), S3-compatible storage ([`s3`]) and memory ([`memory`]).
//! Standard output and input are an upload and a download of the same shape ([`stdio`]).
//! Which store runs is built once from config by [`build`], and checked ([`Store::check`])
//! before any work starts.
//!
//! # Contract (every store; `tests/store_contract.rs` runs it against each)
//! - Objects are named by keys (`/`-separated, relative). An object is either wholly visible,
//!   with its metadata, or absent: there is no partial object under a key.
//! - [`Store::upload`] starts an upload. Its bytes are invisible until [`Upload::commit`],
//!   which makes the object appear whole with the metadata given, replacing an object of the
//!   same key atomically. [`Upload::abort`] removes everything the upload wrote. End of input
//!   is not success: the caller commits only on its verdict that every producer succeeded.
//! - Dropping an [`Upload`] without commit or abort leaves nothing visible, but may leave a
//!   leftover (S3 keeps the parts of an unaborted multipart upload; a killed process leaves a
//!   partial file): [`Store::leftovers`] finds those, [`Store::remove_leftover`] removes one.
//! - [`Store::get`] streams an object; a missing key is an error naming it. [`Store::head`]
//!   is None for a missing key. [`Store::list`] returns complete objects only (never staging
//!   objects, partial files or sidecars).
//! - Concurrent uploads to one key: a store may refuse the second while the first is under way
//!   (the local store does); when it takes both, each commit is atomic and the last one wins.
//!   Never a mix of the two.

pub mod local;
pub mod memory;
pub mod s3;
pub mod stdio;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::config::Settings;
use crate::error::Result;

/// An object's user metadata: `sha1` (the seed's `x-amz-meta-sha1`), `sha256`, `chain`.
pub type Metadata = BTreeMap<String, String>;

/// A stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub modified: SystemTime,
    pub metadata: Metadata,
    /// Why its metadata could not be read, in a listing (a local `.meta` sidecar that is not
    /// JSON, say): the object is listed, damaged, instead of failing the whole listing.
    pub damaged: Option<String>,
}

/// What an interrupted upload left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    /// The key it was written under (a staging or partial name).
    pub key: String,
    /// What it is: `pending upload`, `staging object`, `partial file`.
    pub kind: &'static str,
    /// The store's handle (S3 upload id), if any.
    pub id: Option<String>,
    /// When it was started or last written, when the store tells.
    pub modified: Option<SystemTime>,
}

/// Where a committed object went.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredReport {
    /// `s3://bucket/key`, a file path, `memory:key`, or `-` for stdout.
    pub location: String,
    pub size: u64,
    pub sha1: String,
}

/// An upload in progress (see the module contract).
#[async_trait::async_trait]
pub trait Upload: Send {
    /// Human name of the destination, for messages.
    fn describe(&self) -> String;
    /// Writes the next chunk.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    /// Makes the object visible with `metadata` (which holds at least `sha1`).
    async fn commit(self: Box<Self>, metadata: Metadata, size: u64) -> Result<StoredReport>;
    /// Removes what was written. Errors here are reported but do not mask the cause.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// A backup repository (see the module contract).
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Human name, e.g. `s3://bucket` or a directory.
    fn describe(&self) -> String;
    /// The location of `key`, e.g. `s3://bucket/key` or a path.
    fn location(&self, key: &str) -> String;
    /// A cheap check that the store can be used (the bucket exists and the credentials are
    /// accepted; the directory is writable), run before a backup starts its tool.
    async fn check(&self) -> Result<()>;
    /// Streams an object.
    async fn get(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes>>>;
    /// An object's size, time and metadata; None when there is none.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>>;
    /// The complete objects whose keys start with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;
    /// The names one level below `prefix` (which ends with `/` or is empty), e.g. the days.
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes an object and what records it (sidecars); a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Starts an upload of `key`.
    async fn upload(&self, key: &str) -> Result<Box<dyn Upload>>;
    /// What interrupted uploads left.
    async fn leftovers(&self) -> Result<Vec<Leftover>>;
    /// Removes one leftover.
    async fn remove_leftover(&self, leftover: &Leftover) -> Result<()>;
    /// The local file of `key`, for a store that has one (`--clean-after-restore`).
    fn local_path(&self, _key: &str) -> Option<std::path::PathBuf> {
        None
    }
}

/// The store conf names: S3 when an S3 account is configured, else the local store under
/// `backup_base`.
pub fn build(s: &Settings) -> Result<Arc<dyn Store>> {
    Ok(match &s.s3 {
        Some(cfg) => Arc::new(s3::S3Store::new(cfg)?),
        None => Arc::new(local::LocalStore::new(&s.backup_base)),
    })
}

/// The SHA-1 recorded for an object: 40 hex digits, either case (as `sha1sum` accepts),
/// returned in lower case.
pub fn parse_sha1(text: &str) -> Option<String> {
    let h = text.split_whitespace().next()?;
    (h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
}

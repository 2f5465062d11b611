//! Backup repositories: one [`Store`] trait with its contract, and its implementations: a
//! local directory ([`local`]), S3-compatible storage ([`s3`]) and memory ([`memory`]).
//! Standard output and input are an upload and a download of the same shape ([`stdio`]).
//! Which store runs is described by a [`StoreConfig`] (resolved by config) and built once by
//! [`build`], then checked ([`Store::check`]) before any work starts.
//!
//! A store is a dumb byte store: it knows keys and bytes, never what a key names. Names,
//! records and which object is a backup belong to the catalog ([`crate::catalog`]).
//!
//! # Contract (every store; `tests/store_contract.rs` runs it against each)
//! - Objects are named by keys: `/`-separated relative paths of any depth, no empty, `.` or
//!   `..` component ([`check_key`]). An object is either wholly visible or absent: there is
//!   no partial object under a key.
//! - [`Store::upload`] starts an upload. Its bytes are invisible until [`Upload::commit`],
//!   which makes the object appear whole, replacing an object of the same key atomically.
//!   [`Upload::abort`] removes everything the upload wrote. End of input is not success: the
//!   caller commits only on its verdict that every producer succeeded.
//! - Dropping an [`Upload`] without commit or abort leaves nothing visible, but may leave a
//!   leftover (S3 keeps the parts of an unaborted multipart upload; a killed process leaves a
//!   partial file): [`Store::scan`] finds those under a prefix in the same listing as the
//!   objects, [`Store::pending`] the uploads that are no object (S3 multipart uploads), each
//!   with the key it was written for; [`Store::remove_leftover`] removes one.
//! - [`Store::put`] stores a small object whole or not at all; [`Store::read`] reads one back
//!   (None when absent).
//! - [`Store::get`] streams an object; a missing key is an error naming it. [`Store::head`]
//!   is None for a missing key. [`Store::list`] returns complete objects only (never what an
//!   upload under way or a killed one wrote), without their metadata: one listing request per
//!   page, never one per object.
//! - Concurrent uploads to one key: a store may refuse the second while the first is under way
//!   (the local store does); when it takes both, each commit is atomic and the last one wins,
//!   or a commit fails (Garage ends the other pending uploads of a key when one completes).
//!   Never a mix of the two. (The catalog never uploads two things to one key: its keys name
//!   the second a backup was taken, under the instance lock.)

pub mod local;
pub mod memory;
pub mod s3;
pub mod stdio;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
pub use s3::options::S3Settings;

/// An object's user metadata as S3 returns it on HEAD (`x-amz-meta-*`, names without the
/// prefix). Only backups of earlier versions carry any (`sha1`, `sha256`, `chain`, ...).
pub type Metadata = BTreeMap<String, String>;

/// Largest object [`Store::read`] reads whole (records, verdicts and sidecars are a few KiB).
pub const READ_LIMIT: u64 = 16 << 20;

/// Which store conf names, resolved and checked by config, built by [`build`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreConfig {
    /// Files under a directory (`backup_base`).
    Local { root: PathBuf },
    /// A bucket on an S3-compatible server.
    S3(S3Settings),
}

/// A stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub modified: SystemTime,
    /// Empty in listings; what [`Store::head`] returns of S3 user metadata.
    pub metadata: Metadata,
}

/// What an interrupted upload left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    /// The key the upload was writing: the leftover belongs to it.
    pub key: String,
    /// What it is: `pending upload`, `staging object`, `partial file`.
    pub kind: &'static str,
    /// The store's own name of it (a partial file, a staging object, the key a pending
    /// upload was started under).
    pub object: String,
    /// The store's handle (an S3 upload id), if any.
    pub id: Option<String>,
    /// When it was started or last written, when the store tells.
    pub modified: Option<SystemTime>,
}

/// An object an upload made visible.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
}

/// An upload in progress (see the module contract).
#[async_trait::async_trait]
pub trait Upload: Send {
    /// Human name of the destination, for messages.
    fn describe(&self) -> String;
    /// Writes the next chunk.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    /// Makes what was written visible; returns the objects it is stored as, in order (one,
    /// but for an upload that splits its bytes, see [`crate::catalog::writer`]).
    async fn commit(self: Box<Self>) -> Result<Vec<StoredObject>>;
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
    /// A cheap check that the store is there to be read (the bucket exists and the
    /// credentials are accepted; the directory exists): a store that is not there is a wrong
    /// configuration, not an empty store.
    async fn present(&self) -> Result<()> {
        Ok(())
    }
    /// Streams an object.
    async fn get(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes>>>;
    /// A small object (at most [`READ_LIMIT`] bytes) whole; None when there is none.
    async fn read(&self, key: &str) -> Result<Option<Bytes>>;
    /// An object's size, time and (S3) metadata; None when there is none.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>>;
    /// The complete objects whose keys start with `prefix`, at any depth, and what
    /// interrupted uploads left among them (partial files, staging objects): one listing.
    async fn scan(&self, prefix: &str) -> Result<(Vec<ObjectInfo>, Vec<Leftover>)>;
    /// The complete objects whose keys start with `prefix`, at any depth.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        Ok(self.scan(prefix).await?.0)
    }
    /// The names one level below `prefix` (which ends with `/` or is empty), e.g. the days.
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes an object; a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Starts an upload of `key`.
    async fn upload(&self, key: &str) -> Result<Box<dyn Upload>>;
    /// Stores `bytes` under `key` whole or not at all, replacing an object of that key.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()>;
    /// Uploads started and neither committed nor aborted (under way, or abandoned by a killed
    /// process) whose keys start with `prefix`: they hold no object (S3 multipart uploads).
    async fn pending(&self, prefix: &str) -> Result<Vec<Leftover>>;
    /// Everything interrupted uploads left under `prefix` ([`Store::scan`]'s and
    /// [`Store::pending`]'s).
    async fn leftovers(&self, prefix: &str) -> Result<Vec<Leftover>> {
        let mut l = self.scan(prefix).await?.1;
        l.extend(self.pending(prefix).await?);
        Ok(l)
    }
    /// Removes one leftover.
    async fn remove_leftover(&self, leftover: &Leftover) -> Result<()>;
    /// The largest object one upload can store (S3: 10,000 parts of the part size); None
    /// when there is no limit.
    fn max_object_size(&self) -> Option<u64> {
        None
    }
    /// The local file of `key`, for a store that has one (`--clean-after-restore`).
    fn local_path(&self, _key: &str) -> Option<std::path::PathBuf> {
        None
    }
}

/// The store `config` names, checked to be there ([`Store::present`]).
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    let store = build(config)?;
    store.present().await?;
    Ok(store)
}

/// The store `config` names.
pub fn build(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    Ok(match config {
        StoreConfig::S3(cfg) => Arc::new(s3::S3Store::new(cfg)?),
        StoreConfig::Local { root } => Arc::new(local::LocalStore::new(root)),
    })
}

/// Checks that `key` names an object: a relative `/`-separated path without empty, `.` or
/// `..` components, control characters or a trailing `/`, at most 1024 bytes (S3's limit).
pub fn check_key(key: &str) -> Result<()> {
    let fine = !key.is_empty()
        && key.len() <= 1024
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if fine {
        Ok(())
    } else {
        Err(Error::Refused(format!("not a key: {key:?}")))
    }
}

/// The SHA-1 recorded for an object: 40 hex digits, either case (as `sha1sum` accepts),
/// returned in lower case.
pub fn parse_sha1(text: &str) -> Option<String> {
    parse_hex(text, 40)
}

/// The SHA-256 recorded for an object: 64 hex digits, either case, in lower case.
pub fn parse_sha256(text: &str) -> Option<String> {
    parse_hex(text, 64)
}

fn parse_hex(text: &str, len: usize) -> Option<String> {
    let h = text.split_whitespace().next()?;
    (h.len() == len && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_relative_paths_without_dot_components() {
        for fine in [
            "a",
            "2026_01_01/3306/x.tgz.des3",
            "verified/a/b/c.json",
            "a.b/c-d",
        ] {
            assert!(check_key(fine).is_ok(), "{fine}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "./a", "a/../b", "..", "a/\n", "a\0b",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn digests_are_read_in_either_case() {
        let h = "A".repeat(40);
        assert_eq!(parse_sha1(&format!("{h}  name\n")), Some("a".repeat(40)));
        assert_eq!(parse_sha1("abc"), None);
        assert_eq!(parse_sha256(&"0".repeat(64)), Some("0".repeat(64)));
        assert_eq!(parse_sha256(&"0".repeat(40)), None);
    }
}

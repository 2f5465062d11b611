//! S3 multipart upload as an [`Upload`], straight to its key.
//!
//! Bytes are sent as parts of one size (conf `s3_part_size`, 8 MiB by default), at most
//! `s3_parts_in_flight` at a time: memory is the part being filled plus the parts being sent,
//! whatever the object's size. An object holds at most [`MAX_PARTS`] parts; a longer stream is
//! split into several objects by the catalog ([`crate::catalog::writer`]), which asks
//! [`crate::store::Store::max_object_size`]. Commit is CompleteMultipartUpload: the object
//! appears whole or not at all, and nothing is copied. On abort the multipart upload is
//! aborted (S3 keeps unaborted parts forever). A second upload a retried CreateMultipartUpload
//! may have started (its answer lost) is left pending: it is a leftover of the key, found by
//! [`crate::store::Store::pending`] and removed with the others.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{MultipartUpload, ObjectStore, PutPayload};
use tokio::task::JoinHandle;

use super::S3Store;
use crate::error::{Error, Result};
use crate::store::{StoredObject, Upload};

/// What earlier versions named the staging object of an upload of `key` (they copied it into
/// place on commit): `{key}.{16 hex digits}.uploading`. Found among leftovers only.
const STAGING_SUFFIX: &str = ".uploading";

/// Whether `key` is an earlier version's staging object (never an object of the listing).
pub fn is_staging(key: &str) -> bool {
    staging_of(key).is_some()
}

/// The key an earlier version's staging object `{key}.{16 hex}.uploading` was staging.
pub fn staging_of(staging: &str) -> Option<&str> {
    let rest = staging.strip_suffix(STAGING_SUFFIX)?;
    let (key, hex) = rest.rsplit_once('.')?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(key)
}

/// S3's smallest part but the last.
pub const MIN_PART: u64 = 5 << 20;
/// S3's largest part.
pub const MAX_PART: u64 = 5 << 30;
/// Default part size.
pub const DEFAULT_PART: u64 = 8 << 20;
/// Default number of parts sent at once.
pub const DEFAULT_IN_FLIGHT: usize = 4;
/// S3's limit on parts per upload.
pub const MAX_PARTS: u64 = 10_000;

/// Streams into a multipart upload.
pub struct S3Upload {
    store: Arc<S3Store>,
    key: String,
    upload: Box<dyn MultipartUpload>,
    pending: Vec<Bytes>,
    pending_len: u64,
    parts: u64,
    size: u64,
    in_flight: VecDeque<JoinHandle<object_store::Result<()>>>,
}

impl S3Upload {
    /// Starts the multipart upload of `key`.
    pub async fn create(store: Arc<S3Store>, key: &str) -> Result<Self> {
        let upload = store
            .store
            .put_multipart(&ObjPath::from(key))
            .await
            .map_err(|e| {
                Error::store(format!("start upload of s3://{}/{key}", store.bucket()), e)
            })?;
        Ok(S3Upload {
            store,
            key: key.to_string(),
            upload,
            pending: Vec::new(),
            pending_len: 0,
            parts: 0,
            size: 0,
            in_flight: VecDeque::new(),
        })
    }

    fn what(&self) -> String {
        format!("upload of s3://{}/{}", self.store.bucket(), self.key)
    }

    async fn send_part(&mut self) -> Result<()> {
        if self.parts >= MAX_PARTS {
            return Err(Error::store(
                self.what(),
                format!("the object exceeds {MAX_PARTS} parts"),
            ));
        }
        while self.in_flight.len() >= self.store.settings.parts_in_flight.max(1) {
            self.wait_oldest().await?;
        }
        let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
        self.pending_len = 0;
        self.parts += 1;
        self.in_flight
            .push_back(tokio::spawn(self.upload.put_part(payload)));
        Ok(())
    }

    async fn wait_oldest(&mut self) -> Result<()> {
        if let Some(h) = self.in_flight.pop_front() {
            let what = self.what();
            h.await
                .map_err(|e| Error::store(&what, e))?
                .map_err(|e| Error::store(what, e))?;
        }
        Ok(())
    }

    async fn abort_parts(&mut self) -> Result<()> {
        for h in self.in_flight.drain(..) {
            h.abort();
            let _ = h.await;
        }
        let what = format!("abort {}", self.what());
        self.upload.abort().await.map_err(|e| Error::store(what, e))
    }
}

#[async_trait::async_trait]
impl Upload for S3Upload {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.store.bucket(), self.key)
    }
    async fn write(&mut self, mut chunk: Bytes) -> Result<()> {
        let part = self.store.settings.part_size;
        self.size += chunk.len() as u64;
        while !chunk.is_empty() {
            let take = ((part - self.pending_len) as usize).min(chunk.len());
            self.pending.push(chunk.split_to(take));
            self.pending_len += take as u64;
            if self.pending_len >= part {
                self.send_part().await?;
            }
        }
        Ok(())
    }
    async fn commit(mut self: Box<Self>) -> Result<Vec<StoredObject>> {
        let result = async {
            if self.pending_len > 0 || self.parts == 0 {
                self.send_part().await?;
            }
            while !self.in_flight.is_empty() {
                self.wait_oldest().await?;
            }
            let what = self.what();
            self.upload
                .complete()
                .await
                .map_err(|e| Error::store(what, e))?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = self.abort_parts().await;
            return Err(e);
        }
        Ok(vec![StoredObject {
            key: self.key.clone(),
            size: self.size,
        }])
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.abort_parts().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_objects_of_earlier_versions_are_recognised() {
        let s = "d/1/k.tgz.des3.0000000000000007.uploading";
        assert_eq!(staging_of(s), Some("d/1/k.tgz.des3"));
        assert!(!is_staging("d/1/k.tgz.des3"));
        assert!(!is_staging("d/1/k.0123.uploading"));
    }
}

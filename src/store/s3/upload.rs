//! S3 multipart upload as an [`Upload`].
//!
//! Bytes are uploaded as parts of a staging object `<key>.<random>.uploading`; part size starts
//! at 8 MiB and doubles every 1,000 parts, so 10,000 parts hold about 8 TiB (> 5 TiB) while a
//! small backup uses small parts (memory: the part being filled plus [`MAX_IN_FLIGHT`] parts
//! being sent). On commit the staging upload is completed and copied server-side to `<key>`
//! with `x-amz-meta-sha1`, then deleted: `<key>` appears whole, with its checksum, or not at
//! all. On abort the multipart upload is aborted (S3 keeps unaborted parts forever).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{MultipartUpload, ObjectStore, PutPayload};
use tokio::task::JoinHandle;

use super::{COPY_PART_SIZE, S3Store};
use crate::error::{Error, Result};
use crate::store::{Metadata, StoredReport, Upload};

const STAGING_SUFFIX: &str = ".uploading";

/// The staging object an upload of `key` goes to before it is copied into place:
/// `{key}.{16 hex digits}.uploading` (random, so a killed run never collides with the next).
pub fn staging_key(key: &str, nonce: u64) -> String {
    format!("{key}.{nonce:016x}{STAGING_SUFFIX}")
}

/// Whether `key` is a staging object's key (never an object of the store's listing).
pub fn is_staging(key: &str) -> bool {
    staging_of(key).is_some()
}

/// The key a staging object `{key}.{16 hex}.uploading` was staging, if `staging` is one.
pub fn staging_of(staging: &str) -> Option<&str> {
    let rest = staging.strip_suffix(STAGING_SUFFIX)?;
    let (key, hex) = rest.rsplit_once('.')?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(key)
}

/// Smallest part (S3 requires 5 MiB but for the last).
pub const MIN_PART: u64 = 8 << 20;
/// Parts uploaded concurrently.
pub const MAX_IN_FLIGHT: usize = 2;
/// S3's limit on parts per upload.
pub const MAX_PARTS: u64 = 10_000;

/// Size of part number `n` (0-based): 8 MiB doubling every 1,000 parts.
pub fn part_size(n: u64) -> u64 {
    MIN_PART << (n / 1000).min(9)
}

/// Largest stream that fits in [`MAX_PARTS`] parts.
pub fn max_stream_size() -> u64 {
    (0..MAX_PARTS).map(part_size).sum()
}

/// Streams into a multipart upload.
pub struct S3Upload {
    store: Arc<S3Store>,
    key: String,
    staging: String,
    upload: Box<dyn MultipartUpload>,
    pending: Vec<Bytes>,
    pending_len: u64,
    parts: u64,
    in_flight: VecDeque<JoinHandle<object_store::Result<()>>>,
    /// Range size of the server-side copy (tests make it small to copy in several parts).
    pub copy_part_size: u64,
}

impl S3Upload {
    /// Starts the staging upload for `key`.
    pub async fn create(store: Arc<S3Store>, key: &str) -> Result<Self> {
        let staging = staging_key(key, rand::random::<u64>());
        let upload = store
            .store
            .put_multipart(&ObjPath::from(staging.as_str()))
            .await
            .map_err(|e| {
                Error::store(
                    format!("start upload of s3://{}/{staging}", store.bucket()),
                    e,
                )
            })?;
        Ok(S3Upload {
            store,
            key: key.to_string(),
            staging,
            upload,
            pending: Vec::new(),
            pending_len: 0,
            parts: 0,
            in_flight: VecDeque::new(),
            copy_part_size: COPY_PART_SIZE,
        })
    }

    fn what(&self) -> String {
        format!("upload of s3://{}/{}", self.store.bucket(), self.key)
    }

    async fn send_part(&mut self) -> Result<()> {
        if self.parts >= MAX_PARTS {
            return Err(Error::store(self.what(), "stream exceeds 10,000 parts"));
        }
        while self.in_flight.len() >= MAX_IN_FLIGHT {
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
}

#[async_trait::async_trait]
impl Upload for S3Upload {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.store.bucket(), self.key)
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.pending_len += chunk.len() as u64;
        self.pending.push(chunk);
        if self.pending_len >= part_size(self.parts) {
            self.send_part().await?;
        }
        Ok(())
    }
    async fn commit(mut self: Box<Self>, metadata: Metadata, size: u64) -> Result<StoredReport> {
        let sha1 = metadata.get("sha1").cloned().unwrap_or_default();
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
        let copied = self
            .store
            .copy_with_metadata(
                &self.staging,
                &self.key,
                size,
                &metadata,
                self.copy_part_size,
            )
            .await;
        let staging = ObjPath::from(self.staging.as_str());
        let deleted = self.store.store.delete(&staging).await;
        self.abort_orphans().await;
        copied?;
        deleted.map_err(|e| Error::store(format!("delete staging object {}", self.staging), e))?;
        Ok(StoredReport {
            location: self.describe(),
            size,
            sha1,
        })
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        let r = self.abort_parts().await;
        self.abort_orphans().await;
        r
    }
}

impl S3Upload {
    /// Aborts every other pending upload of this run's staging key: a CreateMultipartUpload
    /// whose answer was lost and was retried leaves one that nobody knows the id of. The
    /// staging key is this run's alone (random), so anything pending under it is an orphan.
    fn abort_orphans(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        abort_orphans(self.store.clone(), self.staging.clone())
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

async fn abort_orphans(store: Arc<S3Store>, staging: String) {
    match store.list_multipart_uploads().await {
        Ok(pending) => {
            for u in pending.iter().filter(|u| u.key == staging) {
                match store.abort_upload(&u.key, &u.upload_id).await {
                    Ok(()) => tracing::warn!("aborted an orphaned upload of {}", u.key),
                    Err(e) => tracing::warn!("could not abort orphaned upload {}: {e}", u.key),
                }
            }
        }
        Err(e) => tracing::debug!("could not list pending uploads: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_hold_five_tib() {
        assert_eq!(part_size(0), 8 << 20);
        assert_eq!(part_size(999), 8 << 20);
        assert_eq!(part_size(1000), 16 << 20);
        assert!(
            part_size(MAX_PARTS - 1) <= 5 << 30,
            "S3 parts are at most 5 GiB"
        );
        assert!(max_stream_size() >= 5 << 40);
    }

    #[test]
    fn staging_keys_are_recognised() {
        let s = staging_key("d/1/k.tgz.des3", 7);
        assert_eq!(s, "d/1/k.tgz.des3.0000000000000007.uploading");
        assert_eq!(staging_of(&s), Some("d/1/k.tgz.des3"));
        assert!(!is_staging("d/1/k.tgz.des3"));
        assert!(!is_staging("d/1/k.0123.uploading"));
    }
}

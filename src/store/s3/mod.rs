//! S3-compatible storage as a [`Store`]: an `object_store` client for uploads, downloads and
//! listings ([`upload`]), plus signed raw requests for what object_store does not offer
//! ([`raw`]). Path-style addressing, http or https; retries with backoff. An upload goes
//! straight to its key as a multipart upload (CompleteMultipartUpload makes it appear whole or
//! not at all): nothing is copied server-side.

pub mod options;
mod pending;
mod raw;
pub mod upload;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::path::Path as ObjPath;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};

use super::{Leftover, ObjectInfo, READ_LIMIT, Store, Upload, check_key};
use crate::error::{Error, Result};
pub use options::S3Settings;

/// [`Leftover::kind`] of a multipart upload neither completed nor aborted.
const PENDING: &str = "pending upload";
/// [`Leftover::kind`] of a staging object an earlier version copied into place on commit.
const STAGING: &str = "staging object";

/// A bucket on an S3-compatible server.
#[derive(Clone)]
pub struct S3Store {
    /// The object_store client.
    pub store: Arc<AmazonS3>,
    http: reqwest::Client,
    settings: S3Settings,
    credential: Arc<AwsCredential>,
}

/// A multipart upload in progress, as ListMultipartUploads shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<SystemTime>,
}

impl S3Store {
    /// A client for the configured bucket (path-style addressing, http or https).
    pub fn new(s: &S3Settings) -> Result<Self> {
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(s.endpoint())
            .with_allow_http(s.scheme == "http")
            .with_virtual_hosted_style_request(false)
            .with_bucket_name(&s.bucket)
            .with_region(&s.region)
            .with_access_key_id(s.access_key.expose())
            .with_secret_access_key(s.secret_key.expose())
            .with_retry(retry)
            .build()
            .map_err(|e| Error::store(format!("s3 client for {}", s.endpoint()), e))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| Error::store("http client", e))?;
        Ok(S3Store {
            store: Arc::new(store),
            http,
            credential: Arc::new(AwsCredential {
                key_id: s.access_key.expose().to_string(),
                secret_key: s.secret_key.expose().to_string(),
                token: None,
            }),
            settings: s.clone(),
        })
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.settings.bucket
    }

    fn url(&self, key: &str, query: &[(&str, &str)]) -> Result<url::Url> {
        let mut u = url::Url::parse(&format!(
            "{}/{}/{}",
            self.settings.endpoint(),
            self.settings.bucket,
            key
        ))
        .map_err(|e| Error::store(format!("url for {key}"), e))?;
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                if v.is_empty() {
                    q.append_key_only(k);
                } else {
                    q.append_pair(k, v);
                }
            }
        }
        Ok(u)
    }

    fn what(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.settings.bucket)
    }
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store({})", self.bucket())
    }
}

#[async_trait::async_trait]
impl Store for S3Store {
    fn describe(&self) -> String {
        format!("s3://{}", self.settings.bucket)
    }
    fn location(&self, key: &str) -> String {
        self.what(key)
    }
    async fn check(&self) -> Result<()> {
        self.head_bucket().await
    }
    async fn present(&self) -> Result<()> {
        // Only a bucket that is not there is refused here: a key allowed to read objects but
        // not HeadBucket (ListBucket limited to a prefix, GetObject alone) still restores,
        // and a real refusal comes with the request that needs it.
        self.head_bucket_with(false).await
    }
    async fn get(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        check_key(key)?;
        let what = self.what(key);
        let got = self
            .store
            .get(&ObjPath::from(key))
            .await
            .map_err(|e| Error::store(format!("download {what}"), e))?;
        Ok(got
            .into_stream()
            .map_err(move |e| Error::store(format!("download {what}"), e))
            .boxed())
    }
    async fn read(&self, key: &str) -> Result<Option<Bytes>> {
        check_key(key)?;
        let what = self.what(key);
        let got = match self.store.get(&ObjPath::from(key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::store(format!("download {what}"), e)),
        };
        if got.meta.size > READ_LIMIT {
            return Err(Error::format(
                "store",
                format!(
                    "{what} has {} bytes: too large to read whole",
                    got.meta.size
                ),
            ));
        }
        got.bytes()
            .await
            .map(Some)
            .map_err(|e| Error::store(format!("download {what}"), e))
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        check_key(key)?;
        self.head_object(key).await
    }
    async fn scan(&self, prefix: &str) -> Result<(Vec<ObjectInfo>, Vec<Leftover>)> {
        // object_store lists by path segments: the folder the prefix names whole, filtered.
        let dir = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let listed: Vec<_> = self
            .store
            .list((!dir.is_empty()).then(|| ObjPath::from(dir)).as_ref())
            .try_collect()
            .await
            .map_err(|e| Error::store(format!("list {}", self.what(prefix)), e))?;
        let (mut objects, mut leftovers) = (Vec::new(), Vec::new());
        for m in listed {
            let k = m.location.to_string();
            if !k.starts_with(prefix) {
                continue;
            }
            match upload::staging_of(&k) {
                Some(staged) => leftovers.push(Leftover {
                    key: staged.to_string(),
                    kind: STAGING,
                    modified: Some(m.last_modified.into()),
                    id: None,
                    object: k,
                }),
                None => objects.push(ObjectInfo {
                    key: k,
                    size: m.size,
                    modified: m.last_modified.into(),
                    metadata: Default::default(),
                }),
            }
        }
        Ok((objects, leftovers))
    }
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let p = prefix.trim_end_matches('/');
        let listed = self
            .store
            .list_with_delimiter((!p.is_empty()).then(|| ObjPath::from(p)).as_ref())
            .await
            .map_err(|e| Error::store(format!("list {}", self.what(prefix)), e))?;
        Ok(listed
            .common_prefixes
            .into_iter()
            .filter_map(|d| d.filename().map(str::to_string))
            .collect())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&ObjPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::store(format!("delete {}", self.what(key)), e)),
        }
    }
    async fn upload(&self, key: &str) -> Result<Box<dyn Upload>> {
        check_key(key)?;
        Ok(Box::new(
            upload::S3Upload::create(Arc::new(self.clone()), key).await?,
        ))
    }
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        check_key(key)?;
        self.store
            .put(&ObjPath::from(key), bytes.into())
            .await
            .map(drop)
            .map_err(|e| Error::store(format!("upload {}", self.what(key)), e))
    }
    fn max_object_size(&self) -> Option<u64> {
        Some(self.settings.part_size * upload::MAX_PARTS)
    }
    async fn pending(&self, prefix: &str) -> Result<Vec<Leftover>> {
        let mut out: Vec<Leftover> = Vec::new();
        for u in self.list_multipart_uploads(prefix).await? {
            // Its age is that of its last part: a long backup started days ago is still alive.
            let last_part = match self.last_part_time(&u.key, &u.upload_id).await {
                Ok(t) => t,
                // Completed or aborted since it was listed: no longer pending.
                Err(e) if is_gone(&e) => continue,
                Err(e) => return Err(e),
            };
            out.push(Leftover {
                modified: last_part.into_iter().chain(u.initiated).max(),
                // An earlier version uploaded to a staging key: it belongs to the key staged.
                key: upload::staging_of(&u.key).unwrap_or(&u.key).to_string(),
                kind: PENDING,
                id: Some(u.upload_id),
                object: u.key,
            });
        }
        Ok(out)
    }
    async fn remove_leftover(&self, leftover: &Leftover) -> Result<()> {
        match (leftover.kind, &leftover.id) {
            (PENDING, Some(id)) => self.abort_upload(&leftover.object, id).await,
            (STAGING, None) if upload::is_staging(&leftover.object) => {
                self.delete(&leftover.object).await
            }
            _ => Err(Error::Refused(format!(
                "not a leftover of this store: {} ({})",
                leftover.key, leftover.kind
            ))),
        }
    }
}

/// Whether `e` says an upload no longer exists (S3 `NoSuchUpload`, 404).
pub fn is_gone(e: &Error) -> bool {
    e.store_answer()
        .is_some_and(|(status, code)| status == 404 || code == Some("NoSuchUpload"))
}

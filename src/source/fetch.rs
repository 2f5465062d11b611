//! Finding a stored backup (S3 or local store) and reading it as a stream, with the SHA-1
//! recorded at backup time (`x-amz-meta-sha1`, or the `.sha1` sidecar).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path as ObjPath;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::naming::{SUFFIX, day_prefix};
use crate::sink::local::sidecar_path;
use crate::store::s3::S3Store;

/// A stored backup, found.
#[derive(Clone, Debug)]
pub struct Located {
    /// `s3://bucket/key` or a path.
    pub location: String,
    /// The SHA-1 recorded when it was stored.
    pub sha1: String,
    where_: Where,
}

#[derive(Clone, Debug)]
enum Where {
    Local(PathBuf),
    S3(Arc<S3Store>, String),
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store({})", self.bucket())
    }
}

impl Located {
    /// The local file, when the backup is in the local store.
    pub fn local_path(&self) -> Option<&PathBuf> {
        match &self.where_ {
            Where::Local(p) => Some(p),
            Where::S3(..) => None,
        }
    }

    /// Opens the stored bytes as a stream.
    pub async fn open(&self) -> Result<BoxStream<'static, Result<Bytes>>> {
        match &self.where_ {
            Where::Local(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| Error::io("open", path, e))?;
                let p = path.clone();
                Ok(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
                    .map_err(move |e| Error::io("read", &p, e))
                    .boxed())
            }
            Where::S3(store, key) => {
                let what = self.location.clone();
                let got = store
                    .store
                    .get(&ObjPath::from(key.as_str()))
                    .await
                    .map_err(|e| Error::store(format!("download {what}"), e))?;
                Ok(got
                    .into_stream()
                    .map_err(move |e| Error::store(format!("download {what}"), e))
                    .boxed())
            }
        }
    }
}

/// Finds the backup to restore: `exact` (a key / relative path) if given, else the newest
/// backup of the port on `date_str`.
pub async fn locate(s: &Settings, exact: Option<&str>) -> Result<Located> {
    match &s.s3 {
        Some(cfg) => {
            let store = Arc::new(S3Store::new(cfg)?);
            let key = match exact {
                Some(k) => k.to_string(),
                None => {
                    let prefix = day_prefix(&s.date_str, s.port);
                    let list: Vec<_> = store
                        .store
                        .list(Some(&ObjPath::from(prefix.as_str())))
                        .try_collect()
                        .await
                        .map_err(|e| {
                            Error::store(format!("list s3://{}/{prefix}", store.bucket()), e)
                        })?;
                    list.into_iter()
                        .filter(|m| m.location.as_ref().ends_with(SUFFIX))
                        .max_by_key(|m| m.last_modified)
                        .map(|m| m.location.to_string())
                        .ok_or_else(|| {
                            Error::Refused(format!(
                                "no backup of port {} for {} in s3://{}/{prefix}",
                                s.port,
                                s.date_str,
                                store.bucket()
                            ))
                        })?
                }
            };
            let location = format!("s3://{}/{key}", store.bucket());
            let meta = store
                .head_metadata(&key)
                .await?
                .ok_or_else(|| Error::Refused(format!("no backup at {location}")))?;
            let sha1 = meta.get("sha1").cloned().ok_or_else(|| {
                Error::Refused(format!(
                    "{location} has no x-amz-meta-sha1: not a complete backup"
                ))
            })?;
            Ok(Located {
                location,
                sha1,
                where_: Where::S3(store, key),
            })
        }
        None => {
            let path = match exact {
                Some(k) => s.backup_base.join(k),
                None => {
                    let dir = s.backup_base.join(day_prefix(&s.date_str, s.port));
                    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
                    if let Ok(rd) = std::fs::read_dir(&dir) {
                        for e in rd.flatten() {
                            let p = e.path();
                            if p.to_string_lossy().ends_with(SUFFIX) {
                                let t = e
                                    .metadata()
                                    .and_then(|m| m.modified())
                                    .unwrap_or(std::time::UNIX_EPOCH);
                                if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                                    best = Some((t, p));
                                }
                            }
                        }
                    }
                    best.map(|(_, p)| p).ok_or_else(|| {
                        Error::Refused(format!(
                            "no backup of port {} for {} under {}",
                            s.port,
                            s.date_str,
                            dir.display()
                        ))
                    })?
                }
            };
            if !path.is_file() {
                return Err(Error::Refused(format!("no backup at {}", path.display())));
            }
            let side = sidecar_path(&path);
            let text = std::fs::read_to_string(&side)
                .map_err(|e| Error::io("read checksum sidecar (incomplete backup?)", &side, e))?;
            let sha1 = text
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            if sha1.len() != 40 {
                return Err(Error::format(
                    "sha1 sidecar",
                    format!("{} holds no SHA-1", side.display()),
                ));
            }
            Ok(Located {
                location: path.display().to_string(),
                sha1,
                where_: Where::Local(path),
            })
        }
    }
}

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
use crate::naming::{KeyParts, day_prefix, parse_key};
use crate::sink::local::sidecar_path;
use crate::store::s3::S3Store;

/// A stored backup, found.
#[derive(Clone, Debug)]
pub struct Located {
    /// `s3://bucket/key` or a path.
    pub location: String,
    /// The SHA-1 recorded when it was stored.
    pub sha1: String,
    /// What its key names (None for a key outside the naming scheme).
    pub parts: Option<KeyParts>,
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

/// Which backup a restore wants: an exact key, or the newest backup of the port by this host
/// and instance id (another host's or instance's only when named).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// An exact object key / path under `backup_base`.
    pub key: Option<String>,
    /// `--from-host`: a backup made on this host.
    pub from_host: Option<String>,
    /// `--from-instance`: a backup of this instance id.
    pub from_instance: Option<u32>,
}

impl Selection {
    /// Whether the backup named by `k` is one this selection wants.
    pub fn matches(&self, s: &Settings, k: &KeyParts) -> bool {
        k.port == s.port
            && match (&self.from_host, self.from_instance) {
                (None, None) => k.host == s.host && k.instance_id == s.instance_id,
                (Some(h), None) => &k.host == h,
                (None, Some(i)) => k.instance_id == i,
                (Some(h), Some(i)) => &k.host == h && k.instance_id == i,
            }
    }

    fn describe(&self, s: &Settings) -> String {
        let host = self
            .from_host
            .as_deref()
            .unwrap_or(match self.from_instance {
                Some(_) => "any host",
                None => &s.host,
            });
        let id = match (self.from_instance, &self.from_host) {
            (Some(i), _) => i.to_string(),
            (None, Some(_)) => "any".into(),
            (None, None) => s.instance_id.to_string(),
        };
        let day = if s.date_explicit {
            format!("on {}", s.date_str)
        } else {
            "on any day".into()
        };
        format!(
            "no backup of port {} by host {host}, instance {id}, {day}",
            s.port
        )
    }
}

/// The newest of `found` (key, modified) that `sel` wants.
fn newest_wanted(
    s: &Settings,
    sel: &Selection,
    found: impl IntoIterator<Item = (String, std::time::SystemTime)>,
) -> Option<String> {
    found
        .into_iter()
        .filter(|(k, _)| parse_key(k).is_some_and(|p| sel.matches(s, &p)))
        .max_by_key(|(k, t)| (*t, k.clone()))
        .map(|(k, _)| k)
}

/// Days to search, newest first: the one asked for, or every `YYYY_MM_DD` in `listed`.
fn days(s: &Settings, listed: impl IntoIterator<Item = String>) -> Vec<String> {
    if s.date_explicit {
        return vec![s.date_str.clone()];
    }
    let mut d: Vec<String> = listed
        .into_iter()
        .filter(|d| crate::config::validate_date_str(d.clone()).is_ok())
        .collect();
    d.sort();
    d.reverse();
    d
}

/// Parses the SHA-1 recorded beside a backup: 40 hex digits, either case (as `sha1sum`
/// accepts), returned in lower case.
pub fn parse_sha1(text: &str) -> Option<String> {
    let h = text.split_whitespace().next()?;
    (h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
}

/// Finds the backup to restore (see [`Selection`]): without an exact key, the newest backup
/// of the port by this host and instance on `date_str`, or on the newest day that has one
/// when no date was given.
pub async fn locate(s: &Settings, sel: &Selection) -> Result<Located> {
    match &s.s3 {
        Some(cfg) => {
            let store = Arc::new(S3Store::new(cfg)?);
            let bucket = store.bucket().to_string();
            let key = match &sel.key {
                Some(k) => k.clone(),
                None => {
                    let listed = if s.date_explicit {
                        Vec::new()
                    } else {
                        store
                            .store
                            .list_with_delimiter(None)
                            .await
                            .map_err(|e| Error::store(format!("list s3://{bucket}/"), e))?
                            .common_prefixes
                            .into_iter()
                            .map(|p| p.to_string())
                            .collect()
                    };
                    let mut chosen = None;
                    for day in days(s, listed) {
                        let prefix = day_prefix(&day, s.port);
                        let list: Vec<_> = store
                            .store
                            .list(Some(&ObjPath::from(prefix.as_str())))
                            .try_collect()
                            .await
                            .map_err(|e| Error::store(format!("list s3://{bucket}/{prefix}"), e))?;
                        chosen = newest_wanted(
                            s,
                            sel,
                            list.into_iter()
                                .map(|m| (m.location.to_string(), m.last_modified.into())),
                        );
                        if chosen.is_some() {
                            break;
                        }
                    }
                    chosen.ok_or_else(|| {
                        Error::Refused(format!("{} in s3://{bucket}", sel.describe(s)))
                    })?
                }
            };
            let location = format!("s3://{bucket}/{key}");
            let meta = store
                .head_metadata(&key)
                .await?
                .ok_or_else(|| Error::Refused(format!("no backup at {location}")))?;
            let sha1 = meta
                .get("sha1")
                .and_then(|v| parse_sha1(v))
                .ok_or_else(|| {
                    Error::Refused(format!(
                        "{location} has no valid x-amz-meta-sha1: not a complete backup"
                    ))
                })?;
            Ok(Located {
                location,
                sha1,
                parts: parse_key(&key),
                where_: Where::S3(store, key),
            })
        }
        None => {
            let path = match &sel.key {
                Some(k) => s.backup_base.join(k),
                None => {
                    let listed = std::fs::read_dir(&s.backup_base)
                        .map(|rd| {
                            rd.flatten()
                                .map(|e| e.file_name().to_string_lossy().into_owned())
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default();
                    let mut chosen = None;
                    for day in days(s, listed) {
                        let prefix = day_prefix(&day, s.port);
                        let found = std::fs::read_dir(s.backup_base.join(&prefix))
                            .map(|rd| {
                                rd.flatten()
                                    .map(|e| {
                                        let t = e
                                            .metadata()
                                            .and_then(|m| m.modified())
                                            .unwrap_or(std::time::UNIX_EPOCH);
                                        (format!("{prefix}{}", e.file_name().to_string_lossy()), t)
                                    })
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default();
                        chosen = newest_wanted(s, sel, found);
                        if chosen.is_some() {
                            break;
                        }
                    }
                    let key = chosen.ok_or_else(|| {
                        Error::Refused(format!(
                            "{} under {}",
                            sel.describe(s),
                            s.backup_base.display()
                        ))
                    })?;
                    s.backup_base.join(key)
                }
            };
            if !path.is_file() {
                return Err(Error::Refused(format!("no backup at {}", path.display())));
            }
            let side = sidecar_path(&path);
            let text = std::fs::read_to_string(&side)
                .map_err(|e| Error::io("read checksum sidecar (incomplete backup?)", &side, e))?;
            let sha1 = parse_sha1(&text).ok_or_else(|| {
                Error::format("sha1 sidecar", format!("{} holds no SHA-1", side.display()))
            })?;
            let parts = path
                .strip_prefix(&s.backup_base)
                .ok()
                .and_then(|rel| parse_key(&rel.to_string_lossy()));
            Ok(Located {
                location: path.display().to_string(),
                sha1,
                parts,
                where_: Where::Local(path),
            })
        }
    }
}

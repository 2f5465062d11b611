//! The local store: objects are files under a root directory (`backup_base`), written as
//! `<name>.partial` and renamed into place on commit, with a `sha256sum`-compatible
//! `<name>.sha256` sidecar, the rest of its metadata (chain, what the catalog records) in
//! `<name>.meta` (JSON), and last a `sha1sum`-compatible `<name>.sha1` sidecar: the commit
//! mark, without which a backup is incomplete.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::{Leftover, Metadata, ObjectInfo, Store, Upload, parse_sha1};
use crate::error::{Error, Result};

mod upload;
pub use upload::LocalUpload;

/// A directory of backups.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The sidecar that holds a local backup's SHA-1 (`sha1sum -c` reads it).
pub fn sidecar_path(backup: &Path) -> PathBuf {
    with_suffix(backup, ".sha1")
}

/// The sidecar that holds a local backup's SHA-256 (`sha256sum -c` reads it).
pub fn sha256_sidecar_path(backup: &Path) -> PathBuf {
    with_suffix(backup, ".sha256")
}

/// The sidecar that holds a local backup's other metadata (JSON).
fn meta_path(backup: &Path) -> PathBuf {
    with_suffix(backup, ".meta")
}

/// Names that are not objects: sidecars and partial files.
fn is_object_name(name: &str) -> bool {
    ![".sha1", ".sha256", ".meta", ".partial"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// How deep keys go: `{date}/{port}/{name}`.
const KEY_DEPTH: usize = 3;

/// Every file under `dir` down to [`KEY_DEPTH`] levels below `root`, as keys relative to
/// `root` (with `/`), but names starting with a dot. Symlinks are followed (a day may live on another disk); an entry that
/// cannot be read fails the walk: a listing that missed part of the store must not pass for
/// complete. A missing `dir` holds nothing.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, std::fs::Metadata)>) -> Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let depth = dir.strip_prefix(root).map_or(0, |r| r.components().count());
    for e in rd {
        let p = e.map_err(|e| Error::io("list", dir, e))?.path();
        // No key starts with a dot: probes and verify's scratch dirs do.
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let meta = std::fs::metadata(&p).map_err(|e| Error::io("stat", &p, e))?;
        if meta.is_dir() {
            if depth + 1 < KEY_DEPTH {
                walk(root, &p, out)?;
            }
        } else if meta.is_file()
            && let Ok(rel) = p.strip_prefix(root)
        {
            out.push((rel.to_string_lossy().into_owned(), meta));
        }
    }
    Ok(())
}

/// The deepest directory `prefix` names whole (`2017_01_01/3306/` or `2017_01_01/33` ->
/// `2017_01_01`), where a walk for it starts.
fn walk_start(root: &Path, prefix: &str) -> PathBuf {
    match prefix.rsplit_once('/') {
        Some((dir, _)) if !dir.is_empty() => root.join(dir),
        _ => root.to_path_buf(),
    }
}

impl LocalStore {
    /// The store under `root` (created by the first upload).
    pub fn new(root: &Path) -> Self {
        LocalStore {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if crate::archive::xbstream::check_path(key).is_err() {
            return Err(Error::Refused(format!("not a key: {key:?}")));
        }
        Ok(self.root.join(key))
    }

    /// The metadata of the backup at `path`, from its sidecars. A sidecar that is absent is
    /// no metadata; one that cannot be read, or a `.meta` that is not JSON, is an error (a
    /// listing must not take a backup it could not read for an incomplete one).
    fn metadata_of(path: &Path) -> Result<Metadata> {
        let read = |p: PathBuf| match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", p, e)),
        };
        let mut m: Metadata = match read(meta_path(path))? {
            Some(t) => serde_json::from_str(&t).map_err(|e| {
                Error::format(
                    "metadata",
                    format!(
                        "{} is not a metadata sidecar: {e}",
                        meta_path(path).display()
                    ),
                )
            })?,
            None => Metadata::new(),
        };
        // The sha1sum/sha256sum sidecars are what the digests are checked against.
        m.remove("sha1");
        m.remove("sha256");
        if let Some(sha1) = read(sidecar_path(path))?.and_then(|t| parse_sha1(&t)) {
            m.insert("sha1".into(), sha1);
        }
        if let Some(sha256) = read(sha256_sidecar_path(path))?.and_then(|t| {
            let h = t.split_whitespace().next()?.to_ascii_lowercase();
            (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then_some(h)
        }) {
            m.insert("sha256".into(), sha256);
        }
        Ok(m)
    }
}

#[async_trait::async_trait]
impl Store for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }
    fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
    async fn check(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| Error::io("create the local store", &self.root, e))?;
        let probe = self
            .root
            .join(format!(".mysqlbackup-probe-{}", std::process::id()));
        std::fs::write(&probe, b"")
            .map_err(|e| Error::io("write to the local store", &self.root, e))?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let path = self.path(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Error::io("open", &path, e))?;
        Ok(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
            .map_err(move |e| Error::io("read", &path, e))
            .boxed())
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let path = self.path(key)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(ObjectInfo {
                key: key.to_string(),
                size: m.len(),
                modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                metadata: Self::metadata_of(&path)?,
                damaged: None,
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("stat", &path, e)),
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut files = Vec::new();
        if crate::archive::xbstream::check_path(prefix.trim_end_matches('/')).is_err()
            && !prefix.is_empty()
        {
            return Err(Error::Refused(format!("not a key prefix: {prefix:?}")));
        }
        walk(&self.root, &walk_start(&self.root, prefix), &mut files)?;
        files
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix) && is_object_name(k))
            .map(|(k, m)| {
                // One unreadable sidecar damages its backup's entry, not the whole listing
                // (which would block every other instance's list, restore and expire).
                let (metadata, damaged) = match Self::metadata_of(&self.root.join(&k)) {
                    Ok(md) => (md, None),
                    Err(e) => (
                        Metadata::new(),
                        Some(crate::error::report_lines(&e).join(": ")),
                    ),
                };
                Ok(ObjectInfo {
                    metadata,
                    damaged,
                    size: m.len(),
                    modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    key: k,
                })
            })
            .collect()
    }
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = self.root.join(prefix);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| Error::io("list", &dir, e))?;
            let p = e.path();
            let meta = std::fs::metadata(&p).map_err(|e| Error::io("stat", &p, e))?;
            if meta.is_dir() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        // The SHA-1 first: interrupted here, what remains is not a complete backup.
        for p in [
            sidecar_path(&path),
            sha256_sidecar_path(&path),
            path.clone(),
            meta_path(&path),
        ] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &p, e)),
            }
        }
        remove_empty_parents(&self.root, &path);
        Ok(())
    }
    async fn upload(&self, key: &str) -> Result<Box<dyn Upload>> {
        Ok(Box::new(
            LocalUpload::create(&self.root, &self.path(key)?).await?,
        ))
    }
    async fn leftovers(&self) -> Result<Vec<Leftover>> {
        let mut files = Vec::new();
        walk(&self.root, &self.root, &mut files)?;
        Ok(files
            .into_iter()
            .filter(|(k, _)| k.ends_with(".partial"))
            .map(|(k, m)| Leftover {
                key: k,
                kind: "partial file",
                id: None,
                modified: m.modified().ok(),
            })
            .collect())
    }
    async fn remove_leftover(&self, leftover: &Leftover) -> Result<()> {
        let path = self.path(&leftover.key)?;
        std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        remove_empty_parents(&self.root, &path);
        Ok(())
    }
    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path(key).ok()
    }
}

/// Removes the empty directories between `path` and `root` (a date/port dir whose last
/// object went).
fn remove_empty_parents(root: &Path, path: &Path) {
    for d in path.ancestors().skip(1) {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
    }
}

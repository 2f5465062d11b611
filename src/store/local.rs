//! The local store: objects are files under a root directory (`backup_base`), written as
//! `<name>.partial` and renamed into place on commit, with a `sha1sum`-compatible
//! `<name>.sha1` sidecar, a `sha256sum`-compatible `<name>.sha256` one, and the rest of its
//! metadata (chain, what the catalog records) in `<name>.meta` (JSON).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

use super::{Leftover, Metadata, ObjectInfo, Store, StoredReport, Upload, parse_sha1};
use crate::error::{Error, Result};

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

/// Every file under `dir`, as keys relative to `root` (with `/`).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, std::fs::Metadata)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &p, out);
        } else if meta.is_file()
            && let Ok(rel) = p.strip_prefix(root)
        {
            out.push((rel.to_string_lossy().into_owned(), meta));
        }
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

    fn metadata_of(path: &Path) -> Metadata {
        let mut m: Metadata = std::fs::read_to_string(meta_path(path))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        // The sha1sum/sha256sum sidecars are what the digests are checked against.
        m.remove("sha1");
        m.remove("sha256");
        if let Some(sha1) = std::fs::read_to_string(sidecar_path(path))
            .ok()
            .and_then(|t| parse_sha1(&t))
        {
            m.insert("sha1".into(), sha1);
        }
        if let Some(sha256) = std::fs::read_to_string(sha256_sidecar_path(path))
            .ok()
            .and_then(|t| {
                let h = t.split_whitespace().next()?.to_ascii_lowercase();
                (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then_some(h)
            })
        {
            m.insert("sha256".into(), sha256);
        }
        m
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
                metadata: Self::metadata_of(&path),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("stat", &path, e)),
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut files = Vec::new();
        walk(&self.root, &self.root, &mut files);
        Ok(files
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix) && is_object_name(k))
            .map(|(k, m)| ObjectInfo {
                metadata: Self::metadata_of(&self.root.join(&k)),
                size: m.len(),
                modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                key: k,
            })
            .collect())
    }
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = self.root.join(prefix);
        Ok(std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        for p in [
            sha256_sidecar_path(&path),
            sidecar_path(&path),
            path.clone(),
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
        walk(&self.root, &self.root, &mut files);
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

/// Writes `{root}/{key}` atomically.
pub struct LocalUpload {
    final_path: PathBuf,
    partial_path: PathBuf,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    /// Directories `create` made (`{date}`, `{date}/{port}`), deepest last: an aborted
    /// upload removes them again when they are empty.
    made_dirs: Vec<PathBuf>,
}

impl LocalUpload {
    /// Opens `{path}.partial`; fails if it exists (a backup removes leftovers of interrupted
    /// runs under the instance lock first, so this means another writer).
    async fn create(root: &Path, final_path: &Path) -> Result<Self> {
        let partial_path = with_suffix(final_path, ".partial");
        let mut made_dirs: Vec<PathBuf> = final_path
            .parent()
            .into_iter()
            .flat_map(Path::ancestors)
            .take_while(|d| d.starts_with(root) && *d != root && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        made_dirs.reverse();
        if let Some(dir) = final_path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io("create directory", dir, e))?;
        }
        let mut upload = LocalUpload {
            final_path: final_path.to_path_buf(),
            partial_path,
            file: None,
            made_dirs,
        };
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&upload.partial_path)
            .await
        {
            Ok(file) => {
                upload.file = Some(tokio::io::BufWriter::with_capacity(1 << 20, file));
                Ok(upload)
            }
            Err(e) => {
                upload.remove_made_dirs();
                Err(Error::io("create", &upload.partial_path, e))
            }
        }
    }

    /// Removes the directories `create` made, if nothing else was put in them meanwhile.
    fn remove_made_dirs(&self) {
        for d in self.made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }

    /// Writes `text` to `path` through a fsync'd partial file and a rename.
    async fn write_synced(path: &Path, text: &str) -> std::io::Result<()> {
        let tmp = with_suffix(path, ".partial");
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(text.as_bytes()).await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, path).await
    }
}

#[async_trait::async_trait]
impl Upload for LocalUpload {
    fn describe(&self) -> String {
        self.final_path.display().to_string()
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let f = self.file.as_mut().expect("open until commit/abort");
        f.write_all(&chunk)
            .await
            .map_err(|e| Error::io("write", &self.partial_path, e))
    }
    async fn commit(mut self: Box<Self>, metadata: Metadata, size: u64) -> Result<StoredReport> {
        let sha1 = metadata.get("sha1").cloned().unwrap_or_default();
        let mut f = self.file.take().expect("open until commit/abort");
        let done = async {
            f.flush().await?;
            f.get_mut().sync_all().await?;
            drop(f);
            let name = self
                .final_path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            // The sidecar first: a backup is found by its name, so once it is visible its
            // checksum is there too (a crash between leaves a sidecar alone, which no restore
            // picks and the next backup of the key replaces).
            Self::write_synced(
                &sidecar_path(&self.final_path),
                &format!("{sha1}  {name}\n"),
            )
            .await?;
            if let Some(sha256) = metadata.get("sha256") {
                Self::write_synced(
                    &sha256_sidecar_path(&self.final_path),
                    &format!("{sha256}  {name}\n"),
                )
                .await?;
            }
            let meta = serde_json::to_string_pretty(&metadata).unwrap_or_default();
            Self::write_synced(&meta_path(&self.final_path), &meta).await?;
            tokio::fs::rename(&self.partial_path, &self.final_path).await?;
            if let Some(dir) = self.final_path.parent() {
                tokio::fs::File::open(dir).await?.sync_all().await?;
            }
            Ok::<_, std::io::Error>(())
        }
        .await;
        if let Err(e) = done {
            let _ = tokio::fs::remove_file(&self.partial_path).await;
            return Err(Error::io("commit", &self.final_path, e));
        }
        Ok(StoredReport {
            location: self.final_path.display().to_string(),
            size,
            sha1,
        })
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        drop(self.file.take());
        let r = match tokio::fs::remove_file(&self.partial_path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &self.partial_path, e)),
        };
        self.remove_made_dirs();
        r
    }
}

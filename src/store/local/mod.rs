//! The local store: objects are files under a root directory (`backup_base`), at any depth,
//! written as `<name>.partial` and renamed into place on commit (fsync'd, then the directory):
//! a file without the `.partial` suffix is complete. A `.partial` file is what a killed upload
//! left ([`Store::leftovers`]); names starting with a dot are not objects (probes, verify's
//! scratch dirs).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::{Leftover, ObjectInfo, READ_LIMIT, Store, Upload, check_key};
use crate::error::{Error, Result};

mod upload;
pub use upload::LocalUpload;

/// What an upload writes before its commit renames it into place.
const PARTIAL: &str = ".partial";

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

/// Every file under `dir`, as keys relative to `root` (with `/`), but names starting with a
/// dot. Symlinks are followed (a day may live on another disk), each directory once (a link
/// loop ends); an entry that cannot be read fails the walk: a listing that missed part of the
/// store must not pass for complete. A missing `dir` holds nothing.
fn walk(
    root: &Path,
    dir: &Path,
    seen: &mut HashSet<(u64, u64)>,
    out: &mut Vec<(String, std::fs::Metadata)>,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    if let Ok(m) = std::fs::metadata(dir)
        && !seen.insert((m.dev(), m.ino()))
    {
        return Ok(());
    }
    for e in rd {
        let p = e.map_err(|e| Error::io("list", dir, e))?.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let meta = std::fs::metadata(&p).map_err(|e| Error::io("stat", &p, e))?;
        if meta.is_dir() {
            walk(root, &p, seen, out)?;
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
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Every file under the directory `prefix` names.
    fn files(&self, prefix: &str) -> Result<Vec<(String, std::fs::Metadata)>> {
        let dir = prefix.trim_end_matches('/');
        if !dir.is_empty() {
            check_key(dir).map_err(|_| Error::Refused(format!("not a key prefix: {prefix:?}")))?;
        }
        let mut files = Vec::new();
        walk(
            &self.root,
            &walk_start(&self.root, prefix),
            &mut HashSet::new(),
            &mut files,
        )?;
        files.retain(|(k, _)| k.starts_with(prefix));
        Ok(files)
    }
}

fn modified(m: &std::fs::Metadata) -> SystemTime {
    m.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

#[async_trait::async_trait]
impl Store for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }
    fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
    async fn present(&self) -> Result<()> {
        match std::fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(Error::Config(format!(
                "the local store {} is not a directory: check conf backup_base (or \
                 --backup-base)",
                self.root.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Config(format!(
                "the local store {} does not exist: check conf backup_base (or --backup-base); \
                 the first backup into a new store creates it with `backup --init`",
                self.root.display()
            ))),
            Err(e) => Err(Error::io("look at the local store", &self.root, e)),
        }
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
    async fn read(&self, key: &str) -> Result<Option<Bytes>> {
        let path = self.path(key)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() > READ_LIMIT => Err(Error::format(
                "store",
                format!(
                    "{} has {} bytes: too large to read whole",
                    path.display(),
                    m.len()
                ),
            )),
            Ok(m) if m.is_file() => std::fs::read(&path)
                .map(|b| Some(Bytes::from(b)))
                .map_err(|e| Error::io("read", &path, e)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("stat", &path, e)),
        }
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let path = self.path(key)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(ObjectInfo {
                key: key.to_string(),
                size: m.len(),
                modified: modified(&m),
                metadata: Default::default(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("stat", &path, e)),
        }
    }
    async fn scan(&self, prefix: &str) -> Result<(Vec<ObjectInfo>, Vec<Leftover>)> {
        let (mut objects, mut leftovers) = (Vec::new(), Vec::new());
        for (k, m) in self.files(prefix)? {
            match k.strip_suffix(PARTIAL) {
                Some(key) => leftovers.push(Leftover {
                    key: key.to_string(),
                    kind: "partial file",
                    modified: m.modified().ok(),
                    id: None,
                    object: k,
                }),
                None => objects.push(ObjectInfo {
                    size: m.len(),
                    modified: modified(&m),
                    metadata: Default::default(),
                    key: k,
                }),
            }
        }
        Ok((objects, leftovers))
    }
    async fn pending(&self, _prefix: &str) -> Result<Vec<Leftover>> {
        // An upload here is a partial file, which scan finds.
        Ok(Vec::new())
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
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let p = e.path();
            let meta = std::fs::metadata(&p).map_err(|e| Error::io("stat", &p, e))?;
            if meta.is_dir() {
                out.push(name);
            }
        }
        Ok(out)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", &path, e)),
        }
        remove_empty_parents(&self.root, &path);
        Ok(())
    }
    async fn upload(&self, key: &str) -> Result<Box<dyn Upload>> {
        Ok(Box::new(
            LocalUpload::create(&self.root, &self.path(key)?, false).await?,
        ))
    }
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let mut upload = LocalUpload::create(&self.root, &self.path(key)?, true).await?;
        if let Err(e) = upload.write(bytes).await {
            let _ = Box::new(upload).abort().await;
            return Err(e);
        }
        Box::new(upload).commit().await.map(drop)
    }
    async fn remove_leftover(&self, leftover: &Leftover) -> Result<()> {
        let partial = &leftover.object;
        if !partial.ends_with(PARTIAL) {
            return Err(Error::Refused(format!("not a partial file: {partial}")));
        }
        let path = self.path(partial)?;
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

//! The local store: a file under `backup_base`, written as `<name>.partial` and renamed into
//! place on commit, with a `sha1sum`-compatible `<name>.sha1` sidecar.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{Sink, StoredReport};
use crate::error::{Error, Result};

/// Writes `{root}/{key}` atomically.
pub struct LocalSink {
    final_path: PathBuf,
    partial_path: PathBuf,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    /// Directories `create` made (`{date}`, `{date}/{port}`), deepest last: an aborted
    /// backup removes them again when they are empty.
    made_dirs: Vec<PathBuf>,
}

/// The sidecar that holds a local backup's SHA-1 (`sha1sum -c` reads it).
pub fn sidecar_path(backup: &Path) -> PathBuf {
    let mut s = backup.as_os_str().to_owned();
    s.push(".sha1");
    PathBuf::from(s)
}

fn partial_path(backup: &Path) -> PathBuf {
    let mut s = backup.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Removes what interrupted (e.g. killed) backups of the instance whose key is `key` left
/// under `root` on any day: `{name}.partial` and `{name}.sha1.partial` in `{date}/{port}/`.
/// Call only under the instance lock (see [`crate::sink::s3::remove_leftovers`]). Returns the
/// paths removed; failures are logged, not fatal.
pub async fn remove_leftovers(root: &Path, key: &str) -> Vec<String> {
    let mut removed = Vec::new();
    let Some(port) = key.split('/').nth(1) else {
        return removed;
    };
    let Ok(days) = std::fs::read_dir(root) else {
        return removed;
    };
    for day in days.flatten() {
        let dir = day.path().join(port);
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in files.flatten() {
            let rel = format!(
                "{}/{port}/{}",
                day.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            );
            if crate::naming::is_leftover_of(&rel, key) {
                match tokio::fs::remove_file(f.path()).await {
                    Ok(()) => removed.push(f.path().display().to_string()),
                    Err(e) => {
                        tracing::warn!("could not remove leftover {}: {e}", f.path().display())
                    }
                }
            }
        }
    }
    removed
}

impl LocalSink {
    /// Opens `{root}/{key}.partial`; fails if it exists (the backup command removes leftovers
    /// of interrupted runs under the instance lock first, so this means another writer).
    pub async fn create(root: &Path, key: &str) -> Result<Self> {
        let final_path = root.join(key);
        let partial_path = partial_path(&final_path);
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
        let mut sink = LocalSink {
            final_path,
            partial_path,
            file: None,
            made_dirs,
        };
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&sink.partial_path)
            .await
        {
            Ok(file) => {
                sink.file = Some(tokio::io::BufWriter::with_capacity(1 << 20, file));
                Ok(sink)
            }
            Err(e) => {
                sink.remove_made_dirs();
                Err(Error::io("create", &sink.partial_path, e))
            }
        }
    }
}

#[async_trait::async_trait]
impl Sink for LocalSink {
    fn describe(&self) -> String {
        self.final_path.display().to_string()
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let f = self.file.as_mut().expect("open until commit/abort");
        f.write_all(&chunk)
            .await
            .map_err(|e| Error::io("write", &self.partial_path, e))
    }
    async fn commit(mut self: Box<Self>, sha1: &str, size: u64) -> Result<StoredReport> {
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
            let side = sidecar_path(&self.final_path);
            let side_tmp = partial_path(&side);
            let mut f = tokio::fs::File::create(&side_tmp).await?;
            f.write_all(format!("{sha1}  {name}\n").as_bytes()).await?;
            f.sync_all().await?;
            drop(f);
            // The sidecar first: a backup is found by its name, so once it is visible its
            // checksum is there too (a crash between leaves a sidecar alone, which no restore
            // picks and the next backup of the key replaces).
            tokio::fs::rename(&side_tmp, &side).await?;
            tokio::fs::rename(&self.partial_path, &self.final_path).await?;
            if let Some(dir) = self.final_path.parent() {
                tokio::fs::File::open(dir).await?.sync_all().await?;
            }
            Ok::<_, std::io::Error>(())
        }
        .await;
        if let Err(e) = done {
            let _ = tokio::fs::remove_file(&self.partial_path).await;
            let _ = tokio::fs::remove_file(partial_path(&sidecar_path(&self.final_path))).await;
            return Err(Error::io("commit", &self.final_path, e));
        }
        Ok(StoredReport {
            location: self.final_path.display().to_string(),
            size,
            sha1: sha1.to_string(),
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

impl LocalSink {
    /// Removes the directories `create` made, if nothing else was put in them meanwhile.
    fn remove_made_dirs(&self) {
        for d in self.made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

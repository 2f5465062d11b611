//! A local upload: `<name>.partial`, fsync'd and renamed into place on commit.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{PARTIAL, with_suffix};
use crate::error::{Error, Result};
use crate::store::{StoredObject, Upload};

/// Bytes written between two write-backs started beside the writes.
const WRITE_BACK: u64 = 64 << 20;

/// Waits for a write-back; its failure is the upload's.
async fn join_sync(h: tokio::task::JoinHandle<std::io::Result<()>>, path: &Path) -> Result<()> {
    match h.await {
        Ok(r) => r.map_err(|e| Error::io("sync", path, e)),
        Err(e) => Err(Error::io("sync", path, std::io::Error::other(e))),
    }
}

/// Writes `{root}/{key}` atomically.
pub struct LocalUpload {
    key: String,
    final_path: PathBuf,
    partial_path: PathBuf,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    size: u64,
    /// Bytes written since the last write-back was started.
    unsynced: u64,
    /// A write-back of what was written so far, running beside the writes (so that the
    /// commit's fsync finds little left to write).
    syncing: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Directories `create` made (`{date}`, `{date}/{port}`), deepest last: an aborted
    /// upload removes them again when they are empty.
    made_dirs: Vec<PathBuf>,
}

impl LocalUpload {
    /// Opens `{path}.partial`. An upload fails if it exists (a backup removes leftovers of
    /// interrupted runs under the instance lock first, so this means another writer); a small
    /// whole object (`replace`: [`crate::store::Store::put`]) takes the place of one a killed
    /// put left.
    pub(super) async fn create(root: &Path, final_path: &Path, replace: bool) -> Result<Self> {
        let partial_path = with_suffix(final_path, PARTIAL);
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
            key: final_path
                .strip_prefix(root)
                .unwrap_or(final_path)
                .to_string_lossy()
                .into_owned(),
            final_path: final_path.to_path_buf(),
            partial_path,
            file: None,
            size: 0,
            unsynced: 0,
            syncing: None,
            made_dirs,
        };
        let mut open = tokio::fs::OpenOptions::new();
        open.write(true);
        if replace {
            open.create(true).truncate(true);
        } else {
            open.create_new(true);
        }
        match open.open(&upload.partial_path).await {
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
}

#[async_trait::async_trait]
impl Upload for LocalUpload {
    fn describe(&self) -> String {
        self.final_path.display().to_string()
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let f = self.file.as_mut().expect("open until commit/abort");
        self.size += chunk.len() as u64;
        self.unsynced += chunk.len() as u64;
        f.write_all(&chunk)
            .await
            .map_err(|e| Error::io("write", &self.partial_path, e))?;
        if self.unsynced >= WRITE_BACK && self.syncing.as_ref().is_none_or(|h| h.is_finished()) {
            if let Some(h) = self.syncing.take() {
                join_sync(h, &self.partial_path).await?;
            }
            let f = self.file.as_mut().expect("open until commit/abort");
            f.flush()
                .await
                .map_err(|e| Error::io("write", &self.partial_path, e))?;
            let handle = f
                .get_ref()
                .try_clone()
                .await
                .map_err(|e| Error::io("write", &self.partial_path, e))?
                .into_std()
                .await;
            self.syncing = Some(tokio::task::spawn_blocking(move || handle.sync_data()));
            self.unsynced = 0;
        }
        Ok(())
    }
    async fn commit(mut self: Box<Self>) -> Result<Vec<StoredObject>> {
        let mut f = self.file.take().expect("open until commit/abort");
        if let Some(h) = self.syncing.take() {
            join_sync(h, &self.partial_path).await?;
        }
        let done = async {
            f.flush().await?;
            f.get_mut().sync_all().await?;
            drop(f);
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
        Ok(vec![StoredObject {
            key: self.key.clone(),
            size: self.size,
        }])
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        drop(self.file.take());
        if let Some(h) = self.syncing.take() {
            let _ = h.await;
        }
        let r = match tokio::fs::remove_file(&self.partial_path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &self.partial_path, e)),
        };
        self.remove_made_dirs();
        r
    }
}

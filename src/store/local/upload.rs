//! A local upload: `<name>.partial`, renamed into place with its sidecars on commit.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{meta_path, sha256_sidecar_path, sidecar_path, with_suffix};
use crate::error::{Error, Result};
use crate::store::{Metadata, StoredReport, Upload};

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
    pub(super) async fn create(root: &Path, final_path: &Path) -> Result<Self> {
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
            // The `.sha1` sidecar is the commit mark, written last: a backup without it is
            // incomplete (list shows it so, restore refuses it). So an old backup of the key
            // loses its mark first, and a crash anywhere leaves an incomplete backup, never a
            // checksum beside bytes it does not belong to.
            let dir = self.final_path.parent().map(Path::to_path_buf);
            let sync_dir = || async {
                if let Some(dir) = &dir {
                    tokio::fs::File::open(dir).await?.sync_all().await?;
                }
                Ok::<_, std::io::Error>(())
            };
            match tokio::fs::remove_file(sidecar_path(&self.final_path)).await {
                Ok(()) => sync_dir().await?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            match metadata.get("sha256") {
                Some(sha256) => {
                    Self::write_synced(
                        &sha256_sidecar_path(&self.final_path),
                        &format!("{sha256}  {name}\n"),
                    )
                    .await?
                }
                None => match tokio::fs::remove_file(sha256_sidecar_path(&self.final_path)).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                },
            }
            let meta = serde_json::to_string_pretty(&metadata).unwrap_or_default();
            Self::write_synced(&meta_path(&self.final_path), &meta).await?;
            tokio::fs::rename(&self.partial_path, &self.final_path).await?;
            Self::write_synced(
                &sidecar_path(&self.final_path),
                &format!("{sha1}  {name}\n"),
            )
            .await?;
            sync_dir().await?;
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

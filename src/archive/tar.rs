//! Writing the tar stream: entries of known size become 512-byte GNU headers, content and
//! padding, sent down a pipe as they are produced. Each entry's size and SHA-1 is recorded for
//! the manifest.

use ::tar::{EntryType, Header};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::manifest::{DataStream, EntryRecord};
use crate::codec::sha1::Sha1Digest;
use crate::codec::{CHUNK_SIZE, PipeTx};
use crate::error::{Error, Result};

const BLOCK: usize = 512;

/// Builds the 512-byte header of a regular file entry.
pub fn file_header(name: &str, size: u64, mode: u32, mtime: u64) -> Result<[u8; BLOCK]> {
    let mut h = Header::new_gnu();
    h.set_path(name)
        .map_err(|e| Error::format("tar", format!("entry name {name:?}: {e}")))?;
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(EntryType::Regular);
    h.set_cksum();
    Ok(*h.as_bytes())
}

/// Zero bytes that pad an entry of `size` bytes to a whole block.
fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// Writes tar entries down a pipe.
pub struct TarWriter {
    tx: PipeTx,
    mtime: u64,
    entries: Vec<EntryRecord>,
    bytes: u64,
    data: crc32fast::Hasher,
    data_size: u64,
    segments: u64,
}

impl TarWriter {
    /// A writer sending to `tx`, stamping entries with `mtime` (seconds since the epoch).
    pub fn new(tx: PipeTx, mtime: u64) -> Self {
        TarWriter {
            tx,
            mtime,
            entries: Vec::new(),
            bytes: 0,
            data: crc32fast::Hasher::new(),
            data_size: 0,
            segments: 0,
        }
    }

    async fn send(&mut self, b: Bytes) -> Result<()> {
        self.bytes += b.len() as u64;
        self.tx.send(b).await.map_err(|_| Error::PipeClosed("tar"))
    }

    /// Bytes of tar stream written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Appends a segment of the data stream held in memory as separate pieces (each at most
    /// [`CHUNK_SIZE`]): each is sent and freed on its own, so a piece in a pipe never keeps a
    /// whole segment alive. Segments are not listed among the entries: they count in
    /// [`TarWriter::data_stream`], whose size does not grow with the backup.
    pub async fn append_segment(&mut self, name: &str, chunks: Vec<Bytes>) -> Result<()> {
        let size: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        self.send(Bytes::copy_from_slice(&file_header(
            name, size, 0o640, self.mtime,
        )?))
        .await?;
        for c in chunks {
            self.data.update(&c);
            self.data_size += c.len() as u64;
            self.send(c).await?;
        }
        let pad = padding(size);
        if pad > 0 {
            self.send(Bytes::from(vec![0u8; pad])).await?;
        }
        self.segments += 1;
        Ok(())
    }

    /// The data segments written so far.
    pub fn data_stream(&self) -> DataStream {
        DataStream {
            segments: self.segments,
            size: self.data_size,
            crc32: format!("{:08x}", self.data.clone().finalize()),
        }
    }

    /// Appends an entry held in memory.
    pub async fn append(&mut self, name: &str, data: Bytes) -> Result<()> {
        let size = data.len() as u64;
        self.send(Bytes::copy_from_slice(&file_header(
            name, size, 0o640, self.mtime,
        )?))
        .await?;
        let mut digest = Sha1Digest::new();
        let mut off = 0;
        while off < data.len() {
            let piece = data.slice(off..(off + CHUNK_SIZE).min(data.len()));
            digest.update(&piece);
            off += piece.len();
            self.send(piece).await?;
        }
        self.end_entry(name, size, digest).await
    }

    /// Appends an entry of exactly `size` bytes read from `reader`; fewer or more bytes is an
    /// error (the file changed while being read).
    pub async fn append_reader<R: AsyncRead + Unpin>(
        &mut self,
        name: &str,
        size: u64,
        mut reader: R,
    ) -> Result<()> {
        self.send(Bytes::copy_from_slice(&file_header(
            name, size, 0o640, self.mtime,
        )?))
        .await?;
        let mut digest = Sha1Digest::new();
        let mut left = size;
        while left > 0 {
            let mut buf = vec![0u8; (left.min(CHUNK_SIZE as u64)) as usize];
            reader.read_exact(&mut buf).await.map_err(|e| {
                Error::stage(
                    "tar",
                    format!("reading {name}: {e} (file shrank while read?)"),
                )
            })?;
            digest.update(&buf);
            left -= buf.len() as u64;
            self.send(Bytes::from(buf)).await?;
        }
        let mut probe = [0u8; 1];
        if reader
            .read(&mut probe)
            .await
            .map_err(|e| Error::stage("tar", format!("reading {name}: {e}")))?
            != 0
        {
            return Err(Error::stage("tar", format!("{name} grew while being read")));
        }
        self.end_entry(name, size, digest).await
    }

    async fn end_entry(&mut self, name: &str, size: u64, digest: Sha1Digest) -> Result<()> {
        let pad = padding(size);
        if pad > 0 {
            self.send(Bytes::from(vec![0u8; pad])).await?;
        }
        self.entries.push(EntryRecord {
            name: name.to_string(),
            size,
            sha1: digest.hex(),
        });
        Ok(())
    }

    /// Entries written so far.
    pub fn entries(&self) -> &[EntryRecord] {
        &self.entries
    }

    /// Writes the end-of-archive marker (two zero blocks).
    pub async fn finish(mut self) -> Result<Vec<EntryRecord>> {
        self.send(Bytes::from(vec![0u8; 2 * BLOCK])).await?;
        Ok(self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gnu_tar_lists_and_extracts_our_stream() {
        let (tx, mut rx) = crate::codec::pipe();
        let collector = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(b) = rx.recv().await {
                all.extend_from_slice(&b);
            }
            all
        });
        let mut w = TarWriter::new(tx, 1_600_000_000);
        w.append("my.cnf", Bytes::from_static(b"[mysqld]\n"))
            .await
            .unwrap();
        let big: Vec<u8> = (0..CHUNK_SIZE * 2 + 5).map(|i| (i % 241) as u8).collect();
        w.append_reader("binlog/binlog.000001", big.len() as u64, &big[..])
            .await
            .unwrap();
        w.append("empty", Bytes::new()).await.unwrap();
        let entries = w.finish().await.unwrap();
        assert_eq!(entries.len(), 3);
        let tar = collector.await.unwrap();
        assert_eq!(tar.len() % 512, 0);

        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("tar")
            .args(["-x", "-C"])
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &tar).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        assert_eq!(
            std::fs::read(dir.path().join("my.cnf")).unwrap(),
            b"[mysqld]\n"
        );
        assert_eq!(
            std::fs::read(dir.path().join("binlog/binlog.000001")).unwrap(),
            big
        );
        assert_eq!(std::fs::read(dir.path().join("empty")).unwrap(), b"");
    }

    #[tokio::test]
    async fn short_reader_is_an_error() {
        let (tx, _rx) = tokio::sync::mpsc::channel(100);
        let mut w = TarWriter::new(tx, 0);
        assert!(w.append_reader("f", 10, &b"12345"[..]).await.is_err());
        assert!(w.append_reader("g", 2, &b"12345"[..]).await.is_err());
    }
}

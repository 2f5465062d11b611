//! The archive writer (a backup's source): my.cnf, the backup tool's xbstream cut into segments, the closed binlog
//! files with their index, and the manifest, as one tar stream.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use mysql_async::Conn;
use tokio::io::AsyncReadExt;

use crate::archive::layout::{self, BINLOG_DIR, MANIFEST, MY_CNF};
use crate::archive::manifest::{BinlogCoords, Manifest};
use crate::archive::marks::{Mark, StreamMarks};
use crate::archive::tar::TarWriter;
use crate::archive::xbstream::Parser;
use crate::codec::{CHUNK_SIZE, PipeTx};
use crate::error::{Error, Result};
use crate::mysql::backup_tool::{BackupTool, BackupToolConfig};
use crate::mysql::{self, ServerInfo};

/// Everything the source needs.
pub struct BackupSource {
    pub my_cnf: PathBuf,
    pub tool: BackupToolConfig,
    pub info: ServerInfo,
    pub segment_size: usize,
    pub host: String,
    pub port: u16,
    pub instance_id: u32,
    pub date_str: String,
    /// Most bytes per second read from the backup tool (`--rate-limit`).
    pub rate_limit: Option<u64>,
}

/// What the source produced.
#[derive(Clone, Debug)]
pub struct SourceReport {
    pub manifest: Manifest,
    pub tar_bytes: u64,
    /// How the backup tool's stream was read.
    pub tool_read: ToolRead,
}

/// The backup tool's stream as read: bytes, seconds from its first byte to its end, and the
/// cap it was read under (`--rate-limit`).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ToolRead {
    pub bytes: u64,
    pub seconds: f64,
    pub rate_limit: Option<u64>,
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

impl BackupSource {
    /// Writes the whole tar stream to `tx`. `conn` is used after the data backup to rotate and
    /// list the binlog.
    pub async fn produce(self, mut conn: Conn, tx: PipeTx) -> Result<SourceReport> {
        let started = now();
        let mut tar = TarWriter::new(tx, started.timestamp().max(0) as u64);

        let cnf = tokio::fs::read(&self.my_cnf).await.map_err(|e| {
            Error::io(
                "read my.cnf (set `my_cnf` in conf if it lives elsewhere)",
                &self.my_cnf,
                e,
            )
        })?;
        tar.append(MY_CNF, Bytes::from(cnf)).await?;

        let (data_binlog, tool_read) = self.stream_data(&mut tar).await?;
        if self.info.log_bin && data_binlog.is_none() {
            return Err(Error::stage(
                "backup tool",
                format!(
                    "it recorded no binlog coordinates of the data ({}): the binlog events \
                     after the data could not be told apart at restore",
                    Mark::BinlogInfo.either()
                ),
            ));
        }

        let mut binlog_files = Vec::new();
        let mut binlog_index = None;
        if self.info.log_bin {
            let files = mysql::rotate_binlog(&mut conn).await?;
            if let Some(c) = &data_binlog
                && !files.contains(&c.file)
            {
                return Err(Error::Refused(format!(
                    "binlog {}, where the data backup stops, is no longer on the server (purged \
                     during the backup?; it has {:?}): the backup could not be restored",
                    c.file, files
                )));
            }
            let base = self.info.log_bin_basename.clone().unwrap_or_default();
            let dir = base.parent().map(PathBuf::from).unwrap_or_default();
            for name in &files {
                let path = dir.join(name);
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| Error::io("open binlog", &path, e))?;
                let size = file
                    .metadata()
                    .await
                    .map_err(|e| Error::io("stat binlog", &path, e))?
                    .len();
                tar.append_reader(&format!("{BINLOG_DIR}{name}"), size, file)
                    .await?;
            }
            if let Some(index) = &self.info.log_bin_index {
                let text = tokio::fs::read_to_string(index)
                    .await
                    .map_err(|e| Error::io("read binlog index", index, e))?;
                let kept: String = text
                    .lines()
                    .filter(|l| files.iter().any(|f| l.rsplit('/').next() == Some(f)))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let name = index
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "binlog.index".into());
                tar.append(&format!("{BINLOG_DIR}{name}"), Bytes::from(kept))
                    .await?;
                binlog_index = Some(name);
            }
            binlog_files = files;
        } else {
            tracing::warn!("binary log is off: the backup holds no binlog");
        }
        drop(conn);

        let manifest = Manifest {
            format: Manifest::FORMAT,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            flavor: self.info.kind.flavor.name().to_string(),
            server_version: self.info.version.clone(),
            backup_tool: self.tool.name(),
            host: self.host.clone(),
            port: self.port,
            instance_id: self.instance_id,
            date_str: self.date_str.clone(),
            started_at: started.to_rfc3339(),
            finished_at: now().to_rfc3339(),
            data_dir: self.info.datadir.display().to_string(),
            data_binlog,
            binlog_basename: self
                .info
                .log_bin_basename
                .as_ref()
                .map(|b| b.display().to_string()),
            binlog_files,
            binlog_index,
            entries: tar.entries().to_vec(),
            data_stream: Some(tar.data_stream()),
        };
        tar.append(MANIFEST, Bytes::from(manifest.to_bytes()))
            .await?;
        let tar_bytes = tar.bytes_written();
        tar.finish().await?;
        Ok(SourceReport {
            manifest,
            tar_bytes: tar_bytes + 1024,
            tool_read,
        })
    }

    /// Runs the backup tool and writes its stream as segments; returns the binlog coordinates
    /// it recorded. The stream is parsed on the way (every chunk's CRC-32 checked), so a tool
    /// that dies mid-chunk is caught even if it exits 0.
    async fn stream_data(&self, tar: &mut TarWriter) -> Result<(Option<BinlogCoords>, ToolRead)> {
        let (tool, mut stdout) = BackupTool::spawn(&self.tool)?;
        let mut parser = Parser::new();
        let mut marks = StreamMarks::default();
        let mut segment = 0u64;
        let mut limit = crate::pipeline::rate::RateLimit::new(self.rate_limit);
        let mut first_byte: Option<std::time::Instant> = None;
        let mut read_bytes = 0u64;
        // Against the data dir's size on disk: about what the backup tool will send.
        let datadir = self.info.datadir.clone();
        let size = tokio::task::spawn_blocking(move || dir_size(&datadir))
            .await
            .ok()
            .flatten();
        let progress = crate::progress::Progress::start("backup", size);
        let read_result: Result<()> = async {
            loop {
                // A segment is read in pieces of at most CHUNK_SIZE, each its own allocation:
                // the pipes downstream then hold pieces, never whole segments.
                let mut pieces: Vec<Bytes> = Vec::new();
                let mut len = 0usize;
                let mut eof = false;
                while len < self.segment_size && !eof {
                    let want = CHUNK_SIZE.min(self.segment_size - len);
                    let mut buf = BytesMut::with_capacity(want);
                    while buf.len() < want {
                        let n = stdout
                            .read_buf(&mut buf)
                            .await
                            .map_err(|e| Error::stage("backup tool stdout", e.to_string()))?;
                        if n == 0 {
                            eof = true;
                            break;
                        }
                        progress.inc(n as u64);
                        first_byte.get_or_insert_with(std::time::Instant::now);
                        read_bytes += n as u64;
                        if let Some(l) = &mut limit {
                            l.take(n).await;
                        }
                    }
                    if buf.is_empty() {
                        break;
                    }
                    let piece = buf.freeze();
                    parser.feed(&piece, &mut |ev| {
                        marks.on(&ev);
                        Ok(())
                    })?;
                    len += piece.len();
                    pieces.push(piece);
                }
                if pieces.is_empty() {
                    return Ok(());
                }
                tar.append_segment(&layout::segment_name(segment), pieces)
                    .await?;
                segment += 1;
                if eof {
                    return Ok(());
                }
            }
        }
        .await;
        if let Err(e) = read_result {
            let tail = tool.kill().await;
            if !e.is_secondary() && !tail.is_empty() {
                tracing::error!("backup tool stderr (last lines):\n{tail}");
            }
            return Err(e);
        }
        progress.finish();
        let tool_read = ToolRead {
            bytes: read_bytes,
            seconds: first_byte.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            rate_limit: self.rate_limit,
        };
        let stderr_tail = tool.wait().await?;
        parser
            .finish()
            .map_err(|e| Error::stage("backup tool", format!("its stream is incomplete: {e}")))?;
        if parser.chunks() == 0 {
            return Err(Error::stage(
                "backup tool",
                "exited 0 but wrote an empty stream",
            ));
        }
        // A stream cut on a chunk boundary parses cleanly: require the marks of a complete
        // backup, which the tool writes last.
        let coords = marks.check()?;
        if !stderr_tail.contains("completed OK!") {
            return Err(Error::stage(
                "backup tool",
                format!(
                    "exited 0 without its completion line (\"completed OK!\"); last lines:\n{}",
                    crate::error::excerpt(&stderr_tail, 2000)
                ),
            ));
        }
        Ok((coords, tool_read))
    }
}

/// The bytes of the files under `dir` that can be read (None when none); links not followed.
fn dir_size(dir: &std::path::Path) -> Option<u64> {
    let mut total = 0u64;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => todo.push(e.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    (total > 0).then_some(total)
}

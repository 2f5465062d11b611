//! `archive_binlog`: stores every closed binlog file of the instance the archive does not hold
//! yet, each as its own object through the configured chain, with its record (file, generation,
//! GTIDs at its start and end, first and last event time, server id, size, checksums).
//!
//! Idempotent (what is archived is skipped, by name, size and start state, without reading
//! the file), resumable (a killed run's leftovers of this archive are removed by the next),
//! under a lock of its own (a backup does not hold it back). A file whose name the archive's
//! newest generation holds with other content (after `RESET MASTER`, a restore, a rebuild)
//! starts a new generation: nothing stored is overwritten. A file that does not continue the
//! archive (its start state is not the end state of the archive's last file: files were
//! purged before they were archived) is stored too, and the gap is reported, naming the files
//! and the GTIDs lost, with a non-zero exit.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use serde::Serialize;
use tokio::io::AsyncReadExt;

use crate::catalog::binlogs::{self, Archived, BinlogKey};
use crate::catalog::record::{Kind, Record, Server, VERSION};
use crate::catalog::writer::{SegmentedUpload, commit, discard};
use crate::codec::{CHUNK_SIZE, PipeTx};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::binlog::order_key;
use crate::mysql::binlog::summary::{Summary, start_state, summarize};
use crate::mysql::{self, Endpoint};
use crate::pipeline::store_stream;

/// One file stored.
#[derive(Clone, Debug, Serialize)]
pub struct ArchivedFile {
    pub file: String,
    pub generation: u32,
    pub key: String,
    /// Bytes of the binlog file, and stored.
    pub size: u64,
    pub stored: u64,
    pub first_gtid: String,
    pub last_gtid: String,
    pub last_event_at: String,
    /// Seconds from its last event to stored: how far the archive lags.
    pub lag_seconds: f64,
}

/// What `archive_binlog` did.
#[derive(Clone, Debug, Serialize)]
pub struct ArchiveReport {
    pub store: String,
    pub instance: String,
    pub archived: Vec<ArchivedFile>,
    /// Closed files the archive already held.
    pub skipped: usize,
    /// Why a new generation started, if one did.
    pub new_generation: Option<String>,
    /// Leftovers of interrupted runs removed first.
    pub removed_leftovers: Vec<String>,
    /// Files and GTIDs the archive misses (the command exits non-zero).
    pub gaps: Vec<String>,
    pub seconds: f64,
}

impl ArchiveReport {
    /// True when the archive has a gap.
    pub fn failed(&self) -> bool {
        !self.gaps.is_empty()
    }
}

impl std::fmt::Display for ArchiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for r in &self.removed_leftovers {
            writeln!(f, "removed leftover: {r}")?;
        }
        if let Some(why) = &self.new_generation {
            writeln!(f, "new generation: {why}")?;
        }
        for a in &self.archived {
            writeln!(
                f,
                "archived: {} (generation {}, {} bytes, GTIDs {}..{}, last event {}, {:.0} s ago)",
                a.file,
                a.generation,
                a.size,
                a.first_gtid,
                a.last_gtid,
                a.last_event_at,
                a.lag_seconds
            )?;
        }
        for g in &self.gaps {
            writeln!(f, "GAP: {g}")?;
        }
        write!(
            f,
            "{} archived, {} already in {} for {} ({:.1} s)",
            self.archived.len(),
            self.skipped,
            self.store,
            self.instance,
            self.seconds
        )
    }
}

/// A closed binlog file of the server.
struct ServerFile {
    name: String,
    size: u64,
    path: PathBuf,
}

/// Archives the closed binlog files (`flush`: the active one too, rotated first).
pub async fn archive_binlog(s: &Settings, flush: bool) -> Result<ArchiveReport> {
    let _lock = crate::lock::lock_binlog_archive(s)?;
    let started = std::time::Instant::now();
    let keys = s.codec.keys(true)?;
    let chain = s.chain();
    let store = crate::store::open(&s.store).await?;
    store.check().await?;
    let instance = s.instance();
    let mut conn = Endpoint::from_settings(s).connect().await?;
    let info = mysql::server_info(&mut conn).await?;
    if info.kind.flavor != mysql::Flavor::MariaDb {
        return Err(Error::Refused(format!(
            "the binlog archive reads MariaDB's GTID events only; {} is not supported yet",
            info.kind
        )));
    }
    let basename = match (&info.log_bin, &info.log_bin_basename) {
        (true, Some(b)) => b.clone(),
        _ => {
            return Err(Error::Refused(format!(
                "the instance on port {} writes no binlog (log_bin is off): nothing to archive",
                s.port
            )));
        }
    };
    let dir = basename.parent().map(Path::to_path_buf).unwrap_or_default();
    if flush {
        mysql::exec(&mut conn, "FLUSH BINARY LOGS").await?;
    }
    let rows: Vec<(String, u64)> =
        mysql_async::prelude::Queryable::query(&mut conn, "SHOW BINARY LOGS")
            .await
            .map_err(|e| Error::mysql("SHOW BINARY LOGS", e))?
            .into_iter()
            .filter_map(|r: mysql_async::Row| {
                Some((r.get::<String, usize>(0)?, r.get::<u64, usize>(1)?))
            })
            .collect();
    drop(conn);
    let mut closed: Vec<ServerFile> = rows
        .iter()
        .take(rows.len().saturating_sub(1))
        .map(|(name, size)| ServerFile {
            path: dir.join(name),
            name: name.clone(),
            size: *size,
        })
        .collect();
    closed.sort_by_key(|f| order_key(&f.name));

    let mut removed = Vec::new();
    let archive = binlogs::list(store.as_ref(), &instance).await?;
    for l in &archive.leftovers {
        match l.remove(store.as_ref()).await {
            Ok(()) => removed.push(format!("{} ({})", store.location(&l.key), l.kind)),
            Err(e) => tracing::warn!("could not remove leftover {}: {e}", l.key),
        }
    }
    let (mut generation, mut files): (u32, Vec<Archived>) = match archive.latest() {
        Some((g, f)) => (g, f.to_vec()),
        None => (1, Vec::new()),
    };
    let mut report = ArchiveReport {
        store: store.describe(),
        instance: instance.to_string(),
        archived: Vec::new(),
        skipped: 0,
        new_generation: None,
        removed_leftovers: removed,
        gaps: Vec::new(),
        seconds: 0.0,
    };
    let progress = crate::progress::Progress::start(
        "archive_binlog",
        Some(closed.iter().map(|f| f.size).sum()),
    );
    for f in &closed {
        crate::cancel::check()?;
        if let Some(a) = files.iter().find(|a| a.name.file == f.name) {
            // Its start is read only for a name the archive holds, of the same size.
            if a.name.size == f.size && a.name.start == read_start(&f.path).await? {
                report.skipped += 1;
                progress.inc(f.size);
                continue;
            }
            // Same name, other content: the server's binlog is another history.
            let why = format!(
                "{} differs from the archived one of generation {generation} (RESET MASTER, a \
                 restore or a rebuild): generation {} starts with it",
                f.name,
                generation + 1
            );
            tracing::warn!("{why}");
            report.new_generation = Some(why);
            generation += 1;
            files.clear();
        }
        let path = f.path.clone();
        let summary = tokio::task::spawn_blocking(move || -> Result<Summary> {
            let file = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            summarize(std::io::BufReader::with_capacity(1 << 20, file))
                .map_err(|e| Error::format("binlog", format!("{}: {e}", path.display())))
        })
        .await
        .map_err(|e| Error::stage("binlog", e.to_string()))??;
        if let Some(last) = files.last()
            && last.name.end != summary.start.tag()
        {
            report
                .gaps
                .push(gap(store.as_ref(), last, &f.name, &summary).await);
        }
        let name = BinlogKey {
            instance: instance.clone(),
            generation,
            file: f.name.clone(),
            size: summary.size,
            first: time(summary.first_event_time),
            last: time(summary.last_event_time),
            start: summary.start.tag(),
            end: summary.end.tag(),
            suffix: chain.raw_suffix(),
        };
        let key = name.key();
        let upload = SegmentedUpload::start(store.clone(), &key, s.segment_size).await?;
        let (path, size) = (f.path.clone(), summary.size);
        let (_, stored) = store_stream(
            move |tx| send_file(path, size, tx),
            chain.encoders(&keys)?,
            Box::new(upload),
        )
        .await?;
        let first_event = time(summary.first_event_time);
        let record = Record {
            version: VERSION,
            instance: instance.clone(),
            day: first_event.format("%Y_%m_%d").to_string(),
            taken_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            kind: Kind::Binlog {
                file: f.name.clone(),
                generation: u64::from(generation),
                first_gtid: summary.transactions.first().map(|t| t.gtid.to_string()),
                last_gtid: summary.transactions.last().map(|t| t.gtid.to_string()),
                first_event_time: summary.first_event_time.map(|t| time(Some(t))),
                last_event_time: summary.last_event_time.map(|t| time(Some(t))),
                server_id: Some(summary.server_id),
                start_state: Some(summary.start.canonical()),
                end_state: Some(summary.end.canonical()),
                file_size: Some(summary.size),
                checksums: Some(summary.checksums),
            },
            chain: chain.name(),
            objects: stored.objects.clone(),
            size: stored.digests.len,
            sha1: stored.digests.sha1.clone(),
            sha256: stored.digests.sha256.clone(),
            tar_bytes: None,
            data: None,
            binlog_files: vec![f.name.clone()],
            server: Some(Server {
                flavor: info.kind.flavor.name().to_string(),
                version: info.version.clone(),
            }),
            backup_tool: None,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        if let Err(e) = commit(store.as_ref(), &key, &record).await {
            discard(store.as_ref(), &stored.objects).await;
            return Err(e);
        }
        progress.inc(f.size);
        let last_at = time(summary.last_event_time);
        report.archived.push(ArchivedFile {
            file: f.name.clone(),
            generation,
            size: summary.size,
            stored: stored.digests.len,
            first_gtid: summary.start.position().canonical(),
            last_gtid: summary.end.position().canonical(),
            last_event_at: last_at.to_rfc3339(),
            lag_seconds: (chrono::Utc::now() - last_at).num_milliseconds() as f64 / 1000.0,
            key: key.clone(),
        });
        files.push(Archived {
            stored: crate::store::ObjectInfo {
                key: key.clone(),
                size: stored.digests.len,
                modified: std::time::SystemTime::now(),
                metadata: Default::default(),
            },
            key,
            name,
        });
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The tag of the binlog state at the start of the file at `path` (its first events only).
async fn read_start(path: &Path) -> Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        start_state(std::io::BufReader::new(file))
            .map(|s| s.tag())
            .map_err(|e| Error::format("binlog", format!("{}: {e}", path.display())))
    })
    .await
    .map_err(|e| Error::stage("binlog", e.to_string()))?
}

/// The gap between the archive's `last` file and the server's `next`: the files between, and
/// the GTIDs between the one's end state and the other's start state.
async fn gap(store: &dyn crate::store::Store, last: &Archived, next: &str, s: &Summary) -> String {
    let end = match binlogs::record(store, last).await {
        Ok(Record {
            kind: Kind::Binlog {
                end_state: Some(e), ..
            },
            ..
        }) => e,
        _ => format!("(state tag {})", last.name.end),
    };
    format!(
        "the files after {} and before {next} are not archived (purged from the server before \
         archive_binlog ran?): the archive misses the transactions after {end} up to {}",
        last.name.file,
        s.start.canonical()
    )
}

/// The UTC time of seconds since the epoch (the epoch for none).
fn time(t: Option<u32>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(i64::from(t.unwrap_or(0)), 0).unwrap_or_default()
}

/// Sends the file at `path` down `tx`; it must have `size` bytes (a closed binlog file does
/// not change).
async fn send_file(path: PathBuf, size: u64, tx: PipeTx) -> Result<u64> {
    let mut f = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::io("open", &path, e))?;
    let mut sent = 0u64;
    loop {
        let mut buf = BytesMut::with_capacity(CHUNK_SIZE);
        let n = f
            .read_buf(&mut buf)
            .await
            .map_err(|e| Error::io("read", &path, e))?;
        if n == 0 {
            break;
        }
        sent += n as u64;
        tx.send(buf.freeze())
            .await
            .map_err(|_| Error::PipeClosed("binlog file"))?;
    }
    if sent != size {
        return Err(Error::stage(
            "binlog file",
            format!(
                "{} has {sent} bytes, {size} when it was read: it changed while archived",
                path.display()
            ),
        ));
    }
    Ok(sent)
}

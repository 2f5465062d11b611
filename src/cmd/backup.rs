//! The `backup` command: checks, then the streaming chain into the chosen store.

use super::when_allows;
use crate::archive::layout::SEGMENT_SIZE;
use crate::archive::manifest::Manifest;
use crate::archive::writer::BackupSource;
use crate::catalog::record::{DataPosition, Kind, Record, Server, VERSION};
use crate::catalog::writer::{SegmentedUpload, commit, discard};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::backup_tool::BackupToolConfig;
use crate::mysql::{self, Endpoint};
use crate::pipeline::{Stored, store_stream};
use crate::store::stdio::StdoutUpload;
use crate::store::{Store, Upload};

/// Where the backup goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// S3 when configured, else the local store under `backup_base`.
    Store,
    /// Stdout (`--output -`).
    Stdout,
}

/// Where a backup went.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoredReport {
    /// `s3://bucket/key`, a file path, or `-` for stdout.
    pub location: String,
    /// Stored bytes.
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
    /// Objects the bytes are stored as (more than one beyond `segment_size`).
    pub segments: usize,
}

/// The result of a backup.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BackupReport {
    /// Its key in the store (None when written to stdout).
    pub key: Option<String>,
    /// When it was taken (RFC 3339, UTC).
    pub taken_at: String,
    pub stored: StoredReport,
    pub manifest: Manifest,
    pub tar_bytes: u64,
    /// The backup tool's stream as read (bytes, seconds, the rate limit).
    pub backup_tool: crate::archive::writer::ToolRead,
    pub seconds: f64,
    /// What may make this backup's binlog window fail to apply (see [`temp_table_hazard`]).
    pub warnings: Vec<String>,
    /// What each stage did (bytes in and out, seconds busy): the busiest sets the pace.
    pub stages: Vec<crate::codec::meter::StageReport>,
}

impl std::fmt::Display for BackupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stored.location == "-" {
            writeln!(f, "output: stdout (the archive; nothing was stored)")?;
        } else {
            writeln!(f, "location: {}", self.stored.location)?;
        }
        if let Some(k) = &self.key {
            writeln!(f, "key: {k}")?;
        }
        writeln!(f, "taken_at: {}", self.taken_at)?;
        writeln!(f, "size: {}", self.stored.size)?;
        if self.stored.segments > 1 {
            writeln!(f, "segments: {}", self.stored.segments)?;
        }
        writeln!(f, "sha1: {}", self.stored.sha1)?;
        writeln!(f, "tar_bytes: {}", self.tar_bytes)?;
        if let Some(c) = &self.manifest.data_binlog {
            writeln!(f, "data_binlog: {}:{} gtid {}", c.file, c.position, c.gtid)?;
        }
        if self.manifest.binlog_files.is_empty() {
            writeln!(f, "binlog_files: none (the server writes no binlog)")?;
        } else {
            writeln!(f, "binlog_files: {}", self.manifest.binlog_files.join(","))?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        let t = &self.backup_tool;
        if t.seconds > 0.0 {
            writeln!(
                f,
                "read from the backup tool: {:.1} MiB in {:.1} s ({:.1} MiB/s{})",
                t.bytes as f64 / 1048576.0,
                t.seconds,
                t.bytes as f64 / 1048576.0 / t.seconds,
                t.rate_limit
                    .map(|r| format!(", limit {:.1} MiB/s", r as f64 / 1048576.0))
                    .unwrap_or_default()
            )?;
        }
        writeln!(f, "busy: {}", crate::codec::meter::summary(&self.stages))?;
        write!(f, "seconds: {:.1}", self.seconds)
    }
}

/// Runs a backup. Returns None when `--when` skipped it.
pub async fn backup(s: &Settings, output: Output, init: bool) -> Result<Option<BackupReport>> {
    if !when_allows(s).await {
        tracing::info!("{}", super::when_skip_reason(s));
        return Ok(None);
    }
    let _lock = crate::lock::lock_instance(s, "back up")?;
    super::refuse_half_built(s, "a backup")?;
    let keys = s.codec.keys(true)?;
    let chain = s.chain();
    let encoders = chain.encoders(&keys)?;
    let store = match output {
        Output::Store => {
            let store = crate::store::build(&s.store)?;
            // A store that is not there is a typo unless this is the first backup into it.
            if !init {
                store.present().await?;
            }
            store.check().await?;
            Some(store)
        }
        Output::Stdout => None,
    };
    let instance = s.instance();
    let endpoint = Endpoint::from_settings(s);
    let mut conn = endpoint.connect().await?;
    let info = mysql::server_info(&mut conn).await?;
    conf_matches_server(s, &endpoint, &info, &mut conn).await?;
    let warnings: Vec<String> = temp_table_hazard(&mut conn).await.into_iter().collect();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let program = match &s.backup_tool {
        Some(p) => p.clone(),
        None => {
            mysql::find_binary(&s.mysql_base, info.kind.flavor.backup_tools()).ok_or_else(|| {
                Error::Refused(format!(
                    "no {} found under {} or on PATH",
                    info.kind.flavor.backup_tools().join("/"),
                    s.mysql_base.display()
                ))
            })?
        }
    };
    // The tool under its own name (found, or named in conf) must be of the server's series;
    // a program of the operator's own (a wrapper script) is run as given.
    if mysql::backup_tool::series::own_name(&program) {
        let line = mysql::backup_tool::series::check(&program, info.kind).await?;
        tracing::debug!("{}: {line}", program.display());
    }
    tracing::info!(
        "backing up {} {} ({}) with {}",
        info.kind.flavor.name(),
        info.version,
        info.datadir.display(),
        program.display()
    );
    let source = BackupSource {
        my_cnf: s.my_cnf.clone(),
        tool: BackupToolConfig {
            program,
            defaults_file: s.my_cnf.exists().then(|| s.my_cnf.clone()),
            socket: endpoint.socket.clone(),
            user: endpoint.user.clone(),
            password: endpoint.password.clone(),
            tmpdir: s.backup_tool_tmpdir.clone(),
            force_binlog_info: info.kind.flavor == mysql::Flavor::MariaDb && info.log_bin,
        },
        info,
        segment_size: SEGMENT_SIZE,
        host: s.host.clone(),
        port: s.port,
        instance_id: s.instance_id,
        date_str: s.date_str.clone(),
        rate_limit: s.rate_limit,
    };
    let (key, taken) = match &store {
        Some(store) => {
            for r in crate::catalog::remove_leftovers(store.as_ref(), &instance).await {
                tracing::warn!("removed the leftover of an interrupted backup: {r}");
            }
            let (key, taken) = fresh_key(store.as_ref(), s, &instance, chain.suffix()).await?;
            (Some(key), taken)
        }
        None => (None, chrono::Utc::now()),
    };
    let upload: Box<dyn Upload> = match (&store, &key) {
        (Some(store), Some(key)) => {
            Box::new(SegmentedUpload::start(store.clone(), key, s.segment_size).await?)
        }
        _ => Box::new(StdoutUpload::default()),
    };
    let started = std::time::Instant::now();
    let (report, stored) =
        store_stream(move |tx| source.produce(conn, tx), encoders, upload).await?;
    let location = match (&store, &key) {
        (Some(store), Some(key)) => {
            let record = record_of(s, &instance, taken, &chain.name(), &report, &stored);
            if let Err(e) = commit(store.as_ref(), key, &record).await {
                discard(store.as_ref(), &stored.objects).await;
                return Err(e);
            }
            store.location(key)
        }
        _ => "-".to_string(),
    };
    Ok(Some(BackupReport {
        key,
        taken_at: taken.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        stored: StoredReport {
            location,
            size: stored.digests.len,
            sha1: stored.digests.sha1.clone(),
            sha256: stored.digests.sha256.clone(),
            segments: stored.objects.len(),
        },
        manifest: report.manifest,
        tar_bytes: report.tar_bytes,
        backup_tool: report.tool_read,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
        stages: stored.stages,
    }))
}

/// A key for a backup of `instance` taken now that no object holds: keys name the second, so
/// a backup started in the same second as the last one (under the instance lock, the last one
/// has ended) waits for the next.
async fn fresh_key(
    store: &dyn Store,
    s: &Settings,
    instance: &crate::catalog::Instance,
    suffix: &str,
) -> Result<(String, chrono::DateTime<chrono::Utc>)> {
    let prefix = crate::catalog::names::day_prefix(&s.date_str, instance.port);
    for _ in 0..5 {
        let taken = chrono::Utc::now();
        let key = crate::catalog::names::full_key(&s.date_str, instance, taken, suffix);
        let taken_objects = store.list(&prefix).await?;
        if !taken_objects.iter().any(|o| o.key.starts_with(&key)) {
            return Ok((key, taken));
        }
        let wait = 1_000 - u64::from(taken.timestamp_subsec_millis()).min(999);
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    }
    Err(Error::Refused(format!(
        "no free key for a backup of {instance} under {prefix} (the clock does not move?)"
    )))
}

/// The record of a backup: what it is, whose, when, how it is stored.
fn record_of(
    s: &Settings,
    instance: &crate::catalog::Instance,
    taken: chrono::DateTime<chrono::Utc>,
    chain: &str,
    report: &crate::archive::writer::SourceReport,
    stored: &Stored,
) -> Record {
    let m = &report.manifest;
    Record {
        version: VERSION,
        instance: instance.clone(),
        day: s.date_str.clone(),
        taken_at: taken,
        finished_at: chrono::Utc::now(),
        kind: Kind::Full,
        chain: chain.to_string(),
        objects: stored.objects.clone(),
        size: stored.digests.len,
        sha1: stored.digests.sha1.clone(),
        sha256: stored.digests.sha256.clone(),
        tar_bytes: Some(report.tar_bytes),
        data: m.data_binlog.as_ref().map(|c| DataPosition {
            file: c.file.clone(),
            position: c.position,
            gtid: c.gtid.clone(),
        }),
        binlog_files: m.binlog_files.clone(),
        server: Some(Server {
            flavor: m.flavor.clone(),
            version: m.server_version.clone(),
        }),
        backup_tool: Some(m.backup_tool.clone()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// With `binlog_format` STATEMENT or MIXED, a temporary table created before the backup's data
/// point and used after it makes the binlog window unrestorable: its CREATE is not in the
/// window, so the window's statements on it fail. The server shows only hints of open
/// temporary tables (`Slave_open_temp_tables` for replicated ones); the format itself is the
/// hazard worth a warning.
async fn temp_table_hazard(conn: &mut mysql_async::Conn) -> Option<String> {
    use mysql_async::prelude::Queryable;
    let format: Option<String> = conn
        .query_first("SELECT @@GLOBAL.binlog_format")
        .await
        .ok()
        .flatten();
    let format = format?;
    if format.eq_ignore_ascii_case("ROW") {
        return None;
    }
    let open: Option<(String, String)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Slave_open_temp_tables'")
        .await
        .ok()
        .flatten();
    let open = open.and_then(|(_, v)| v.parse::<u64>().ok()).unwrap_or(0);
    Some(format!(
        "binlog_format is {format}: a temporary table created before this backup's data point and \
         used after it makes the binlog window fail to apply on restore{}; binlog_format=ROW \
         avoids it",
        if open > 0 {
            format!(" ({open} replicated temporary tables are open now)")
        } else {
            String::new()
        }
    ))
}

/// Refuses a backup whose conf names another instance than the server its socket reaches:
/// the backup would be filed under conf's port and restored into conf's dirs, which are not
/// that server's. Compares the data dir, the port and (when conf names one) the binlog dir
/// with `@@datadir`, `@@port` and `@@log_bin_basename`.
async fn conf_matches_server(
    s: &Settings,
    endpoint: &Endpoint,
    info: &mysql::ServerInfo,
    conn: &mut mysql_async::Conn,
) -> Result<()> {
    use mysql_async::prelude::Queryable;
    // The same directory: one inode (a bind mount or symlink of it too), else one path.
    let same = |a: &std::path::Path, b: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => crate::lock::canonical_dir(a) == crate::lock::canonical_dir(b),
        }
    };
    let reached = format!("the server reached via {}", endpoint.socket.display());
    if !same(&s.data_dir, &info.datadir) {
        return Err(Error::Config(format!(
            "conf names data dir {} for port {}, but {reached} has @@datadir {}: conf \
             data_base/data_dir (or socket) names another instance; make them agree",
            s.data_dir.display(),
            s.port,
            info.datadir.display()
        )));
    }
    // A server without networking reports the port option's default: nothing to compare.
    let row: Option<(u16, u8)> = conn
        .query_first("SELECT @@port, @@skip_networking")
        .await
        .map_err(|e| Error::mysql("SELECT @@port", e))?;
    let port = row.and_then(|(p, skip)| (skip == 0).then_some(p));
    if let Some(p) = port.filter(|&p| p != s.port && p != 0) {
        return Err(Error::Config(format!(
            "conf names port {}, but {reached} listens on port {p}: fix conf port (or socket)",
            s.port
        )));
    }
    if s.binlog_dir != s.data_dir
        && let Some(dir) = info.log_bin_basename.as_deref().and_then(|b| b.parent())
        && !same(&s.binlog_dir, dir)
        && !crate::lock::canonical_dir(dir).starts_with(crate::lock::canonical_dir(&s.binlog_dir))
    {
        return Err(Error::Config(format!(
            "conf binlog_dir is {}, but {reached} writes its binlog in {}: fix conf binlog_dir",
            s.binlog_dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

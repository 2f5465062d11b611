//! The `backup` command: checks, then the streaming chain into the chosen store.

use super::when_allows;
use crate::archive::layout::SEGMENT_SIZE;
use crate::archive::manifest::Manifest;
use crate::archive::writer::BackupSource;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::backup_tool::BackupToolConfig;
use crate::mysql::{self, Endpoint};
use crate::pipeline::store_stream;
use crate::store::stdio::StdoutUpload;
use crate::store::{StoredReport, Upload};

/// Where the backup goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// S3 when configured, else the local store under `backup_base`.
    Store,
    /// Stdout (`--output -`).
    Stdout,
}

/// The result of a backup.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BackupReport {
    pub stored: StoredReport,
    pub manifest: Manifest,
    pub tar_bytes: u64,
    pub seconds: f64,
    /// What may make this backup's binlog window fail to apply (see [`temp_table_hazard`]).
    pub warnings: Vec<String>,
}

impl std::fmt::Display for BackupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "location: {}", self.stored.location)?;
        writeln!(f, "size: {}", self.stored.size)?;
        writeln!(f, "sha1: {}", self.stored.sha1)?;
        writeln!(f, "tar_bytes: {}", self.tar_bytes)?;
        if let Some(c) = &self.manifest.data_binlog {
            writeln!(f, "data_binlog: {}:{} gtid {}", c.file, c.position, c.gtid)?;
        }
        writeln!(f, "binlog_files: {}", self.manifest.binlog_files.join(","))?;
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        write!(f, "seconds: {:.1}", self.seconds)
    }
}

/// Runs a backup. Returns None when `--when` skipped it.
pub async fn backup(s: &Settings, output: Output) -> Result<Option<BackupReport>> {
    if !when_allows(s).await {
        tracing::info!(
            "--when {:?} does not hold: nothing to do",
            s.when.expect("set")
        );
        return Ok(None);
    }
    let _lock = crate::lock::lock_instance(s, "back up")?;
    super::refuse_half_built(s, "a backup")?;
    let keys = s.codec.keys(true)?;
    let chain = s.chain();
    let encoders = chain.encoders(&keys)?;
    let store = match output {
        Output::Store => {
            let store = crate::store::build(s)?;
            store.check().await?;
            Some(store)
        }
        Output::Stdout => None,
    };
    let endpoint = Endpoint::from_settings(s);
    let mut conn = endpoint.connect().await?;
    let info = mysql::server_info(&mut conn).await?;
    let warnings: Vec<String> = temp_table_hazard(&mut conn).await.into_iter().collect();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let program = match &s.backup_tool {
        Some(p) => p.clone(),
        None => mysql::find_binary(&s.mysql_base, info.flavor.backup_tools()).ok_or_else(|| {
            Error::Refused(format!(
                "no {} found under {} or on PATH",
                info.flavor.backup_tools().join("/"),
                s.mysql_base.display()
            ))
        })?,
    };
    tracing::info!(
        "backing up {} {} ({}) with {}",
        info.flavor.name(),
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
            force_binlog_info: info.flavor == mysql::Flavor::MariaDb && info.log_bin,
        },
        info,
        segment_size: SEGMENT_SIZE,
        host: s.host.clone(),
        port: s.port,
        instance_id: s.instance_id,
        date_str: s.date_str.clone(),
    };
    let key = s.backup_key();
    let upload: Box<dyn Upload> = match &store {
        None => Box::new(StdoutUpload::default()),
        Some(store) => {
            for r in crate::catalog::remove_leftovers(store.as_ref(), &key).await {
                tracing::warn!("removed the leftover of an interrupted backup: {r}");
            }
            store.upload(&key).await?
        }
    };
    let started = std::time::Instant::now();
    let (report, stored) = store_stream(
        move |tx| source.produce(conn, tx),
        encoders,
        &chain.name(),
        upload,
        |r| crate::catalog::record(&r.manifest),
    )
    .await?;
    Ok(Some(BackupReport {
        stored,
        manifest: report.manifest,
        tar_bytes: report.tar_bytes,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    }))
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

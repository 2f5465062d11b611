//! The `backup` command: checks, then the streaming chain into the chosen store.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use crate::archive::layout::SEGMENT_SIZE;
use crate::archive::manifest::Manifest;
use crate::config::{Settings, When};
use crate::error::{Error, Result};
use crate::mysql::{self, Endpoint};
use crate::pipeline::{ChainOptions, store_stream};
use crate::sink::{Sink, StoredReport, local::LocalSink, s3::S3Sink, stdout::StdoutSink};
use crate::source::backup::BackupSource;
use crate::source::backup_tool::BackupToolConfig;
use crate::stage::des3;
use crate::store::s3::S3Store;

/// Where the backup goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// S3 when configured, else the local store under `backup_base`.
    Store,
    /// Stdout (`--output -`).
    Stdout,
}

/// The result of a backup.
#[derive(Clone, Debug)]
pub struct BackupReport {
    pub stored: StoredReport,
    pub manifest: Manifest,
    pub tar_bytes: u64,
    pub seconds: f64,
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
        write!(f, "seconds: {:.1}", self.seconds)
    }
}

/// Whether the `--when` condition lets the command run.
pub async fn when_allows(s: &Settings) -> bool {
    match s.when {
        None => true,
        Some(When::NoDataDir) => !s.data_dir.exists(),
        Some(When::Stopped) => !Endpoint::from_settings(s).is_running().await,
    }
}

/// Reads the des3 password; warns when the key file is readable by others.
pub fn load_password(s: &Settings) -> Result<Vec<u8>> {
    if let Ok(meta) = std::fs::metadata(&s.des3_key_file)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(
            "des3 key file {} is world-readable; chmod 600 it",
            s.des3_key_file.display()
        );
    }
    des3::read_password(&s.des3_key_file)
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
    let password = load_password(s)?;
    let endpoint = Endpoint::from_settings(s);
    let mut conn = endpoint.connect().await?;
    let info = mysql::server_info(&mut conn).await?;
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
    let sink: Box<dyn Sink> = match (&output, &s.s3) {
        (Output::Stdout, _) => Box::new(StdoutSink::default()),
        (Output::Store, Some(s3)) => {
            let store = Arc::new(S3Store::new(s3)?);
            log_leftovers(crate::sink::s3::remove_leftovers(&store, &key).await);
            Box::new(S3Sink::create(store, &key).await?)
        }
        (Output::Store, None) => {
            log_leftovers(crate::sink::local::remove_leftovers(&s.backup_base, &key).await);
            Box::new(LocalSink::create(&s.backup_base, &key).await?)
        }
    };
    let started = std::time::Instant::now();
    let opts = ChainOptions {
        gzip_level: s.gzip_level,
        password,
        kdf: s.key_derivation,
    };
    let (report, stored) = store_stream(move |tx| source.produce(conn, tx), opts, sink).await?;
    Ok(Some(BackupReport {
        stored,
        manifest: report.manifest,
        tar_bytes: report.tar_bytes,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Logs what an interrupted earlier backup of this instance had left and this one removed.
fn log_leftovers(removed: Vec<String>) {
    for r in removed {
        tracing::warn!("removed the leftover of an interrupted backup: {r}");
    }
}

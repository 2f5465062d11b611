//! The `restore` command: stream a stored backup straight into new data and binlog dirs,
//! prepare it, apply the binlog events that are in the backup's binlog but not in its data,
//! and leave the binlog in place.
//!
//! Trust: the target dirs come from conf (`data_dir`, `binlog_dir`), never from the archive;
//! each must be missing or empty (or the half-built dir of a killed restore). The backup's
//! my.cnf is rewritten into them ([`layout`]), and the temporary server runs from a generated
//! configuration ([`crate::mysql::server_config`]). On any failure everything this restore
//! created is removed.

pub mod dirs;
pub mod layout;
pub mod pitr;
mod report;
mod source;

use std::sync::{Arc, Mutex};

use super::when_allows;
use crate::archive::reader::{Layout, Summary};
use crate::archive::unpack::{Targets, unpack};
use crate::catalog::{KeyParts, Selection};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::Endpoint;
use crate::mysql::dialect::ServerKind;
use crate::mysql::mycnf::MyCnf;
use crate::mysql::server_config::Dirs;
use crate::pipeline::fetch_stream;
use crate::pipeline::rate::limited;
pub use dirs::INCOMPLETE_MARKER;
use dirs::{Created, check_claimable};
pub use report::RestoreReport;
use source::Source;

/// What `restore` is asked to do beyond conf.
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    pub selection: Selection,
    /// `--input -`: read the archive from stdin instead of the store.
    pub stdin: bool,
    /// `--sha1 HEX`: the SHA-1 the bytes read from stdin must have.
    pub sha1: Option<String>,
    /// Restore a backup of another port (e.g. to move an instance, or build a copy).
    pub allow_other_port: bool,
    /// Restore the data alone: the archive's binlog is checked but neither applied nor
    /// installed (the only way to restore an archive without binlog coordinates).
    pub data_only: bool,
    /// Keep the my.cnf options that run code at start (`init-file`, `plugin-load-add`, ...).
    pub keep_code_options: bool,
    /// Point-in-time recovery: to this point, from the backup and the binlog archive.
    pub until: Option<pitr::Until>,
}

/// Runs a restore. Returns None when `--when` skipped it.
pub async fn restore(s: &Settings, opts: &RestoreOptions) -> Result<Option<RestoreReport>> {
    if !when_allows(s).await {
        tracing::info!("{}", crate::cmd::when_skip_reason(s));
        return Ok(None);
    }
    let _lock = crate::lock::lock_instance(s, "restore")?;
    if Endpoint::from_settings(s).is_running().await {
        return Err(Error::Refused(format!(
            "the instance on port {} is running: stop it before restoring",
            s.port
        )));
    }
    // Another server on the port (e.g. the real instance, with conf naming another data dir):
    // the restored instance could not start there.
    let listening = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", s.port)),
    )
    .await
    .is_ok_and(|c| c.is_ok());
    // (--data-only starts no server: a copy of the files beside a running original is fine.)
    if listening && !opts.data_only {
        return Err(Error::Refused(format!(
            "a server already listens on port {} (not the instance of data dir {}, whose socket \
             does not answer): the restored instance could not start on that port. Stop that \
             server, or restore a copy on a free port (--port N --allow-other-port --backup-key \
             K, K as `list` shows it)",
            s.port,
            s.data_dir.display()
        )));
    }
    check_claimable(&s.data_dir, "data dir")?;
    if s.binlog_dir != s.data_dir {
        check_claimable(&s.binlog_dir, "binlog dir")?;
    }
    if !opts.data_only {
        crate::mysql::datadir::check_reachable(&s.server_user, &[&s.data_dir, &s.binlog_dir])
            .await?;
    }
    let keys = s.codec.keys(false)?;
    if opts.until.is_some() && (opts.stdin || opts.data_only) {
        return Err(Error::Config(
            "--until and --until-gtid restore from the store's backup and binlog archive: not \
             with --input - or --data-only"
                .into(),
        ));
    }
    let (source, plan) = source::open(s, opts, &keys).await?;
    tracing::info!("restoring {}", source.location);
    let cleanup = source.cleanup.clone();
    let started = std::time::Instant::now();
    let created = Arc::new(Mutex::new(Created::default()));
    let result = restore_into(s, opts, source, keys, plan, created.clone())
        .await
        .and_then(|done| created.lock().expect("lock").finish().map(|()| done));
    match result {
        Ok(mut report) => {
            if let Some((store, entry)) = cleanup {
                match store.local_path(&entry.key) {
                    Some(_) => {
                        if let Err(e) = crate::catalog::delete(store.as_ref(), &entry).await {
                            tracing::warn!(
                                "--clean-after-restore: could not remove {}: {e}",
                                entry.key
                            );
                        }
                    }
                    None => tracing::info!(
                        "--clean-after-restore: the backup is not on local disk; nothing to remove"
                    ),
                }
            }
            report.seconds = started.elapsed().as_secs_f64();
            Ok(Some(report))
        }
        Err(e) => {
            created.lock().expect("lock").undo();
            Err(e)
        }
    }
}

/// Whose backup it is, from its manifest, else its key: host and instance (None for the
/// original tool's, which name the port only), and the day.
fn backup_of(
    report: &Summary,
    parts: &Option<KeyParts>,
) -> Option<(Option<(String, u32)>, String)> {
    match (&report.manifest, parts) {
        (Some(m), _) => Some((Some((m.host.clone(), m.instance_id)), m.date_str.clone())),
        (None, Some(k)) => Some((k.host.clone().zip(k.instance_id), k.day.clone())),
        (None, None) => None,
    }
}

async fn restore_into(
    s: &Settings,
    opts: &RestoreOptions,
    source: Source,
    keys: crate::codec::chain::Keys,
    plan: Option<(Arc<dyn crate::store::Store>, pitr::Plan)>,
    created: Arc<Mutex<Created>>,
) -> Result<RestoreReport> {
    let port = if opts.allow_other_port { 0 } else { s.port };
    let (data_dir, binlog_dir) = (s.data_dir.clone(), s.binlog_dir.clone());
    // A point-in-time restore installs no binlog: the backup's goes on past the target.
    let keep_binlog = !opts.data_only && plan.is_none();
    let format = source.format;
    let c2 = created.clone();
    let progress = crate::progress::Progress::start("restore", source.size);
    let input = crate::progress::counted(limited(source.stream, s.rate_limit), progress.clone());
    let ((report, _targets), fetched) =
        fetch_stream(input, &source.expected, &keys, move |reader| {
            unpack(reader, port, format, &mut |_layout, _archived_cnf| {
                let mut c = c2.lock().expect("lock");
                c.claim(&data_dir, "data dir", true)?;
                if binlog_dir != data_dir {
                    c.claim(&binlog_dir, "binlog dir", true)?;
                }
                Ok(Targets {
                    data_dir: data_dir.clone(),
                    binlog_dir: keep_binlog.then(|| binlog_dir.clone()),
                })
            })
        })
        .await?;
    progress.finish();
    if source.expected.sha1.is_none() {
        tracing::warn!(
            "no SHA-1 to check the archive against (stdin without --sha1); its SHA-1 is {}",
            fetched.digests.sha1
        );
    }
    let dirs = Dirs {
        data_dir: s.data_dir.clone(),
        binlog_dir: s.binlog_dir.clone(),
    };
    tracing::info!(
        "extracted {} bytes into {}",
        report.bytes,
        dirs.data_dir.display()
    );

    let coords = match report.manifest.as_ref().and_then(|m| m.data_binlog.clone()) {
        Some(c) => Some(c),
        None => crate::archive::marks::read_binlog_info(&dirs.data_dir)?,
    };
    if coords.is_none() && !report.binlog_files.is_empty() && !opts.data_only {
        return Err(Error::Refused(format!(
            "the backup holds a binlog but no binlog coordinates of its data ({}): the events \
             after the data cannot be told apart, and restoring its binlog would claim \
             transactions the data lacks. Pass --data-only to restore the data alone (its \
             binlog is not installed)",
            crate::archive::marks::Mark::BinlogInfo.either()
        )));
    }

    // The instance's my.cnf, rewritten into this restore's dirs.
    let who = backup_of(&report, &source.parts);
    let foreign = who
        .as_ref()
        .and_then(|(hi, _)| hi.as_ref())
        .filter(|(h, i)| *h != s.host || *i != s.instance_id)
        .map(|(h, i)| format!("instance {i} on {h}"));
    let archived = report
        .my_cnf
        .as_deref()
        .map(|b| MyCnf::parse(&String::from_utf8_lossy(b)))
        .unwrap_or_default();
    let manifest = report.manifest.as_ref();
    let origin = layout::Origin::new(
        &archived,
        manifest.map(|m| m.data_dir.as_str()),
        manifest.and_then(|m| m.binlog_basename.as_deref()),
        manifest.map(|m| m.port),
    );
    let target = layout::Target {
        data_dir: dirs.data_dir.clone(),
        binlog_dir: dirs.binlog_dir.clone(),
        port: s.port,
        binlog_base: report
            .binlog_files
            .first()
            .and_then(|f| f.rsplit_once('.').map(|(b, _)| b.to_string())),
        binlog_index: report.binlog_index.as_ref().map(|(n, _)| n.clone()),
        foreign: foreign.clone(),
        keep_code: opts.keep_code_options,
    };
    let rewritten = layout::rewrite(&archived, &origin, &target, &source.location);
    let mut warnings = rewritten.warnings.clone();
    if opts.data_only && !report.binlog_files.is_empty() {
        warnings.push(format!(
            "--data-only: the backup's binlog ({}) was neither applied nor installed",
            report.binlog_files.join(",")
        ));
    }
    let my_cnf_path = match report.my_cnf {
        Some(_) => created.lock().expect("lock").write_my_cnf(
            &s.my_cnf,
            &dirs.data_dir,
            &rewritten.text,
            &mut warnings,
        )?,
        None => s.my_cnf.clone(),
    };
    let cnf = MyCnf::parse(&rewritten.text);

    let kind = manifest.and_then(|m| ServerKind::recorded(&m.flavor, &m.server_version));
    let mut relocated = Vec::new();
    if report.layout == Layout::Streaming {
        relocated = crate::mysql::datadir::prepare(s, kind, &dirs.data_dir).await?;
    }
    for r in &relocated {
        let rebuilt = if r.partitioned {
            "; it is partitioned and not rebuilt (a copy would recreate its partitions where \
             their DATA DIRECTORY says): before any DDL that rebuilds it, rebuild it with \
             ALTER TABLE ... PARTITION BY ... without DATA DIRECTORY"
                .to_string()
        } else if opts.data_only || coords.is_none() {
            format!(
                "; before any DDL on it run {} (no temporary server ran to do it)",
                r.table
                    .as_ref()
                    .map(|(d, t)| crate::mysql::tablespaces::rebuild_statement(d, t))
                    .unwrap_or_else(|| "ALTER TABLE ... ENGINE=InnoDB, ALGORITHM=COPY".into())
            )
        } else {
            String::new()
        };
        warnings.push(format!(
            "table {} had DATA DIRECTORY {}: its tablespace is restored into the data dir{rebuilt}",
            r.file, r.was
        ));
    }
    for m in crate::mysql::datadir::place_layout_files(&cnf, &dirs.data_dir, &dirs.binlog_dir)? {
        tracing::info!("moved {m}");
    }
    if rewritten.copy {
        let tmp = dirs.data_dir.join(layout::COPY_TMPDIR);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create directory", &tmp, e))?;
    }
    warnings.extend(
        crate::mysql::datadir::hand_over(&s.server_user, &cnf, &dirs.data_dir, &dirs.binlog_dir)
            .await?,
    );

    let mut applied = crate::mysql::apply::Applied::default();
    match (&coords, opts.data_only) {
        _ if plan.is_some() => {
            let (store, p) = plan.as_ref().expect("a plan");
            let dir = dirs.data_dir.join(".mysqlbackup-pitr-binlog");
            std::fs::create_dir(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
            let paths = pitr::download(store, &keys, p, &dir).await?;
            applied = crate::mysql::apply::apply_binlog(
                s,
                &cnf,
                &dirs,
                crate::mysql::apply::Window::Range {
                    start: &p.from,
                    stop: &p.target,
                    paths: &paths,
                },
                &relocated,
            )
            .await?;
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
            warnings.push(
                "point-in-time restore: the backup's binlog, which goes on past the target, is \
                 not installed; the instance's binlog is new, its GTID state where the data \
                 stands now (its next transactions follow on). Its archive continues under a new \
                 generation"
                    .into(),
            );
        }
        (Some(c), false) => {
            let files = crate::mysql::apply::window_files(&report.binlog_files, c)?;
            applied = crate::mysql::apply::apply_binlog(
                s,
                &cnf,
                &dirs,
                crate::mysql::apply::Window::Backup {
                    from: c,
                    files: &files,
                },
                &relocated,
            )
            .await?;
        }
        (None, false) => tracing::warn!("the backup holds no binlog: nothing to apply"),
        (_, true) => {}
    }
    Ok(RestoreReport {
        source: source.location.clone(),
        backup_of: who.map(|(hi, d)| {
            let port = manifest.map_or(s.port, |m| m.port);
            match hi {
                Some((h, i)) => format!("host {h}, instance {i}, port {port}, {d}"),
                None => format!(
                    "port {port}, {d}: a backup of the original tool, which names no host or \
                     instance (it belongs to the port)"
                ),
            }
        }),
        data_dir: dirs.data_dir.clone(),
        binlog_dir: dirs.binlog_dir.clone(),
        my_cnf: my_cnf_path,
        layout: report.layout,
        data_binlog: coords.filter(|_| !opts.data_only),
        binlog_files_applied: applied.files,
        gtid_slave_pos: applied.slave_pos,
        until: plan.as_ref().map(|(_, p)| p.asked.clone()),
        until_gtid: plan.as_ref().map(|(_, p)| p.target.canonical()),
        rewritten: rewritten.changes,
        warnings,
        read_bytes: fetched.digests.len,
        seconds: 0.0,
    })
}

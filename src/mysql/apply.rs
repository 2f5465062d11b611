//! The binlog window applied to prepared data (restore, and `verify --prepare` in its scratch
//! dir): the events newer than the data, on a temporary server (generated configuration, no
//! binlog, no networking, no grant tables), leaving `gtid_slave_pos` consistent with what was
//! applied.

use std::path::{Path, PathBuf};

use mysql_async::prelude::Queryable;

use crate::archive::manifest::BinlogCoords;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::binlog::state::Position;
use crate::mysql::binlog::{Gtid, Scan, scan_from};

mod encrypted;
mod pipe;
use crate::mysql::mycnf::MyCnf;
use crate::mysql::replication::{ServerKind, quote};
use crate::mysql::server::TempServer;
use crate::mysql::server_config::{Dirs, Purpose, ServerConfig, run_as_owner_of};
use crate::mysql::{exec, find_binary};
use pipe::{Positions, Tools, pipe_events};

/// How much of a tool's stderr an error quotes.
const STDERR_EXCERPT: usize = 2000;

/// The events a restore applies.
#[derive(Clone, Copy, Debug)]
pub enum Window<'a> {
    /// The backup's binlog files (in the binlog dir), from the data's coordinates to their end.
    Backup {
        from: &'a BinlogCoords,
        files: &'a [String],
    },
    /// Archived binlog files (point-in-time recovery): the transactions after `start` up to
    /// `stop` included, per domain (a domain `stop` does not name gets nothing).
    Range {
        start: &'a Position,
        stop: &'a Position,
        paths: &'a [PathBuf],
    },
}

/// What the binlog apply did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub files: Vec<String>,
    /// `gtid_slave_pos` after the apply, when it had to move (events of other origins).
    pub slave_pos: Option<String>,
}

/// The binlog files of the window, in order: those of the data's base name from the data's
/// file on (files of another base are not this binlog's: `order_key` compares the base first).
/// The data's file must be among them.
pub fn window_files(binlog_files: &[String], from: &BinlogCoords) -> Result<Vec<String>> {
    let start = crate::mysql::binlog::order_key(&from.file);
    let mut files: Vec<String> = binlog_files
        .iter()
        .filter(|f| {
            let k = crate::mysql::binlog::order_key(f);
            k.0 == start.0 && k >= start
        })
        .cloned()
        .collect();
    crate::mysql::binlog::sort_names(&mut files);
    if files.first() != Some(&from.file) {
        return Err(Error::format(
            "archive",
            format!(
                "the data backup stops in binlog {} but the archive's binlog holds {binlog_files:?}",
                from.file
            ),
        ));
    }
    Ok(files)
}

/// Scans the window (`files` in `binlog_dir`, the first from `from.position`): its GTIDs
/// and whether it holds LOAD DATA events.
pub fn scan_window(binlog_dir: &Path, files: &[String], from: &BinlogCoords) -> Result<Scan> {
    let mut scan = Scan::default();
    for f in files {
        let path = binlog_dir.join(f);
        let file = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let start = if *f == from.file { from.position } else { 4 };
        scan_from(
            std::io::BufReader::with_capacity(1 << 20, file),
            start,
            &mut scan,
        )
        .map_err(|e| Error::format("binlog", format!("{f}: {e}")))?;
    }
    Ok(scan)
}

/// The last GTID per domain among `gtids` that another server than `own_server_id`
/// originated: the transactions restore applied that reached this instance through
/// replication.
pub fn foreign_tail(gtids: &[Gtid], own_server_id: u32) -> Position {
    let mut last = Position::default();
    for g in gtids.iter().filter(|g| g.server != own_server_id) {
        last.set(*g);
    }
    last
}

/// Starts a temporary server on the restored data, pipes the binlog events after `from`
/// (`mariadb-binlog --disable-log-bin`) into it, moves `gtid_slave_pos` past the applied
/// transactions of other origins, and shuts it down.
pub async fn apply_binlog(
    s: &Settings,
    cnf: &MyCnf,
    dirs: &Dirs,
    window: Window<'_>,
    relocated: &[crate::mysql::tablespaces::Relocated],
) -> Result<Applied> {
    let (from, files, range) = match window {
        Window::Backup { from, files } => (Some(from), files.to_vec(), None),
        Window::Range { start, stop, paths } => (
            None,
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>(),
            Some((start, stop, paths)),
        ),
    };
    let need = |names: &[&str]| {
        find_binary(&s.mysql_base, names).ok_or_else(|| {
            Error::Refused(format!(
                "{} not found under {} or on PATH",
                names[0],
                s.mysql_base.display()
            ))
        })
    };
    let mariadbd = need(&["mariadbd", "mysqld"])?;
    let binlog_tool = need(&["mariadb-binlog", "mysqlbinlog"])?;
    let client = need(&["mariadb", "mysql"])?;
    let kind = ServerKind::of_binary(&mariadbd).await?;
    let dialect = kind.dialect();
    let encrypted = match from {
        Some(_) => encrypted::any_encrypted(&dirs.binlog_dir, &files)?,
        None => false,
    };
    let mut scan = if encrypted {
        Scan::default()
    } else {
        match (from, range) {
            (Some(from), _) => {
                let (dir, files2, from2) = (dirs.binlog_dir.clone(), files.clone(), from.clone());
                tokio::task::spawn_blocking(move || scan_window(&dir, &files2, &from2))
                    .await
                    .map_err(|e| Error::stage("binlog", e.to_string()))??
            }
            (None, Some((start, stop, paths))) => {
                let (start, stop, paths) = (start.clone(), stop.clone(), paths.to_vec());
                tokio::task::spawn_blocking(move || scan_range(&paths, &start, &stop))
                    .await
                    .map_err(|e| Error::stage("binlog", e.to_string()))??
            }
            (None, None) => Scan::default(),
        }
    };
    let mut config = ServerConfig::generate(
        Some(cnf),
        dirs,
        Purpose::ApplyBinlog,
        &s.server_options,
        run_as_owner_of(&dirs.data_dir)?.as_deref(),
    )?;
    config.speak(dialect.as_ref());
    if encrypted {
        tracing::info!("the binlog is encrypted: the temporary server serves it, decrypted");
        encrypted::serving_args(&mut config.args, &dirs.binlog_dir, &files)?;
    }
    if range.is_some() {
        // The instance's new binlog (its state is set after the replay).
        let base = cnf
            .get("log_bin")
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&dirs.binlog_dir))
            .unwrap_or_else(|| dirs.binlog_dir.join("binlog"));
        let index = cnf
            .get("log_bin_index")
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&dirs.binlog_dir))
            .unwrap_or_else(|| PathBuf::from(format!("{}.index", base.display())));
        config.args.retain(|a| {
            a != "--skip-log-bin"
                && !a.starts_with("--log-bin=")
                && !a.starts_with("--log-bin-index=")
        });
        config.args.push(format!("--log-bin={}", base.display()));
        config
            .args
            .push(format!("--log-bin-index={}", index.display()));
        config.args.push("--gtid-strict-mode=0".into());
    }
    let mut server =
        TempServer::start(&mariadbd, &config, &s.mysql_user, s.root_password.clone()).await?;
    let result = async {
        // The server runs without grant tables (it is ours: private socket, no networking), so
        // the window applies whatever the backup user may do. This connection, made before the
        // client loads the grant tables for the window's account statements, keeps every
        // privilege for what follows.
        let mut conn = server.endpoint.connect().await?;
        exec(&mut conn, "SET SESSION wait_timeout = 31536000").await?;
        // Nothing this session does is a transaction of the instance (the rebuilds below),
        // even when the server logs (an encrypted window: it serves the restored binlog).
        exec(&mut conn, "SET SESSION sql_log_bin = 0").await?;
        if let (true, Some(from)) = (encrypted, from) {
            scan = encrypted::scan_via_server(&mut conn, &files, from.position).await?;
        }

        if scan.load_data {
            tracing::warn!(
                "the binlog window holds LOAD DATA events: mariadb-binlog turns them into LOAD \
                 DATA LOCAL INFILE of files it writes into the data dir, so the client reads \
                 local files"
            );
        }
        match (from, range) {
            (Some(from), _) => tracing::info!(
                "applying binlog from {}:{} ({} files, {} transactions)",
                from.file,
                from.position,
                files.len(),
                scan.gtids.len()
            ),
            (None, Some((start, stop, _))) => tracing::info!(
                "applying archived binlog after {start} up to {stop} ({} files, {} transactions)",
                files.len(),
                scan.gtids.len()
            ),
            _ => {}
        }
        let sources: Vec<PathBuf> = match (from, range) {
            (None, Some((_, _, paths))) => paths.to_vec(),
            _ if encrypted => files.iter().map(PathBuf::from).collect(),
            _ => files.iter().map(|f| dirs.binlog_dir.join(f)).collect(),
        };
        let positions = match (from, range) {
            (Some(from), _) => Positions::Bytes(from.position),
            (None, Some((start, stop, _))) => Positions::Gtids(start.canonical(), stop.canonical()),
            _ => Positions::Bytes(4),
        };
        let tools = Tools {
            binlog: &binlog_tool,
            binlog_args: dialect.binlog_tool_args(),
            client: &client,
            local_load: &config.tmp_dir,
            local_infile: scan.load_data,
            remote: encrypted.then_some(server.endpoint.socket.as_path()),
        };
        // Tables whose tablespace came from elsewhere are rebuilt in the data dir before the
        // window (a rebuild in it would crash the server on their DATA DIRECTORY flag).
        for (schema, table) in relocated
            .iter()
            .filter(|r| !r.partitioned)
            .filter_map(|r| r.table.as_ref())
        {
            tracing::info!("rebuilding {schema}.{table} in the data dir");
            exec(
                &mut conn,
                &crate::mysql::tablespaces::rebuild_statement(schema, table),
            )
            .await?;
        }
        pipe_events(s, &tools, &server, &positions, &sources).await?;
        let mariadb = kind.flavor == crate::mysql::Flavor::MariaDb;
        // MySQL has no slave position: its gtid_executed already holds what was applied.
        let sql = if mariadb {
            "SELECT @@server_id, @@gtid_slave_pos"
        } else {
            "SELECT @@server_id, ''"
        };
        let (own, slave): (u32, String) = conn
            .query_first(sql)
            .await
            .map_err(|e| crate::error::Error::mysql(sql, e))?
            .unwrap_or_default();
        if let Some((start, _, _)) = range {
            // The instance's binlog is new: empty, its state where the data now stands (what
            // was replayed is not logged again), so that its next transactions follow.
            let mut state = crate::mysql::binlog::state::GtidState::parse(&start.canonical())?;
            for g in &scan.gtids {
                state.apply(*g);
            }
            exec(&mut conn, "RESET MASTER").await?;
            exec(
                &mut conn,
                &format!(
                    "SET GLOBAL gtid_binlog_state = {}",
                    quote(&state.canonical())
                ),
            )
            .await?;
        }
        let slave = Position::lenient(&slave);
        let merged = slave.merge(&foreign_tail(&scan.gtids, own));
        let moved = mariadb && merged != slave;
        if moved {
            tracing::info!(
                "gtid_slave_pos {slave:?} -> {merged:?} (applied transactions of other servers)"
            );
            exec(
                &mut conn,
                &format!("SET GLOBAL gtid_slave_pos = {}", quote(&merged.to_string())),
            )
            .await?;
        }
        // On this privileged session: the client may have loaded the grant tables.
        let _ = conn.query_drop("SHUTDOWN").await;
        Ok(Applied {
            files: files
                .iter()
                .map(|f| {
                    std::path::Path::new(f)
                        .file_name()
                        .map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
                })
                .collect(),
            slave_pos: moved.then(|| merged.to_string()),
        })
    }
    .await;
    match result {
        Ok(a) => {
            server.shutdown().await?;
            Ok(a)
        }
        Err(e) => {
            server.kill().await;
            Err(e)
        }
    }
}

/// Scans archived files: the GTIDs after `start` up to `stop` (included, per domain), and
/// whether a LOAD DATA event is among the files.
pub fn scan_range(paths: &[PathBuf], start: &Position, stop: &Position) -> Result<Scan> {
    let mut all = Scan::default();
    for path in paths {
        let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
        scan_from(
            std::io::BufReader::with_capacity(1 << 20, file),
            4,
            &mut all,
        )
        .map_err(|e| Error::format("binlog", format!("{}: {e}", path.display())))?;
    }
    all.gtids.retain(|g| !start.covers(*g) && stop.covers(*g));
    Ok(all)
}

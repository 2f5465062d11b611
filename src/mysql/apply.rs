//! The binlog window applied to prepared data (restore, and `verify --prepare` in its scratch
//! dir): the events newer than the data, on a temporary server (generated configuration, no
//! binlog, no networking, no grant tables), leaving `gtid_slave_pos` consistent with what was
//! applied.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use mysql_async::prelude::Queryable;

use crate::archive::manifest::BinlogCoords;
use crate::config::Settings;
use crate::error::{Error, Result, excerpt};
use crate::mysql::binlog::state::Position;
use crate::mysql::binlog::{Gtid, Scan, scan_from};

mod encrypted;
use crate::mysql::mycnf::MyCnf;
use crate::mysql::replication::{ServerKind, quote};
use crate::mysql::server::TempServer;
use crate::mysql::server_config::{Dirs, Purpose, ServerConfig, run_as_owner_of};
use crate::mysql::{exec, find_binary};

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

/// Waits (30 s at most) until the server shows the binlog tool's dump thread, or the tool
/// exited (its error is then reported where it is waited for).
async fn wait_for_dump(server: &TempServer, reader: &mut tokio::process::Child) -> Result<()> {
    let mut conn = server.endpoint.connect().await?;
    let started = std::time::Instant::now();
    let sql =
        "SELECT COUNT(*) FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'";
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let n: Option<u64> = conn
            .query_first(sql)
            .await
            .map_err(|e| Error::mysql(sql, e))?;
        if n.unwrap_or(0) > 0 || reader.try_wait().ok().flatten().is_some() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(Error::Failed(
        "mariadb-binlog did not start reading the encrypted binlog from the temporary server \
         within 30 s"
            .into(),
    ))
}

/// Where the binlog tool starts and stops.
enum Positions {
    /// From a byte offset in the first file to the end.
    Bytes(u64),
    /// After a GTID position, up to another (included).
    Gtids(String, String),
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

/// The binlog tools and how they run.
struct Tools<'a> {
    binlog: &'a Path,
    /// What the binlog tool needs on this flavor ([`crate::mysql::dialect::Dialect::binlog_tool_args`]).
    binlog_args: &'static [&'static str],
    client: &'a Path,
    /// Where `mariadb-binlog` writes the files of LOAD DATA events (inside the data dir).
    local_load: &'a Path,
    /// Whether the client may read local files (only when the window has LOAD DATA events).
    local_infile: bool,
    /// The server's socket when the binlog tool reads the events from it (an encrypted
    /// binlog: the paths are then the files' names on the server).
    remote: Option<&'a Path>,
}

/// `mariadb-binlog ... | mariadb ...` into the temporary server; errors quote at most an
/// excerpt of what the tools said, the client's first (a failing client makes the reader die
/// of a broken pipe). Both are waited for together, so neither blocks on a full stderr pipe.
async fn pipe_events(
    s: &Settings,
    t: &Tools<'_>,
    server: &TempServer,
    positions: &Positions,
    paths: &[PathBuf],
) -> Result<()> {
    let socket = server.endpoint.socket.clone();
    crate::cancel::or_cancelled(async move {
        let mut rcmd = tokio::process::Command::new(t.binlog);
        rcmd.arg("--no-defaults")
            // Never logged twice: the backup's window is in the binlog installed beside the
            // data; a point-in-time window's state is set in the new binlog after it.
            .arg("--disable-log-bin")
            .args(t.binlog_args)
            .arg(format!("--local-load={}", t.local_load.display()));
        match positions {
            Positions::Bytes(position) => {
                rcmd.arg(format!("--start-position={position}"));
            }
            Positions::Gtids(start, stop) => {
                if !start.is_empty() {
                    rcmd.arg(format!("--start-position={start}"));
                }
                rcmd.arg(format!("--stop-position={stop}"));
            }
        }
        if let Some(socket) = t.remote {
            // One connection from the first file to the end of the server's binlog (a dump
            // crosses rotations), made before the client loads the grant tables.
            rcmd.arg("--read-from-remote-server")
                .arg("--to-last-log")
                .arg(format!("--socket={}", socket.display()))
                .arg("--user=root")
                .args(&paths[..paths.len().min(1)]);
        } else {
            rcmd.args(paths);
        }
        rcmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        crate::procfs::no_secrets(&mut rcmd);
        let mut reader = rcmd.spawn().map_err(|e| Error::io("run", t.binlog, e))?;
        if t.remote.is_some() {
            // The reader logs in as root, which the server accepts until the client below
            // loads the grant tables: the client starts once the reader's dump runs.
            wait_for_dump(server, &mut reader).await?;
        }
        let events: Stdio = reader
            .stdout
            .take()
            .expect("piped")
            .try_into()
            .map_err(|e| Error::io("pipe", t.binlog, e))?;
        let mut cmd = tokio::process::Command::new(t.client);
        cmd.args([
            "--no-defaults",
            "--binary-mode",
            "--max-allowed-packet=1G",
            &format!("--local-infile={}", u8::from(t.local_infile)),
            &format!("--user={}", s.mysql_user),
            // Started without grant tables: load them, so that account statements in the
            // window (CREATE USER, GRANT) apply; this session keeps every privilege.
            "--init-command=FLUSH LOCAL PRIVILEGES",
        ])
        .arg(format!("--socket={}", socket.display()))
        .stdin(events)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env_remove("MYSQL_PWD");
        crate::procfs::no_secrets(&mut cmd);
        if let Some(p) = &s.root_password {
            cmd.env("MYSQL_PWD", p.expose());
        }
        let (out, rout) = tokio::join!(cmd.output(), reader.wait_with_output());
        let out = out.map_err(|e| Error::io("run", t.client, e))?;
        let rout = rout.map_err(|e| Error::io("run", t.binlog, e))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Failed(format!(
                "applying binlog events failed ({}): {}{}",
                out.status,
                excerpt(said.trim(), STDERR_EXCERPT),
                if said.contains("ERROR 1146") {
                    "\nthe window uses a table the data does not have: with binlog_format \
                     STATEMENT or MIXED, most likely a temporary table created before the \
                     backup's data point (its CREATE TEMPORARY TABLE is not in the window). This \
                     backup cannot be brought to its binlog's end: restore another backup, or \
                     the data alone with --data-only (without the window's transactions); back \
                     up with binlog_format=ROW to avoid it"
                } else {
                    ""
                }
            )));
        }
        if !rout.status.success() {
            return Err(Error::Failed(format!(
                "{} failed ({}): {}",
                t.binlog.display(),
                rout.status,
                excerpt(String::from_utf8_lossy(&rout.stderr).trim(), STDERR_EXCERPT)
            )));
        }
        Ok(())
    })
    .await
}

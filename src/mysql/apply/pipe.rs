//! The binlog tool piped into the client: `mariadb-binlog ... | mariadb ...` into the temporary
//! server, from a byte offset or between GTID positions, reading files or (an encrypted binlog)
//! the server's own dump.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use mysql_async::prelude::Queryable;

use crate::config::Settings;
use crate::error::{Error, Result, excerpt};
use crate::mysql::server::TempServer;

use super::STDERR_EXCERPT;

/// The binlog tools and how they run.
pub(super) struct Tools<'a> {
    pub(super) binlog: &'a Path,
    /// What the binlog tool needs on this flavor ([`crate::mysql::dialect::Dialect::binlog_tool_args`]).
    pub(super) binlog_args: &'static [&'static str],
    pub(super) client: &'a Path,
    /// Where `mariadb-binlog` writes the files of LOAD DATA events (inside the data dir).
    pub(super) local_load: &'a Path,
    /// Whether the client may read local files (only when the window has LOAD DATA events).
    pub(super) local_infile: bool,
    /// The server's socket when the binlog tool reads the events from it (an encrypted
    /// binlog: the paths are then the files' names on the server).
    pub(super) remote: Option<&'a Path>,
}

/// `mariadb-binlog ... | mariadb ...` into the temporary server; errors quote at most an
/// excerpt of what the tools said, the client's first (a failing client makes the reader die
/// of a broken pipe). Both are waited for together, so neither blocks on a full stderr pipe.
pub(super) async fn pipe_events(
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
pub(super) enum Positions {
    /// From a byte offset in the first file to the end.
    Bytes(u64),
    /// After a GTID position, up to another (included).
    Gtids(String, String),
}

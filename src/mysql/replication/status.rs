//! Channel state: reading it, and the waits until every channel runs or has caught up.

use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::Dialect;
use crate::error::{Error, Result};
use crate::mysql::gtid::{GtidPos, Position};

/// The state of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelStatus {
    pub name: String,
    /// `host:port`.
    pub master: String,
    pub host: String,
    pub port: u16,
    pub last_io_errno: u32,
    pub io_running: String,
    pub sql_running: String,
    pub seconds_behind: Option<u64>,
    pub last_io_error: String,
    pub last_sql_error: String,
    pub read_pos: u64,
    pub exec_pos: u64,
    pub master_file: String,
    pub relay_master_file: String,
    /// What the IO thread has received (MariaDB `Gtid_IO_Pos`, MySQL `Retrieved_Gtid_Set`):
    /// in the relay log, applied or not.
    pub received: GtidPos,
    /// What the server has executed (MariaDB `Gtid_Slave_Pos`, MySQL `Executed_Gtid_Set`).
    pub executed: GtidPos,
    /// Domains the channel ignores (`IGNORE_DOMAIN_IDS`), or keeps alone (`DO_DOMAIN_IDS`).
    pub ignore_domains: Vec<u32>,
    pub do_domains: Vec<u32>,
}

impl ChannelStatus {
    /// Caught up: both threads running, < 1 s behind, everything received executed.
    pub fn caught_up(&self) -> bool {
        self.io_running == "Yes"
            && self.sql_running == "Yes"
            && self.seconds_behind == Some(0)
            && self.read_pos == self.exec_pos
            && self.master_file == self.relay_master_file
            && self.last_sql_error.is_empty()
    }
    /// Both threads running (the IO thread connected to its master).
    pub fn running(&self) -> bool {
        self.io_running == "Yes" && self.sql_running == "Yes"
    }
    /// One line of state for reports: name, master, threads, lag, last errors.
    pub fn line(&self) -> String {
        let behind = self
            .seconds_behind
            .map(|s| format!("{s}s"))
            .unwrap_or_else(|| "?".into());
        let mut l = format!(
            "{} ({}): io={} sql={} behind={behind}",
            self.name, self.master, self.io_running, self.sql_running
        );
        if !self.last_io_error.is_empty() {
            l.push_str(&format!(" io_error={:?}", self.last_io_error));
        }
        if !self.last_sql_error.is_empty() {
            l.push_str(&format!(" sql_error={:?}", self.last_sql_error));
        }
        l
    }
}

/// A comma-separated list of ids.
fn ids(text: &str) -> Vec<u32> {
    text.split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

/// The text of column `col` of a row ("" when absent or NULL).
pub fn column_text(r: &mysql_async::Row, col: &str) -> String {
    r.columns_ref()
        .iter()
        .position(|c| c.name_str() == col)
        .and_then(|i| r.get_opt::<Option<String>, usize>(i))
        .and_then(|v| v.ok())
        .flatten()
        .unwrap_or_default()
}

impl Default for ChannelStatus {
    fn default() -> Self {
        ChannelStatus {
            name: String::new(),
            master: String::new(),
            host: String::new(),
            port: 0,
            last_io_errno: 0,
            io_running: String::new(),
            sql_running: String::new(),
            seconds_behind: None,
            last_io_error: String::new(),
            last_sql_error: String::new(),
            read_pos: 0,
            exec_pos: 0,
            master_file: String::new(),
            relay_master_file: String::new(),
            received: GtidPos::MariaDb(Position::default()),
            executed: GtidPos::MariaDb(Position::default()),
            ignore_domains: Vec::new(),
            do_domains: Vec::new(),
        }
    }
}

/// One channel's status row in `d`'s column names, `text(column)` giving a column's text
/// ("" when absent or NULL). A position that does not parse fails: it is what catch-up
/// decides on.
pub fn parse_status(d: &dyn Dialect, text: &dyn Fn(&str) -> String) -> Result<ChannelStatus> {
    let c = d.columns();
    let position = |col: &str| {
        d.parse_position(&text(col)).map_err(|e| {
            Error::Failed(format!(
                "{}: channel {:?}: column {col}: {e}",
                d.kind(),
                text(c.name)
            ))
        })
    };
    Ok(ChannelStatus {
        name: text(c.name),
        master: format!("{}:{}", text(c.host), text(c.port)),
        host: text(c.host),
        port: text(c.port).parse().unwrap_or(0),
        last_io_errno: text("Last_IO_Errno").parse().unwrap_or(0),
        io_running: text(c.io_running),
        sql_running: text(c.sql_running),
        seconds_behind: text(c.seconds_behind).parse().ok(),
        last_io_error: text("Last_IO_Error"),
        last_sql_error: text("Last_SQL_Error"),
        read_pos: text(c.read_pos).parse().unwrap_or(0),
        exec_pos: text(c.exec_pos).parse().unwrap_or(0),
        master_file: text(c.source_file),
        relay_master_file: text(c.relay_source_file),
        received: position(c.received)?,
        executed: position(c.executed)?,
        ignore_domains: ids(&text("Replicate_Ignore_Domain_Ids")),
        do_domains: ids(&text("Replicate_Do_Domain_Ids")),
    })
}

/// Reads the status of every channel.
pub async fn status(conn: &mut Conn, d: &dyn Dialect) -> Result<Vec<ChannelStatus>> {
    let sql = d.status_all();
    let rows: Vec<mysql_async::Row> = conn
        .query(sql.as_str())
        .await
        .map_err(|e| Error::mysql(&sql, e))?;
    rows.iter()
        .map(|r| parse_status(d, &|col| column_text(r, col)))
        .collect()
}

/// The status of the channels named in `channels`.
async fn status_of(
    conn: &mut Conn,
    d: &dyn Dialect,
    channels: &[String],
) -> Result<Vec<ChannelStatus>> {
    Ok(status(conn, d)
        .await?
        .into_iter()
        .filter(|c| channels.iter().any(|n| n.eq_ignore_ascii_case(&c.name)))
        .collect())
}

/// An error naming the first channel whose SQL thread stopped on an error (it does not retry).
fn fail_on_sql_error(st: &[ChannelStatus]) -> Result<()> {
    match st.iter().find(|c| !c.last_sql_error.is_empty()) {
        Some(bad) => Err(Error::Failed(format!(
            "replication channel {} failed: {}",
            bad.name,
            bad.line()
        ))),
        None => Ok(()),
    }
}

/// Waits up to `timeout` until both threads of every channel run; returns their state. An SQL
/// thread error fails at once, naming the channel; an IO thread still connecting after the wait
/// is not an error (it keeps retrying): its state, with the last IO error, is in the result.
pub async fn wait_running(
    conn: &mut Conn,
    d: &dyn Dialect,
    timeout: Duration,
) -> Result<Vec<ChannelStatus>> {
    let started = Instant::now();
    loop {
        crate::cancel::check()?;
        let st = status(conn, d).await?;
        fail_on_sql_error(&st)?;
        if st.iter().all(ChannelStatus::running) || started.elapsed() > timeout {
            return Ok(st);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An error naming the first channel whose IO thread reports an error (connection refused,
/// access denied, 2061: `caching_sha2_password` without TLS or the source's public key, 1236:
/// the peer lacks what we asked for). It would retry, but catch-up cannot be complete without
/// that peer, so it fails at once, saying what to change where the error tells.
fn fail_on_io_error(st: &[ChannelStatus]) -> Result<()> {
    let Some(bad) = st.iter().find(|c| c.last_io_errno != 0) else {
        return Ok(());
    };
    let hint = match bad.last_io_errno {
        2061 => {
            "; the source's caching_sha2_password account needs TLS or the source's public key: \
             name the peer in conf `replication.source` (catch-up and setup_replication then make \
             the channel with GET_SOURCE_PUBLIC_KEY=1, and TLS unless `replication.ssl` is \
             false), or recreate the channel with SOURCE_SSL=1 or GET_SOURCE_PUBLIC_KEY=1 \
             (before MySQL 8.0.23: MASTER_SSL, GET_MASTER_PUBLIC_KEY)"
        }
        1045 => "; check `replication.user`/`replication.password` and the peer's grants",
        2003 | 2005 => "; is the peer running and reachable from this host?",
        _ => "",
    };
    Err(Error::Failed(format!(
        "replication channel {} cannot read from its peer (error {}): {}{hint}",
        bad.name,
        bad.last_io_errno,
        bad.line()
    )))
}

/// Waits until every channel is caught up: the replica has applied everything its peers had
/// when the wait began (`target`, their merged GTID positions; see [`wait_statement`]) and
/// each channel is < 1 s behind with no error. Reports progress; fails at once naming the
/// channel on an IO or SQL error, or on the timeout with the lagging channels' state.
///
/// Caught up is never judged from the channel state alone: right after START SLAVE a channel
/// shows both threads running, 0 s behind and equal positions before the peer sent anything.
///
/// Only the channels named in `channels` count (catch-up leaves those of unreachable peers
/// stopped).
pub async fn wait_caught_up(
    conn: &mut Conn,
    d: &dyn Dialect,
    channels: &[String],
    target: &GtidPos,
    timeout: Duration,
) -> Result<Vec<ChannelStatus>> {
    let started = Instant::now();
    let mut last_report = Instant::now() - Duration::from_secs(60);
    let wait = d.wait_statement(target);
    let progress = crate::progress::Progress::status("catch-up");
    loop {
        crate::cancel::check()?;
        let st = status_of(conn, d, channels).await?;
        progress.message(
            &st.iter()
                .map(|c| {
                    let behind = c.seconds_behind.map_or("?".into(), |s| format!("{s}s"));
                    format!("{} {behind} behind", c.name)
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        if st.is_empty() {
            return Err(Error::Failed(
                "no replication channel to catch up from".into(),
            ));
        }
        fail_on_sql_error(&st)?;
        fail_on_io_error(&st)?;
        let reached = target.is_empty() || {
            let r: Option<Option<i64>> = conn
                .query_first(wait.as_str())
                .await
                .map_err(|e| Error::mysql("wait for the peers' GTID position", e))?;
            match r.flatten() {
                Some(v) => v == 0,
                None => {
                    // The wait did not sleep (no answer): do it here.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    false
                }
            }
        };
        if reached {
            let st = status_of(conn, d, channels).await?;
            fail_on_sql_error(&st)?;
            if st.iter().all(ChannelStatus::caught_up) {
                return Ok(st);
            }
        }
        if started.elapsed() > timeout {
            let lagging: Vec<String> = st
                .iter()
                .filter(|c| !c.caught_up() || !reached)
                .map(ChannelStatus::line)
                .collect();
            return Err(Error::Failed(format!(
                "catch-up timed out after {}s before reaching the peers' position {target}; \
                 channels: {}",
                timeout.as_secs(),
                lagging.join("; ")
            )));
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            for c in &st {
                tracing::info!("catch-up (to {target}): {}", c.line());
            }
            last_report = Instant::now();
        }
        if !reached {
            continue; // the wait statement slept for up to a second
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

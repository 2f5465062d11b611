//! Replication channels: the SQL each flavor needs (MariaDB named connections, MySQL
//! `FOR CHANNEL`), channel status, and the wait until every channel has caught up.

use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use serde::Deserialize;

use super::Flavor;
use crate::config::Secret;
use crate::error::{Error, Result};

/// A replication peer in conf `replication.source`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub host: String,
    pub port: u16,
    pub id: u32,
}

/// conf `replication`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    pub user: Option<String>,
    pub password: Option<Secret>,
    #[serde(default)]
    pub source: Vec<PeerConfig>,
    /// Seconds between a replica's reconnection attempts (MASTER_CONNECT_RETRY); default 10.
    pub connect_retry: Option<u32>,
    /// How long catchup_binlog waits for every channel to be < 1 s behind; default 3600.
    pub catchup_timeout: Option<u64>,
}

/// The channel (MariaDB: connection name) for a peer.
pub fn channel_name(peer: &PeerConfig) -> String {
    format!("peer{}", peer.id)
}

/// Quotes a string literal for SQL on a connection made by [`super::Endpoint::connect`] or
/// [`connect_peer`], whose session has `NO_BACKSLASH_ESCAPES` off whatever the server's
/// sql_mode: `'` doubled (right in every mode), `\` and NUL escaped.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('\'');
    for c in s.chars() {
        match c {
            '\'' => q.push_str("''"),
            '\\' => q.push_str("\\\\"),
            '\0' => q.push_str("\\0"),
            c => q.push(c),
        }
    }
    q.push('\'');
    q
}

/// The session statement that turns `NO_BACKSLASH_ESCAPES` off (what [`quote`] relies on).
pub const SESSION_SQL_MODE: &str = "SET SESSION sql_mode = REPLACE(REPLACE(REPLACE(@@SESSION.sql_mode, \
     'NO_BACKSLASH_ESCAPES,', ''), ',NO_BACKSLASH_ESCAPES', ''), 'NO_BACKSLASH_ESCAPES', '')";

/// A server's error message with `secret` replaced by `***` (a syntax error echoes the
/// statement, which may hold a password).
pub fn redacted(e: &mysql_async::Error, secret: &str) -> String {
    let msg = e.to_string();
    if secret.is_empty() {
        msg
    } else {
        msg.replace(secret, "***")
    }
}

/// Connects to a peer over TCP (bounded by 10 s) with the replication account.
pub async fn connect_peer(host: &str, port: u16, user: &str, password: &str) -> Result<Conn> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(host.to_string())
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some(user.to_string()))
        .pass(Some(password.to_string()))
        .init(vec![SESSION_SQL_MODE.to_string()]);
    let what = format!("connect to {host}:{port} as {user}");
    match tokio::time::timeout(Duration::from_secs(10), Conn::new(opts)).await {
        Ok(r) => r.map_err(|e| Error::Refused(format!("{what}: {}", redacted(&e, password)))),
        Err(_) => Err(Error::Refused(format!("{what}: timed out after 10 s"))),
    }
}

/// The user and password a channel connects with, from its master info file in the data dir
/// (MariaDB: `master-{name}.info`, or `master.info` for the unnamed one; lines 5 and 6).
pub fn master_info_credentials(
    data_dir: &std::path::Path,
    channel: &str,
) -> Option<(String, crate::config::Secret)> {
    let name = if channel.is_empty() {
        "master.info".to_string()
    } else {
        format!("master-{}.info", channel.to_ascii_lowercase())
    };
    let entries = std::fs::read_dir(data_dir).ok()?;
    let path = entries
        .flatten()
        .find(|e| e.file_name().to_string_lossy().to_ascii_lowercase() == name)?
        .path();
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    Some((
        lines.get(4)?.to_string(),
        crate::config::Secret::new(lines.get(5)?.to_string()),
    ))
}

/// MariaDB GTID position to resume from, given `@@gtid_binlog_pos` and `@@gtid_slave_pos`
/// (`domain-server-seq` lists): per domain, the GTID with the higher sequence number (GTID
/// sequence numbers only grow within a domain). Sorted by domain; malformed entries are
/// dropped.
pub fn resume_position(binlog_pos: &str, slave_pos: &str) -> String {
    let mut by_domain: std::collections::BTreeMap<u32, (u32, u64)> = Default::default();
    for gtid in binlog_pos.split(',').chain(slave_pos.split(',')) {
        let mut it = gtid.trim().split('-');
        let (Some(domain), Some(server), Some(seq), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let (Ok(domain), Ok(server), Ok(seq)) = (domain.parse(), server.parse(), seq.parse())
        else {
            continue;
        };
        let e = by_domain.entry(domain).or_insert((server, seq));
        if seq > e.1 {
            *e = (server, seq);
        }
    }
    by_domain
        .iter()
        .map(|(d, (s, n))| format!("{d}-{s}-{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Statements of one flavor.
#[derive(Clone, Copy, Debug)]
pub struct Dialect(pub Flavor);

impl Dialect {
    fn name_clause(self, channel: &str) -> String {
        match self.0 {
            Flavor::MariaDb => format!(" {}", quote(channel)),
            Flavor::MySql => String::new(),
        }
    }
    fn for_channel(self, channel: &str) -> String {
        match self.0 {
            Flavor::MariaDb => String::new(),
            Flavor::MySql => format!(" FOR CHANNEL {}", quote(channel)),
        }
    }

    /// `CHANGE MASTER` for a peer (GTID auto-positioning). Holds the password: never log it.
    pub fn change_master(
        self,
        channel: &str,
        peer: &PeerConfig,
        user: &str,
        password: &str,
        retry: u32,
    ) -> String {
        let gtid = match self.0 {
            Flavor::MariaDb => "MASTER_USE_GTID=slave_pos",
            Flavor::MySql => "MASTER_AUTO_POSITION=1",
        };
        format!(
            "CHANGE MASTER{} TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USER={}, MASTER_PASSWORD={}, MASTER_CONNECT_RETRY={retry}, {gtid}{}",
            self.name_clause(channel),
            quote(&peer.host),
            peer.port,
            quote(user),
            quote(password),
            self.for_channel(channel)
        )
    }
    /// `START SLAVE` for one channel.
    pub fn start(self, channel: &str) -> String {
        format!(
            "START SLAVE{}{}",
            self.name_clause(channel),
            self.for_channel(channel)
        )
    }
    /// `STOP SLAVE` for one channel.
    pub fn stop(self, channel: &str) -> String {
        format!(
            "STOP SLAVE{}{}",
            self.name_clause(channel),
            self.for_channel(channel)
        )
    }
    /// `RESET SLAVE` for one channel (relay logs and position; connection settings kept).
    pub fn reset(self, channel: &str) -> String {
        format!(
            "RESET SLAVE{}{}",
            self.name_clause(channel),
            self.for_channel(channel)
        )
    }
    /// Status of every channel.
    pub fn status_all(self) -> &'static str {
        match self.0 {
            Flavor::MariaDb => "SHOW ALL SLAVES STATUS",
            Flavor::MySql => "SHOW SLAVE STATUS",
        }
    }
    /// Stops every channel.
    pub fn stop_all(self) -> &'static str {
        match self.0 {
            Flavor::MariaDb => "STOP ALL SLAVES",
            Flavor::MySql => "STOP SLAVE",
        }
    }
}

/// The state of one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// Reads the status of every channel.
pub async fn status(conn: &mut Conn, d: Dialect) -> Result<Vec<ChannelStatus>> {
    let rows: Vec<mysql_async::Row> = conn
        .query(d.status_all())
        .await
        .map_err(|e| Error::mysql(d.status_all(), e))?;
    let text = |r: &mysql_async::Row, col: &str| -> String {
        r.columns_ref()
            .iter()
            .position(|c| c.name_str() == col)
            .and_then(|i| r.get_opt::<Option<String>, usize>(i))
            .and_then(|v| v.ok())
            .flatten()
            .unwrap_or_default()
    };
    Ok(rows
        .iter()
        .map(|r| ChannelStatus {
            name: match d.0 {
                Flavor::MariaDb => text(r, "Connection_name"),
                Flavor::MySql => text(r, "Channel_Name"),
            },
            master: format!("{}:{}", text(r, "Master_Host"), text(r, "Master_Port")),
            host: text(r, "Master_Host"),
            port: text(r, "Master_Port").parse().unwrap_or(0),
            last_io_errno: text(r, "Last_IO_Errno").parse().unwrap_or(0),
            io_running: text(r, "Slave_IO_Running"),
            sql_running: text(r, "Slave_SQL_Running"),
            seconds_behind: text(r, "Seconds_Behind_Master").parse().ok(),
            last_io_error: text(r, "Last_IO_Error"),
            last_sql_error: text(r, "Last_SQL_Error"),
            read_pos: text(r, "Read_Master_Log_Pos").parse().unwrap_or(0),
            exec_pos: text(r, "Exec_Master_Log_Pos").parse().unwrap_or(0),
            master_file: text(r, "Master_Log_File"),
            relay_master_file: text(r, "Relay_Master_Log_File"),
        })
        .collect())
}

/// (Re)creates the channels of `repl` on a running server and starts each one.
pub async fn setup_channels(
    conn: &mut Conn,
    d: Dialect,
    repl: &ReplicationConfig,
) -> Result<Vec<String>> {
    let user = repl.user.clone().ok_or_else(|| {
        Error::Config("`replication.user` is required to set up replication".into())
    })?;
    let password = repl.password.clone().unwrap_or_default();
    let mut names = Vec::new();
    for peer in &repl.source {
        let ch = channel_name(peer);
        let _ = conn.query_drop(d.stop(&ch)).await;
        let sql = d.change_master(
            &ch,
            peer,
            &user,
            password.expose(),
            repl.connect_retry.unwrap_or(10),
        );
        conn.query_drop(sql).await.map_err(|e| {
            Error::Refused(format!(
                "mysql CHANGE MASTER for channel {ch} ({}:{}): {}",
                peer.host,
                peer.port,
                redacted(&e, password.expose())
            ))
        })?;
        names.push(ch);
    }
    Ok(names)
}

/// Starts every channel; with several MariaDB channels, an event arriving through more than one
/// peer is applied once (`gtid_ignore_duplicates`).
pub async fn start_channels(conn: &mut Conn, d: Dialect, channels: &[String]) -> Result<()> {
    if d.0 == Flavor::MariaDb && channels.len() > 1 {
        super::exec(conn, "SET GLOBAL gtid_ignore_duplicates = ON").await?;
    }
    for ch in channels {
        super::exec(conn, &d.start(ch)).await?;
    }
    Ok(())
}

/// An error naming the first channel whose SQL thread stopped on an error (it does not retry).
fn fail_on_sql_error(st: &[ChannelStatus]) -> Result<()> {
    match st.iter().find(|c| !c.last_sql_error.is_empty()) {
        Some(bad) => Err(Error::Refused(format!(
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
    d: Dialect,
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
/// access denied, 1236: the peer lacks what we asked for). It would retry, but catch-up cannot
/// be complete without that peer, so it fails at once.
fn fail_on_io_error(st: &[ChannelStatus]) -> Result<()> {
    match st.iter().find(|c| c.last_io_errno != 0) {
        Some(bad) => Err(Error::Refused(format!(
            "replication channel {} cannot read from its peer: {}",
            bad.name,
            bad.line()
        ))),
        None => Ok(()),
    }
}

/// The statement that waits up to one second for the replica to reach `target` (what the
/// peers had when the wait began): 0 when reached.
pub fn wait_statement(d: Dialect, target: &str) -> String {
    match d.0 {
        Flavor::MariaDb => format!("SELECT MASTER_GTID_WAIT({}, 1)", quote(target)),
        Flavor::MySql => format!("SELECT WAIT_FOR_EXECUTED_GTID_SET({}, 1)", quote(target)),
    }
}

/// Waits until every channel is caught up: the replica has applied everything its peers had
/// when the wait began (`target`, their merged GTID positions; see [`wait_statement`]) and
/// each channel is < 1 s behind with no error. Reports progress; fails at once naming the
/// channel on an IO or SQL error, or on the timeout with the lagging channels' state.
///
/// Caught up is never judged from the channel state alone: right after START SLAVE a channel
/// shows both threads running, 0 s behind and equal positions before the peer sent anything.
pub async fn wait_caught_up(
    conn: &mut Conn,
    d: Dialect,
    target: &str,
    timeout: Duration,
) -> Result<Vec<ChannelStatus>> {
    let started = Instant::now();
    let mut last_report = Instant::now() - Duration::from_secs(60);
    let wait = wait_statement(d, target);
    loop {
        crate::cancel::check()?;
        let st = status(conn, d).await?;
        if st.is_empty() {
            return Err(Error::Refused(
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
            r.flatten() == Some(0)
        };
        if reached {
            let st = status(conn, d).await?;
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
            return Err(Error::Refused(format!(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_takes_the_later_gtid_of_each_domain() {
        // Binlog has our own domain 1 (and a stale copy of 2); replication applied more of 2.
        assert_eq!(
            resume_position("1-1-40,2-2-7", "1-1-3, 2-2-19,3-3-5"),
            "1-1-40,2-2-19,3-3-5"
        );
        assert_eq!(resume_position("", ""), "");
        assert_eq!(resume_position("0-1-5", ""), "0-1-5");
        // A later GTID from another server in the same domain wins.
        assert_eq!(resume_position("0-1-5", "0-2-9"), "0-2-9");
        assert_eq!(resume_position("x-1-5,1-2,1-2-3-4,4-4-4", "-1"), "4-4-4");
    }

    fn peer() -> PeerConfig {
        PeerConfig {
            host: "10.0.0.2".into(),
            port: 3309,
            id: 2,
        }
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(quote("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(
            wait_statement(Dialect(Flavor::MariaDb), "1-1-5,2-2-7"),
            "SELECT MASTER_GTID_WAIT('1-1-5,2-2-7', 1)"
        );
        assert_eq!(
            wait_statement(
                Dialect(Flavor::MySql),
                "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"
            ),
            "SELECT WAIT_FOR_EXECUTED_GTID_SET('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5', 1)"
        );
    }

    #[test]
    fn redaction_hides_the_secret() {
        let e = mysql_async::Error::Other("near 'pa''ss' at line 1: pa'ss".into());
        assert!(!redacted(&e, "pa'ss").contains("pa'ss"));
    }

    #[test]
    fn master_info_gives_the_channels_account() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("master-peer2.info"),
            "33\n\n4\n10.0.0.2\nrepl\np'w\\x\n3309\n60\n",
        )
        .unwrap();
        let (user, pw) = master_info_credentials(tmp.path(), "Peer2").unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("repl", "p'w\\x"));
        assert!(master_info_credentials(tmp.path(), "peer3").is_none());
    }

    #[test]
    fn mariadb_uses_named_connections() {
        let d = Dialect(Flavor::MariaDb);
        assert_eq!(
            d.change_master("peer2", &peer(), "repl", "p'w", 10),
            "CHANGE MASTER 'peer2' TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, MASTER_USER='repl', MASTER_PASSWORD='p''w', MASTER_CONNECT_RETRY=10, MASTER_USE_GTID=slave_pos"
        );
        assert_eq!(d.start("peer2"), "START SLAVE 'peer2'");
        assert_eq!(d.reset("peer2"), "RESET SLAVE 'peer2'");
        assert_eq!(d.status_all(), "SHOW ALL SLAVES STATUS");
    }

    #[test]
    fn mysql_uses_for_channel() {
        let d = Dialect(Flavor::MySql);
        assert_eq!(
            d.change_master("peer2", &peer(), "repl", "pw", 5),
            "CHANGE MASTER TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_CONNECT_RETRY=5, MASTER_AUTO_POSITION=1 FOR CHANNEL 'peer2'"
        );
        assert_eq!(d.start("peer2"), "START SLAVE FOR CHANNEL 'peer2'");
        assert_eq!(d.stop_all(), "STOP SLAVE");
    }

    #[test]
    fn caught_up_needs_everything() {
        let mut c = ChannelStatus {
            io_running: "Yes".into(),
            sql_running: "Yes".into(),
            seconds_behind: Some(0),
            read_pos: 10,
            exec_pos: 10,
            master_file: "b.1".into(),
            relay_master_file: "b.1".into(),
            ..Default::default()
        };
        assert!(c.caught_up());
        c.seconds_behind = Some(1);
        assert!(!c.caught_up());
        c.seconds_behind = Some(0);
        c.io_running = "Connecting".into();
        assert!(!c.caught_up());
    }
}

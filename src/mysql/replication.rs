//! Replication channels: the SQL each flavor needs (MariaDB named connections, MySQL
//! `FOR CHANNEL`), channel status, and the wait until every channel has caught up.

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use serde::Deserialize;

use super::Flavor;
use crate::error::{Error, Result};
use crate::secret::Secret;

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
    /// Which peers catchup_binlog needs: `reachable` (default) or `all`.
    #[serde(default)]
    pub catchup_require: CatchupRequire,
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
        return msg;
    }
    // The echoed statement holds the quoted form; the message may hold either.
    let quoted = quote(secret);
    let inner = &quoted[1..quoted.len() - 1];
    msg.replace(inner, "***").replace(secret, "***")
}

/// Connects to a peer over TCP (bounded by 10 s) with the replication account.
pub async fn connect_peer(host: &str, port: u16, user: &str, password: &str) -> Result<Conn> {
    match try_connect_peer(host, port, user, password).await? {
        PeerConn::Up(conn) => Ok(conn),
        PeerConn::Unreachable(why) => Err(Error::Failed(format!(
            "connect to {host}:{port} as {user}: {why}"
        ))),
    }
}

/// A connection attempt to a peer: connected, or the peer cannot be reached at all.
pub enum PeerConn {
    Up(Conn),
    /// Nothing answered (connection refused, no route, no answer within 10 s): why.
    Unreachable(String),
}

/// As [`connect_peer`], telling a peer that cannot be reached (nothing listens, the host does
/// not answer) from one that answered and refused (a wrong password, a missing grant: an
/// error, which waiting or skipping the peer would hide).
pub async fn try_connect_peer(
    host: &str,
    port: u16,
    user: &str,
    password: &str,
) -> Result<PeerConn> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(host.to_string())
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some(user.to_string()))
        .pass(Some(password.to_string()))
        .init(vec![SESSION_SQL_MODE.to_string()]);
    let what = format!("connect to {host}:{port} as {user}");
    match tokio::time::timeout(Duration::from_secs(10), Conn::new(opts)).await {
        Ok(Ok(conn)) => Ok(PeerConn::Up(conn)),
        // A transport failure (refused, reset, no route); not TLS, which is a misconfiguration.
        Ok(Err(e @ mysql_async::Error::Io(mysql_async::IoError::Io(_)))) => {
            Ok(PeerConn::Unreachable(redacted(&e, password)))
        }
        Ok(Err(e)) => Err(Error::Failed(format!("{what}: {}", redacted(&e, password)))),
        Err(_) => Ok(PeerConn::Unreachable("no answer within 10 s".into())),
    }
}

/// The user and password a channel connects with, from its master info file in the data dir
/// (MariaDB: `master-{name}.info`, or `master.info` for the unnamed one; lines 5 and 6).
pub fn master_info_credentials(
    data_dir: &std::path::Path,
    channel: &str,
) -> Option<(String, crate::secret::Secret)> {
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
        crate::secret::Secret::new(lines.get(5)?.to_string()),
    ))
}

/// MariaDB GTID position to resume from, given `@@gtid_binlog_pos` and `@@gtid_slave_pos`
/// (`domain-server-seq` lists): per domain, the GTID with the higher sequence number (GTID
/// sequence numbers only grow within a domain). Sorted by domain; malformed entries are
/// dropped.
pub fn resume_position(binlog_pos: &str, slave_pos: &str) -> String {
    let by_domain = gtid_map(&format!("{binlog_pos},{slave_pos}"));
    by_domain
        .iter()
        .map(|(d, (s, n))| format!("{d}-{s}-{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A MariaDB GTID list (`domain-server-seq`, comma-separated) as domain -> (server, seq),
/// keeping per domain the highest sequence number; malformed entries are dropped.
pub fn gtid_map(pos: &str) -> std::collections::BTreeMap<u32, (u32, u64)> {
    let mut by_domain: std::collections::BTreeMap<u32, (u32, u64)> = Default::default();
    for g in super::binlog::Gtid::list(pos) {
        let e = by_domain.entry(g.domain).or_insert((g.server, g.seq));
        if g.seq > e.1 {
            *e = (g.server, g.seq);
        }
    }
    by_domain
}

/// The GTIDs of `pos` (a `domain-server-seq` list) in the domains a channel replicates:
/// not in `ignore`, and in `only` when it is not empty.
pub fn replicated_domains(pos: &str, ignore: &[u32], only: &[u32]) -> String {
    pos.split(',')
        .map(str::trim)
        .filter(|g| {
            let Some(d) = g.split('-').next().and_then(|d| d.parse::<u32>().ok()) else {
                return false;
            };
            !ignore.contains(&d) && (only.is_empty() || only.contains(&d))
        })
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
            Error::Failed(format!(
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

pub use status::{
    ChannelStatus, column_text, status, wait_caught_up, wait_running, wait_statement,
};

/// conf `replication.catchup_require`: which peers catch-up needs.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CatchupRequire {
    /// Every peer that can be reached; an unreachable one is reported by name (default).
    #[default]
    Reachable,
    /// Every peer: one that cannot be reached fails catch-up.
    All,
}

mod status;

#[cfg(test)]
mod tests;

//! Replication channels: the SQL each flavor needs (MariaDB named connections, MySQL
//! `FOR CHANNEL`), channel status, and the wait until every channel has caught up.

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use serde::Deserialize;

use super::Flavor;
pub use super::dialect::{Dialect, ServerKind, SourceSpec};
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
    /// TLS on the channels (`MASTER_SSL`/`SOURCE_SSL`); default on for MySQL 8.x (whose
    /// `caching_sha2_password` needs TLS or the source's public key), else the server's own
    /// default (MariaDB 11.3+: on, verifying the source's certificate).
    pub ssl: Option<bool>,
}

impl ReplicationConfig {
    /// Whether channels to peers use TLS on a server of `kind`: `None` leaves the server's
    /// default.
    pub fn ssl_for(&self, kind: ServerKind) -> Option<bool> {
        self.ssl
            .or((kind.flavor == Flavor::MySql && kind.version.0 >= 8).then_some(true))
    }
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

/// (Re)creates the channels of `repl` on a running server (not started).
pub async fn setup_channels(
    conn: &mut Conn,
    d: &dyn Dialect,
    repl: &ReplicationConfig,
) -> Result<Vec<String>> {
    let user = repl.user.clone().ok_or_else(|| {
        Error::Config("`replication.user` is required to set up replication".into())
    })?;
    let password = repl.password.clone().unwrap_or_default();
    check_channel_repository(conn, d).await?;
    let mut names = Vec::new();
    for peer in &repl.source {
        let ch = channel_name(peer);
        let _ = conn.query_drop(d.stop(&ch)).await;
        let sql = d.change_source(
            &ch,
            &SourceSpec {
                host: &peer.host,
                port: peer.port,
                user: &user,
                password: password.expose(),
                connect_retry: repl.connect_retry.unwrap_or(10),
                ssl: repl.ssl_for(d.kind()),
            },
        );
        conn.query_drop(sql).await.map_err(|e| {
            Error::Failed(format!(
                "{}: configuring replication channel {ch} ({}:{}) failed: {}",
                d.kind(),
                peer.host,
                peer.port,
                redacted(&e, password.expose())
            ))
        })?;
        names.push(ch);
    }
    Ok(names)
}

/// MySQL 5.7 keeps named channels only in tables: with `master_info_repository=FILE` (5.7's
/// default) every `FOR CHANNEL` fails with error 3077; say what to change instead.
async fn check_channel_repository(conn: &mut Conn, d: &dyn Dialect) -> Result<()> {
    let kind = d.kind();
    if kind.flavor != Flavor::MySql || kind.version.0 >= 8 {
        return Ok(());
    }
    let sql = "SELECT @@GLOBAL.master_info_repository, @@GLOBAL.relay_log_info_repository";
    let row: Option<(Option<String>, Option<String>)> = conn
        .query_first(sql)
        .await
        .map_err(|e| Error::mysql(sql, e))?;
    let (master, relay) = row.unwrap_or_default();
    let file = |v: &Option<String>| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("FILE"));
    if file(&master) || file(&relay) {
        return Err(Error::Refused(format!(
            "{kind} keeps named replication channels only in tables: set \
             master_info_repository=TABLE and relay_log_info_repository=TABLE in the \
             instance's my.cnf and restart it (now {} and {})",
            master.unwrap_or_default(),
            relay.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Starts every channel; with several MariaDB channels, an event arriving through more than one
/// peer is applied once (`gtid_ignore_duplicates`).
pub async fn start_channels(conn: &mut Conn, d: &dyn Dialect, channels: &[String]) -> Result<()> {
    if d.kind().flavor == Flavor::MariaDb && channels.len() > 1 {
        super::exec(conn, "SET GLOBAL gtid_ignore_duplicates = ON").await?;
    }
    for ch in channels {
        super::exec(conn, &d.start(ch)).await?;
    }
    Ok(())
}

pub use status::{ChannelStatus, column_text, parse_status, status, wait_caught_up, wait_running};

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

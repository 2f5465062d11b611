//! One dialect per server generation: [`ServerKind`] (flavor and version, detected once from
//! the server or the binary that will run it) picks a [`Dialect`], which writes every
//! replication statement, names every status column and server option, and parses positions
//! in that generation's own words.
//!
//! | server            | change a channel               | start/stop/reset | status               | option prefix |
//! |-------------------|--------------------------------|------------------|----------------------|---------------|
//! | MariaDB 10.x/11.x | `CHANGE MASTER 'ch' TO`        | `... SLAVE 'ch'` | `SHOW ALL SLAVES STATUS` | `MASTER_` |
//! | MySQL 5.7-8.0.21  | `CHANGE MASTER TO ... FOR CHANNEL` | `... SLAVE FOR CHANNEL` | `SHOW SLAVE STATUS` | `MASTER_` |
//! | MySQL 8.0.22      | as 8.0.21, but `... REPLICA` and `SHOW REPLICA STATUS` (`Replica_*`/`Source_*` columns) | | | `MASTER_` |
//! | MySQL 8.0.23+, 8.4| `CHANGE REPLICATION SOURCE TO ... FOR CHANNEL` | `... REPLICA FOR CHANNEL` | `SHOW REPLICA STATUS` | `SOURCE_` |
//!
//! MySQL 8.4 removed the `MASTER`/`SLAVE` forms, so the newest form a server knows is always
//! the one used. Public-key retrieval for `caching_sha2_password` (`GET_MASTER_PUBLIC_KEY`)
//! exists from MySQL 8.0.4; TLS (`MASTER_SSL`/`SOURCE_SSL`) everywhere.

use std::fmt;
use std::path::Path;

use super::Flavor;
use super::gtid::{GtidPos, GtidSet, Position};
use crate::error::{Error, Result};

/// A server version `major.minor.patch`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// The first `a.b.c` of a text (`8.0.36-28`, `10.11.6-MariaDB-log`, `Ver 8.4.3 for
    /// Linux`); a missing part is 0.
    pub fn find(text: &str) -> Option<Version> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let rest = &text[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let mut parts = rest[..end].split('.').filter(|p| !p.is_empty());
        let mut next = || parts.next().and_then(|p| p.parse().ok());
        let major = next()?;
        Some(Version(major, next().unwrap_or(0), next().unwrap_or(0)))
    }
}

/// What a server is: its flavor and version, detected once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerKind {
    pub flavor: Flavor,
    pub version: Version,
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.flavor {
            Flavor::MariaDb => "MariaDB",
            Flavor::MySql => "MySQL",
        };
        write!(f, "{name} {}", self.version)
    }
}

impl ServerKind {
    /// From `SELECT VERSION()` (`10.11.6-MariaDB-log`, `8.0.36`), or a binary's `--version`
    /// line (`mariadbd  Ver 11.4.4-MariaDB ...`, `mysqld  Ver 8.4.3 for Linux ...`).
    /// MariaDB 10.x servers print themselves as `5.5.5-10.x` to old clients: that prefix is
    /// skipped.
    pub fn parse(text: &str) -> Result<ServerKind> {
        let flavor = Flavor::from_version(text);
        let t = text.trim();
        let t = t
            .split_once("Ver ")
            .map_or(t, |(_, v)| v)
            .trim_start_matches("5.5.5-");
        let version = Version::find(t).ok_or_else(|| {
            Error::Refused(format!("cannot tell the server version from {text:?}"))
        })?;
        Ok(ServerKind { flavor, version })
    }

    /// The kind of the server a stopped data dir would run under: `program --version`.
    pub async fn of_binary(program: &Path) -> Result<ServerKind> {
        let out = super::version_output(program).await?.ok_or_else(|| {
            Error::Failed(format!("{} --version did not answer", program.display()))
        })?;
        let text = String::from_utf8_lossy(&out.stdout);
        ServerKind::parse(text.lines().next().unwrap_or_default())
    }

    /// The kind a backup's manifest records (`flavor`: `mariadb` or `mysql`; the server's
    /// `VERSION()`), if it tells one.
    pub fn recorded(flavor: &str, version: &str) -> Option<ServerKind> {
        let flavor = match flavor {
            "mariadb" => Flavor::MariaDb,
            "mysql" => Flavor::MySql,
            _ => return None,
        };
        let version = Version::find(version.trim().trim_start_matches("5.5.5-"))?;
        Some(ServerKind { flavor, version })
    }

    /// Its dialect.
    pub fn dialect(self) -> Box<dyn Dialect> {
        match self.flavor {
            Flavor::MariaDb => Box::new(MariaDb(self)),
            Flavor::MySql => Box::new(MySql(self)),
        }
    }

    fn at_least(self, major: u32, minor: u32, patch: u32) -> bool {
        self.version >= Version(major, minor, patch)
    }
}

/// A channel to configure: the peer, the account, and how to connect.
#[derive(Clone, Debug)]
pub struct SourceSpec<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a str,
    pub connect_retry: u32,
    /// TLS on the channel (`MASTER_SSL`/`SOURCE_SSL` 1 or 0); `None`: the server's default.
    pub ssl: Option<bool>,
}

/// Status column names of one generation.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    pub name: &'static str,
    pub host: &'static str,
    pub port: &'static str,
    pub io_running: &'static str,
    pub sql_running: &'static str,
    pub seconds_behind: &'static str,
    pub read_pos: &'static str,
    pub exec_pos: &'static str,
    pub source_file: &'static str,
    pub relay_source_file: &'static str,
    /// What the IO thread received (MySQL `Retrieved_Gtid_Set`, MariaDB `Gtid_IO_Pos`).
    pub received: &'static str,
    /// What the server executed (MySQL `Executed_Gtid_Set`, MariaDB `Gtid_Slave_Pos`).
    pub executed: &'static str,
}

/// The statements and words of one server generation. Statement builders return SQL text;
/// [`Dialect::change_source`]'s holds the password: never log it.
pub trait Dialect: Send + Sync + fmt::Debug {
    /// The server this dialect speaks to.
    fn kind(&self) -> ServerKind;
    /// Configures channel `channel` to read from `src` with GTID auto-positioning.
    fn change_source(&self, channel: &str, src: &SourceSpec<'_>) -> String;
    /// Starts one channel.
    fn start(&self, channel: &str) -> String;
    /// Stops one channel.
    fn stop(&self, channel: &str) -> String;
    /// Forgets one channel's relay logs and position, keeping its connection settings.
    fn reset(&self, channel: &str) -> String;
    /// Stops every channel.
    fn stop_all(&self) -> String;
    /// Lists every channel's status, one row each.
    fn status_all(&self) -> String;
    /// The status columns' names.
    fn columns(&self) -> Columns;
    /// Returns 0 once the server has executed `target`, waiting up to one second.
    fn wait_statement(&self, target: &GtidPos) -> String;
    /// One text column: what the server has executed or logged (MariaDB `gtid_binlog_pos`,
    /// MySQL `gtid_executed`).
    fn executed_query(&self) -> &'static str;
    /// Parses a position the server printed.
    fn parse_position(&self, text: &str) -> Result<GtidPos>;
    /// Arguments the binlog tool (`mariadb-binlog`/`mysqlbinlog`) needs on this flavor.
    fn binlog_tool_args(&self) -> &'static [&'static str];
    /// The server option that keeps channels from starting by themselves.
    fn skip_replica_start(&self) -> &'static str;
    /// The variable that says whether applied events are logged.
    fn log_replica_updates(&self) -> &'static str;
}

/// SQL string literal (see [`super::replication::quote`]).
fn q(s: &str) -> String {
    super::replication::quote(s)
}

/// MariaDB 10.x and 11.x: named connections (`'ch'` after the keyword), `MASTER_USE_GTID`.
#[derive(Debug)]
pub struct MariaDb(pub ServerKind);

impl Dialect for MariaDb {
    fn kind(&self) -> ServerKind {
        self.0
    }
    fn change_source(&self, channel: &str, src: &SourceSpec<'_>) -> String {
        let ssl = match src.ssl {
            Some(on) => format!(", MASTER_SSL={}", u8::from(on)),
            None => String::new(),
        };
        format!(
            "CHANGE MASTER {} TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USER={}, \
             MASTER_PASSWORD={}, MASTER_CONNECT_RETRY={}{ssl}, MASTER_USE_GTID=slave_pos",
            q(channel),
            q(src.host),
            src.port,
            q(src.user),
            q(src.password),
            src.connect_retry
        )
    }
    fn start(&self, channel: &str) -> String {
        format!("START SLAVE {}", q(channel))
    }
    fn stop(&self, channel: &str) -> String {
        format!("STOP SLAVE {}", q(channel))
    }
    fn reset(&self, channel: &str) -> String {
        format!("RESET SLAVE {}", q(channel))
    }
    fn stop_all(&self) -> String {
        "STOP ALL SLAVES".into()
    }
    fn status_all(&self) -> String {
        "SHOW ALL SLAVES STATUS".into()
    }
    fn columns(&self) -> Columns {
        Columns {
            name: "Connection_name",
            received: "Gtid_IO_Pos",
            executed: "Gtid_Slave_Pos",
            ..OLD_COLUMNS
        }
    }
    fn wait_statement(&self, target: &GtidPos) -> String {
        format!("SELECT MASTER_GTID_WAIT({}, 1)", q(&target.to_string()))
    }
    fn executed_query(&self) -> &'static str {
        "SELECT @@GLOBAL.gtid_binlog_pos"
    }
    fn parse_position(&self, text: &str) -> Result<GtidPos> {
        Ok(GtidPos::MariaDb(Position::lenient(text)))
    }
    fn binlog_tool_args(&self) -> &'static [&'static str] {
        // The server writes GTIDs of several origins interleaved in one domain when
        // gtid_strict_mode is off (MariaDB's default); the tool would refuse them.
        &["--skip-gtid-strict-mode"]
    }
    fn skip_replica_start(&self) -> &'static str {
        "--skip-slave-start"
    }
    fn log_replica_updates(&self) -> &'static str {
        "log_slave_updates"
    }
}

/// `SHOW SLAVE STATUS` column names (MySQL 5.7 to 8.0.21, and MariaDB's).
const OLD_COLUMNS: Columns = Columns {
    name: "Channel_Name",
    host: "Master_Host",
    port: "Master_Port",
    io_running: "Slave_IO_Running",
    sql_running: "Slave_SQL_Running",
    seconds_behind: "Seconds_Behind_Master",
    read_pos: "Read_Master_Log_Pos",
    exec_pos: "Exec_Master_Log_Pos",
    source_file: "Master_Log_File",
    relay_source_file: "Relay_Master_Log_File",
    received: "Retrieved_Gtid_Set",
    executed: "Executed_Gtid_Set",
};

/// `SHOW REPLICA STATUS` column names (MySQL 8.0.22+).
const NEW_COLUMNS: Columns = Columns {
    name: "Channel_Name",
    host: "Source_Host",
    port: "Source_Port",
    io_running: "Replica_IO_Running",
    sql_running: "Replica_SQL_Running",
    seconds_behind: "Seconds_Behind_Source",
    read_pos: "Read_Source_Log_Pos",
    exec_pos: "Exec_Source_Log_Pos",
    source_file: "Source_Log_File",
    relay_source_file: "Relay_Source_Log_File",
    received: "Retrieved_Gtid_Set",
    executed: "Executed_Gtid_Set",
};

/// MySQL 5.7, 8.0 and 8.4+: `FOR CHANNEL`, `AUTO_POSITION`; the words by version (see the
/// module's table).
#[derive(Debug)]
pub struct MySql(pub ServerKind);

impl MySql {
    /// `REPLICA` from 8.0.22, `SLAVE` before.
    fn replica(&self) -> &'static str {
        if self.0.at_least(8, 0, 22) {
            "REPLICA"
        } else {
            "SLAVE"
        }
    }
    /// `CHANGE REPLICATION SOURCE TO` and `SOURCE_` options from 8.0.23.
    fn source_words(&self) -> bool {
        self.0.at_least(8, 0, 23)
    }
    fn for_channel(channel: &str) -> String {
        format!(" FOR CHANNEL {}", q(channel))
    }
}

impl Dialect for MySql {
    fn kind(&self) -> ServerKind {
        self.0
    }
    fn change_source(&self, channel: &str, src: &SourceSpec<'_>) -> String {
        let (head, p) = if self.source_words() {
            ("CHANGE REPLICATION SOURCE TO", "SOURCE")
        } else {
            ("CHANGE MASTER TO", "MASTER")
        };
        let mut opts = vec![
            format!("{p}_HOST={}", q(src.host)),
            format!("{p}_PORT={}", src.port),
            format!("{p}_USER={}", q(src.user)),
            format!("{p}_PASSWORD={}", q(src.password)),
            format!("{p}_CONNECT_RETRY={}", src.connect_retry),
        ];
        if let Some(on) = src.ssl {
            opts.push(format!("{p}_SSL={}", u8::from(on)));
        }
        // caching_sha2_password (8.0's default) over a channel without TLS needs the
        // source's RSA key, or it fails (2061) whenever the source's cache is cold.
        if self.0.at_least(8, 0, 4) {
            opts.push(format!("GET_{p}_PUBLIC_KEY=1"));
        }
        opts.push(format!("{p}_AUTO_POSITION=1"));
        format!("{head} {}{}", opts.join(", "), Self::for_channel(channel))
    }
    fn start(&self, channel: &str) -> String {
        format!("START {}{}", self.replica(), Self::for_channel(channel))
    }
    fn stop(&self, channel: &str) -> String {
        format!("STOP {}{}", self.replica(), Self::for_channel(channel))
    }
    fn reset(&self, channel: &str) -> String {
        format!("RESET {}{}", self.replica(), Self::for_channel(channel))
    }
    fn stop_all(&self) -> String {
        format!("STOP {}", self.replica())
    }
    fn status_all(&self) -> String {
        format!("SHOW {} STATUS", self.replica())
    }
    fn columns(&self) -> Columns {
        if self.0.at_least(8, 0, 22) {
            NEW_COLUMNS
        } else {
            OLD_COLUMNS
        }
    }
    fn wait_statement(&self, target: &GtidPos) -> String {
        format!(
            "SELECT WAIT_FOR_EXECUTED_GTID_SET({}, 1)",
            q(&target.to_string())
        )
    }
    fn executed_query(&self) -> &'static str {
        "SELECT @@GLOBAL.gtid_executed"
    }
    fn parse_position(&self, text: &str) -> Result<GtidPos> {
        Ok(GtidPos::MySql(GtidSet::parse(text)?))
    }
    fn binlog_tool_args(&self) -> &'static [&'static str] {
        &[]
    }
    fn skip_replica_start(&self) -> &'static str {
        if self.0.at_least(8, 0, 26) {
            "--skip-replica-start"
        } else {
            "--skip-slave-start"
        }
    }
    fn log_replica_updates(&self) -> &'static str {
        if self.0.at_least(8, 0, 26) {
            "log_replica_updates"
        } else {
            "log_slave_updates"
        }
    }
}

#[cfg(test)]
mod tests;

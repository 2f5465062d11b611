//! Talking to the server: connection, flavor, binlog listing, running-state checks.

pub mod apply;
pub mod backup_tool;
pub mod binlog;
pub mod datadir;
pub mod dialect;
pub mod gtid;
pub mod mycnf;
pub mod replication;
pub mod server;
pub mod server_config;
pub mod tablespaces;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

use crate::config::{Secret, Settings};
use crate::error::{Error, Result};
use mycnf::MyCnf;

/// The server family, which decides the backup tool and the SQL dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// MariaDB with `mariadb-backup`/`mariabackup`.
    MariaDb,
    /// MySQL/Percona with `xtrabackup`.
    MySql,
}

impl Flavor {
    /// Detects the flavor from `SELECT VERSION()`.
    pub fn from_version(version: &str) -> Self {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// `mariadb` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::MariaDb => "mariadb",
            Flavor::MySql => "mysql",
        }
    }

    /// Backup tool names to look for, preferred first.
    pub fn backup_tools(self) -> &'static [&'static str] {
        match self {
            Flavor::MariaDb => &ANY_BACKUP_TOOL[..2],
            Flavor::MySql => &["xtrabackup"],
        }
    }
}

/// Every backup tool, preferred first: MariaDB's under its current name (`mariadb-backup`;
/// 11.x ships no other), then under its earlier one, then XtraBackup.
pub const ANY_BACKUP_TOOL: &[&str] = &["mariadb-backup", "mariabackup", "xtrabackup"];

/// Where and how to reach one instance.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub socket: PathBuf,
    pub user: String,
    pub password: Option<Secret>,
    /// Which server this is, in errors: "the instance on port 3306".
    pub label: String,
    /// One of our temporary servers (not the configured instance).
    pub temporary: bool,
}

impl Endpoint {
    /// The endpoint of the configured instance: socket from conf, else from its my.cnf, else
    /// `{data_dir}/mysql.sock`.
    pub fn from_settings(s: &Settings) -> Self {
        let socket = s.socket.clone().unwrap_or_else(|| {
            MyCnf::load(&s.my_cnf)
                .ok()
                .and_then(|c| c.socket())
                .unwrap_or_else(|| s.data_dir.join("mysql.sock"))
        });
        Endpoint {
            socket,
            user: s.mysql_user.clone(),
            password: s.root_password.clone(),
            label: format!("the instance on port {}", s.port),
            temporary: false,
        }
    }

    /// Opens a connection (bounded by a 10 s timeout).
    pub async fn connect(&self) -> Result<Conn> {
        let opts = OptsBuilder::default()
            .socket(Some(self.socket.to_string_lossy()))
            .prefer_socket(true)
            .user(Some(self.user.clone()))
            .pass(self.password.as_ref().map(|p| p.expose().to_string()))
            .init(vec![replication::SESSION_SQL_MODE.to_string()]);
        let what = format!("connect via {}", self.socket.display());
        match tokio::time::timeout(Duration::from_secs(10), Conn::new(opts)).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(mysql_async::Error::Io(e))) => Err(self.unreachable(&e)),
            Ok(Err(e)) => Err(Error::mysql(what, e)),
            Err(_) => Err(self.kind(format!(
                "{} did not answer on {} within 10 s: is it hung, or starting?",
                self.label,
                self.socket.display()
            ))),
        }
    }

    /// The configured instance not reachable is a precondition that does not hold (exit 3):
    /// nothing was done. Our temporary server not answering is a command that began and could
    /// not complete (exit 5).
    fn kind(&self, text: String) -> Error {
        if self.temporary {
            Error::Failed(text)
        } else {
            Error::Refused(text)
        }
    }

    /// Nothing answers on the socket: one line naming the server and the socket, and what to
    /// check (the client library's error repeats its cause at every level: only the innermost
    /// is kept).
    fn unreachable(&self, e: &mysql_async::IoError) -> Error {
        let mut cause: &(dyn std::error::Error + 'static) = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        if self.temporary {
            return Error::Failed(format!(
                "cannot reach {} via {}: {cause}",
                self.label,
                self.socket.display()
            ));
        }
        Error::Refused(format!(
            "cannot reach {} via {}: {cause}: is it running, and is conf `socket` (or its \
             my.cnf's) right?",
            self.label,
            self.socket.display()
        ))
    }

    /// True when the server answers on its socket.
    pub async fn is_running(&self) -> bool {
        if !self.socket.exists() {
            return false;
        }
        tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::UnixStream::connect(&self.socket),
        )
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false)
    }
}

/// What the backup needs to know about a running server.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub version: String,
    /// Flavor and version, from `SELECT VERSION()`: picks the dialect.
    pub kind: dialect::ServerKind,
    pub datadir: PathBuf,
    pub log_bin: bool,
    /// Path prefix of binlog files, e.g. `/data1/mysql-3309/binlog`.
    pub log_bin_basename: Option<PathBuf>,
    pub log_bin_index: Option<PathBuf>,
}

async fn query_one(conn: &mut Conn, sql: &str) -> Result<Option<String>> {
    let row: Option<Option<String>> = conn
        .query_first(sql)
        .await
        .map_err(|e| Error::mysql(sql, e))?;
    Ok(row.flatten())
}

/// Reads version, data dir and binlog settings.
pub async fn server_info(conn: &mut Conn) -> Result<ServerInfo> {
    let version = query_one(conn, "SELECT VERSION()")
        .await?
        .unwrap_or_default();
    let datadir = query_one(conn, "SELECT @@datadir")
        .await?
        .unwrap_or_default();
    let log_bin = query_one(conn, "SELECT @@log_bin").await?.as_deref() == Some("1");
    let (basename, index) = if log_bin {
        (
            query_one(conn, "SELECT @@log_bin_basename").await?,
            query_one(conn, "SELECT @@log_bin_index").await?,
        )
    } else {
        (None, None)
    };
    Ok(ServerInfo {
        kind: dialect::ServerKind::parse(&version)?,
        version,
        datadir: PathBuf::from(datadir),
        log_bin,
        log_bin_basename: basename.map(PathBuf::from),
        log_bin_index: index.map(PathBuf::from),
    })
}

/// Runs a statement whose text holds no secret (it names the error).
pub async fn exec(conn: &mut Conn, sql: &str) -> Result<()> {
    conn.query_drop(sql).await.map_err(|e| Error::mysql(sql, e))
}

/// Rotates the binlog so that every file but the new active one is closed, and returns the
/// closed files, oldest first.
pub async fn rotate_binlog(conn: &mut Conn) -> Result<Vec<String>> {
    exec(conn, "FLUSH BINARY LOGS").await?;
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| Error::mysql("SHOW BINARY LOGS", e))?;
    let mut names: Vec<String> = rows
        .into_iter()
        .filter_map(|r| r.get::<String, usize>(0))
        .collect();
    names.pop();
    Ok(names)
}

/// Runs `program --version` (stdin closed, killed after 30 s): what it printed, or None when
/// it did not answer in time.
pub async fn version_output(program: &Path) -> Result<Option<std::process::Output>> {
    let run = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(30), run).await {
        Ok(out) => out.map(Some).map_err(|e| Error::io("run", program, e)),
        Err(_) => Ok(None),
    }
}

/// Finds an executable: `{mysql_base}/bin/NAME`, `{mysql_base}/sbin/NAME`, then PATH.
pub fn find_binary(mysql_base: &Path, names: &[&str]) -> Option<PathBuf> {
    for name in names {
        for dir in ["bin", "sbin"] {
            let p = mysql_base.join(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let path = std::env::var_os("PATH")?;
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_from_version() {
        assert_eq!(
            Flavor::from_version("10.11.6-MariaDB-0+deb12u1-log"),
            Flavor::MariaDb
        );
        assert_eq!(Flavor::from_version("5.7.13-log"), Flavor::MySql);
        assert_eq!(Flavor::from_version("8.0.36-28"), Flavor::MySql);
        assert_eq!(Flavor::MySql.backup_tools(), &["xtrabackup"]);
        assert_eq!(
            Flavor::MariaDb.backup_tools(),
            &["mariadb-backup", "mariabackup"]
        );
    }

    #[test]
    fn find_binary_prefers_mysql_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/mariabackup"), "").unwrap();
        assert_eq!(
            find_binary(dir.path(), &["mariabackup"]).unwrap(),
            dir.path().join("bin/mariabackup")
        );
        assert!(find_binary(dir.path(), &["no-such-tool-xyz"]).is_none());
    }
}

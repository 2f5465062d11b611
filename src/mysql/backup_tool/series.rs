//! The backup tool's series must match the server's: `mariadb-backup` of the server's own
//! MariaDB release series, XtraBackup 2.4 for MySQL 5.7, 8.0 for 8.0 (before 8.0.34 built on
//! the server's version or later; from 8.0.34 for servers of 8.0.34 and later), and the same
//! major.minor for 8.1 and later (8.4 LTS). A mismatched tool fails midway
//! or, worse, writes a backup that does not prepare; it is refused before anything starts.

use std::path::Path;

use crate::error::{Error, Result};
use crate::mysql::Flavor;
use crate::mysql::dialect::{ServerKind, Version};

/// What `--version` says: the tool's own version and the server version it is built on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolVersion {
    /// XtraBackup's own version (`xtrabackup version 8.0.35-30`); MariaDB's tool has none.
    pub own: Option<Version>,
    /// `based on MariaDB server 10.11.6` / `based on MySQL server 8.0.35`.
    pub based_on: Version,
    /// The line it came from.
    pub line: String,
}

impl ToolVersion {
    /// Finds the version line in the tool's output (it prints it on stderr).
    pub fn parse(output: &str) -> Option<ToolVersion> {
        output.lines().find_map(|line| {
            let (head, tail) = line.split_once("based on ")?;
            let based_on = Version::find(tail.split_once("server").map_or(tail, |(_, v)| v))?;
            let own = head
                .split_once("version ")
                .and_then(|(_, v)| Version::find(v));
            Some(ToolVersion {
                own,
                based_on,
                line: line.trim().to_string(),
            })
        })
    }
}

/// Why a tool of version `tool` cannot back up a server of `kind`, if it cannot.
pub fn mismatch(tool: &ToolVersion, kind: ServerKind) -> Option<String> {
    let server = kind.version;
    let series = |v: Version| (v.0, v.1);
    let wanted = match kind.flavor {
        Flavor::MariaDb if series(tool.based_on) != series(server) => Some(format!(
            "mariadb-backup of the MariaDB {}.{} series",
            server.0, server.1
        )),
        Flavor::MariaDb => None,
        Flavor::MySql => {
            let own = tool.own.unwrap_or(tool.based_on);
            match (server.0, server.1) {
                (5, 7) if series(own) != (2, 4) => Some("XtraBackup 2.4".to_string()),
                // XtraBackup 8.0 before 8.0.34 stops on a server newer than itself; from
                // 8.0.34 it backs up every later 8.0 server, and older ones only with
                // --no-server-version-check.
                (8, 0) if series(own) != (8, 0) => Some("XtraBackup 8.0".to_string()),
                (8, 0) if tool.based_on < Version(8, 0, 34) && tool.based_on < server => {
                    Some(format!("XtraBackup 8.0 built on MySQL {server} or later"))
                }
                (8, 0) if tool.based_on >= Version(8, 0, 34) && server < Version(8, 0, 34) => Some(
                    "an XtraBackup 8.0 built on the server's version, older than 8.0.34".into(),
                ),
                (major, minor) if major >= 8 && (major, minor) != (8, 0) => {
                    (series(own) != (major, minor)).then(|| format!("XtraBackup {major}.{minor}"))
                }
                _ => None,
            }
        }
    };
    wanted.map(|w| format!("{kind} needs {w}; the tool says: {}", tool.line))
}

/// Whether `program` goes by a backup tool's own name (`mariadb-backup`, `mariabackup`,
/// `xtrabackup`): then it is that tool, and its series is checked; a program of another name
/// is the operator's own (a wrapper) and is run as given.
pub fn own_name(program: &Path) -> bool {
    program
        .file_name()
        .is_some_and(|n| crate::mysql::ANY_BACKUP_TOOL.iter().any(|t| n == *t))
}

/// Runs `program --version` (bounded by 30 s) and refuses a tool of another series than the
/// server's. Returns its version line.
pub async fn check(program: &Path, kind: ServerKind) -> Result<String> {
    let out = crate::mysql::version_output(program)
        .await?
        .ok_or_else(|| {
            Error::Refused(format!(
                "{} --version did not answer within 30 s",
                program.display()
            ))
        })?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let tool = ToolVersion::parse(&text).ok_or_else(|| {
        Error::Refused(format!(
            "{} --version printed no version ({}): cannot tell whether it can back up {kind}",
            program.display(),
            text.trim().lines().next().unwrap_or("nothing")
        ))
    })?;
    match mismatch(&tool, kind) {
        Some(why) => Err(Error::Refused(format!(
            "{} cannot back up this server: {why}",
            program.display()
        ))),
        None => Ok(tool.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(v: &str) -> ServerKind {
        ServerKind::parse(v).unwrap()
    }

    fn tool(line: &str) -> ToolVersion {
        ToolVersion::parse(line).unwrap()
    }

    #[test]
    fn versions_as_the_tools_print_them() {
        let m =
            tool("mariabackup based on MariaDB server 10.11.6-MariaDB debian-linux-gnu (x86_64)");
        assert_eq!((m.own, m.based_on), (None, Version(10, 11, 6)));
        let m = tool(
            "[00] 2024-11-05 mariadb-backup based on MariaDB server 11.4.4-MariaDB Linux (x86_64)",
        );
        assert_eq!(m.based_on, Version(11, 4, 4));
        let x = tool(
            "xtrabackup version 8.0.35-30 based on MySQL server 8.0.35 Linux (x86_64) (revision id: 6beb4b49)",
        );
        assert_eq!(
            (x.own, x.based_on),
            (Some(Version(8, 0, 35)), Version(8, 0, 35))
        );
        assert!(ToolVersion::parse("XBSTCK01\u{1}P...").is_none());
    }

    #[test]
    fn each_server_takes_its_own_series() {
        let maria = |v| {
            tool(&format!(
                "mariabackup based on MariaDB server {v}-MariaDB Linux"
            ))
        };
        let xtra = |own, on| {
            tool(&format!(
                "xtrabackup version {own} based on MySQL server {on} Linux (x86_64)"
            ))
        };
        let ok = |t: &ToolVersion, k: &str| mismatch(t, kind(k)).is_none();
        assert!(ok(&maria("10.11.2"), "10.11.6-MariaDB"));
        assert!(!ok(&maria("10.6.16"), "10.11.6-MariaDB"));
        assert!(!ok(&maria("10.11.6"), "11.4.4-MariaDB"));
        assert!(ok(&maria("11.4.2"), "11.4.4-MariaDB"));
        assert!(ok(&xtra("2.4.29", "5.7.44"), "5.7.44-log"));
        assert!(!ok(&xtra("8.0.35-30", "8.0.35"), "5.7.44-log"));
        assert!(ok(&xtra("8.0.35-30", "8.0.35"), "8.0.35"));
        assert!(ok(&xtra("8.0.35-30", "8.0.35"), "8.0.40"));
        assert!(!ok(&xtra("8.0.35-30", "8.0.35"), "8.0.30"));
        assert!(ok(&xtra("8.0.30-23", "8.0.30"), "8.0.28"));
        assert!(!ok(&xtra("8.0.30-23", "8.0.30"), "8.0.33"));
        assert!(!ok(&xtra("2.4.29", "5.7.44"), "8.0.36"));
        assert!(!ok(&xtra("8.0.35-30", "8.0.35"), "8.4.3"));
        assert!(ok(&xtra("8.4.0-1", "8.4.0"), "8.4.3"));
        let why = mismatch(&xtra("8.0.35-30", "8.0.35"), kind("8.4.3")).unwrap();
        assert!(
            why.contains("XtraBackup 8.4") && why.contains("8.0.35-30"),
            "{why}"
        );
    }
}

//! A reader for my.cnf option files: the few server options mysqlbackup needs (datadir,
//! socket, port, ...).
//!
//! Hand-written because option files are not INI: bare keys (`skip-name-resolve`), `-` and `_`
//! are the same in names, `!include` lines, and several sections apply to the server. The ini
//! crates reject or misread those.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Sections whose options the server reads.
const SERVER_SECTIONS: &[&str] = &["mysqld", "server", "mariadb", "mariadbd"];

/// The server options of one my.cnf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MyCnf {
    options: BTreeMap<String, String>,
}

impl MyCnf {
    /// Parses option-file text, keeping the server sections' options (later wins).
    pub fn parse(text: &str) -> Self {
        let mut options = BTreeMap::new();
        let mut in_server = false;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty()
                || line.starts_with('#')
                || line.starts_with(';')
                || line.starts_with('!')
            {
                continue;
            }
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let s = section.trim().to_ascii_lowercase();
                in_server = SERVER_SECTIONS
                    .iter()
                    .any(|x| s == *x || s.starts_with(&format!("{x}-")));
                continue;
            }
            if !in_server {
                continue;
            }
            let (k, v) = match line.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (line, ""),
            };
            let v = v.split(" #").next().unwrap_or(v).trim();
            let v = v.trim_matches(|c| c == '"' || c == '\'');
            options.insert(k.replace('-', "_").to_ascii_lowercase(), v.to_string());
        }
        MyCnf { options }
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read my.cnf", path, e))?;
        Ok(Self::parse(&text))
    }

    /// An option's value (`-` and `_` alike).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(&key.replace('-', "_")).map(String::as_str)
    }

    /// `datadir`.
    pub fn datadir(&self) -> Option<PathBuf> {
        self.get("datadir")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }

    /// `socket`.
    pub fn socket(&self) -> Option<PathBuf> {
        self.get("socket")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }

    /// `pid_file`.
    pub fn pid_file(&self) -> Option<PathBuf> {
        self.get("pid_file")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_server_sections_only() {
        let c = MyCnf::parse(
            "[client]\nsocket=/tmp/client.sock\n!includedir /etc/mysql/conf.d\n[mysqld]\nskip-name-resolve\ndatadir = /data1/mysql-3309 # comment\nsocket=\"/run/m.sock\"\nlog-bin=binlog\n[mariadb-10.11]\nserver_id=7\n",
        );
        assert_eq!(c.datadir().unwrap(), PathBuf::from("/data1/mysql-3309"));
        assert_eq!(c.socket().unwrap(), PathBuf::from("/run/m.sock"));
        assert_eq!(c.get("log_bin"), Some("binlog"));
        assert_eq!(c.get("skip-name-resolve"), Some(""));
        assert_eq!(c.get("server-id"), Some("7"));
    }
}

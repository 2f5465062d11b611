//! A reader (and path rewriter) for my.cnf option files.
//!
//! Hand-written because option files are not INI: bare keys (`skip-name-resolve`), `-` and `_`
//! are the same in names, `loose-` prefixes, `!include` lines, and several sections apply to the
//! server. The ini crates reject or misread those. A file from an archive is data, never
//! configuration: `!include` lines are kept as text but never followed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Sections whose options the server reads.
const SERVER_SECTIONS: &[&str] = &["mysqld", "server", "mariadb", "mariadbd"];

/// Whether the server reads options of `section` (lower case), e.g. `mysqld` or `mariadb-10.11`.
pub fn is_server_section(section: &str) -> bool {
    SERVER_SECTIONS
        .iter()
        .any(|x| section == *x || section.starts_with(&format!("{x}-")))
}

/// One `key[=value]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Index of the line in the file.
    pub line: usize,
    /// Section name, lower case.
    pub section: String,
    /// Option name, lower case, `-` as `_`, a `loose_` prefix removed.
    pub key: String,
    /// The value, unquoted, trailing comment removed; None for a bare key.
    pub value: Option<String>,
}

/// A parsed option file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MyCnf {
    lines: Vec<String>,
    entries: Vec<Entry>,
    /// Indices of `!include` / `!includedir` lines.
    includes: Vec<usize>,
    /// Server options, later wins.
    options: BTreeMap<String, String>,
}

/// Normalizes an option name: lower case, `-` as `_`, without `loose_`.
pub fn normalize_key(k: &str) -> String {
    let k = k.trim().replace('-', "_").to_ascii_lowercase();
    k.strip_prefix("loose_").map(str::to_string).unwrap_or(k)
}

fn parse_value(v: &str) -> String {
    let v = v.trim();
    if let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'')
        && let Some(end) = v[1..].find(q)
    {
        return v[1..1 + end].to_string();
    }
    let v = v.split(" #").next().unwrap_or(v);
    let v = v.split("\t#").next().unwrap_or(v);
    v.trim().to_string()
}

impl MyCnf {
    /// Parses option-file text.
    pub fn parse(text: &str) -> Self {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut entries = Vec::new();
        let mut includes = Vec::new();
        let mut options = BTreeMap::new();
        let mut section = String::new();
        for (i, raw) in lines.iter().enumerate() {
            let line = raw.trim();
            if line.starts_with('!') {
                includes.push(i);
                continue;
            }
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.trim().to_ascii_lowercase();
                continue;
            }
            let (k, v) = match line.split_once('=') {
                Some((k, v)) => (k, Some(parse_value(v))),
                None => (line, None),
            };
            let key = normalize_key(k);
            if key.is_empty() {
                continue;
            }
            if is_server_section(&section) {
                options.insert(key.clone(), v.clone().unwrap_or_default());
            }
            entries.push(Entry {
                line: i,
                section: section.clone(),
                key,
                value: v,
            });
        }
        MyCnf {
            lines,
            entries,
            includes,
            options,
        }
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read my.cnf", path, e))?;
        Ok(Self::parse(&text))
    }

    /// An option's value in the server sections (`-` and `_` alike; a bare key gives "").
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(&normalize_key(key)).map(String::as_str)
    }

    /// Every server option, name normalized, later wins.
    pub fn server_options(&self) -> &BTreeMap<String, String> {
        &self.options
    }

    /// Every `key[=value]` line, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// A non-empty option value as a path.
    fn path(&self, key: &str) -> Option<PathBuf> {
        self.get(key).filter(|s| !s.is_empty()).map(PathBuf::from)
    }

    /// `datadir`.
    pub fn datadir(&self) -> Option<PathBuf> {
        self.path("datadir")
    }

    /// `socket`.
    pub fn socket(&self) -> Option<PathBuf> {
        self.path("socket")
    }

    /// `pid_file`.
    pub fn pid_file(&self) -> Option<PathBuf> {
        self.path("pid_file")
    }

    /// `port`.
    pub fn port(&self) -> Option<u16> {
        self.get("port").and_then(|p| p.trim().parse().ok())
    }

    /// The `!include` / `!includedir` lines.
    pub fn includes(&self) -> Vec<&str> {
        self.includes
            .iter()
            .map(|&i| self.lines[i].trim())
            .collect()
    }

    /// The file text with some lines changed: `edit(entry)` says what to do with an entry's
    /// line, None to keep it; `!include` lines are commented out with `drop_includes` as the
    /// reason when it is given. Other lines (comments) are kept as they are.
    pub fn rewrite(
        &self,
        drop_includes: Option<&str>,
        mut edit: impl FnMut(&Entry) -> Option<Edit>,
    ) -> String {
        let mut lines = self.lines.clone();
        if let Some(why) = drop_includes {
            for &i in &self.includes {
                lines[i] = format!("# {} # {why}", self.lines[i].trim());
            }
        }
        for e in &self.entries {
            let raw = &self.lines[e.line];
            let name = raw.split('=').next().unwrap_or(raw).trim();
            match edit(e) {
                None => {}
                Some(Edit::Set(v)) => lines[e.line] = format!("{name} = {}", quote_value(&v)),
                Some(Edit::CommentOut(why)) => lines[e.line] = format!("# {} # {why}", raw.trim()),
                Some(Edit::Loose) => lines[e.line] = format!("loose-{}", raw.trim()),
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// A change to one line of an option file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Give the option this value.
    Set(String),
    /// Turn the line into a comment, saying why.
    CommentOut(String),
    /// Prefix the option with `loose-`: a server that does not know it (its plugin is not
    /// loaded) ignores it instead of refusing to start.
    Loose,
}

/// A value as an option file needs it: quoted when it holds blanks or `#`.
fn quote_value(v: &str) -> String {
    if v.contains(|c: char| c.is_whitespace() || c == '#' || c == '\'') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_server_sections_only() {
        let c = MyCnf::parse(
            "[client]\nsocket=/tmp/client.sock\n!includedir /etc/mysql/conf.d\n[mysqld]\nskip-name-resolve\ndatadir = /data1/mysql-3309 # comment\nsocket=\"/run/m.sock\"\nlog-bin=binlog\nloose-server-audit-logging=ON\n[mariadb-10.11]\nserver_id=7\nport = 3309\n",
        );
        assert_eq!(c.datadir().unwrap(), PathBuf::from("/data1/mysql-3309"));
        assert_eq!(c.socket().unwrap(), PathBuf::from("/run/m.sock"));
        assert_eq!(c.get("log_bin"), Some("binlog"));
        assert_eq!(c.get("skip-name-resolve"), Some(""));
        assert_eq!(c.get("server-id"), Some("7"));
        assert_eq!(c.get("server_audit_logging"), Some("ON"));
        assert_eq!(c.port(), Some(3309));
        assert_eq!(c.entries()[0].section, "client");
        assert_eq!(c.entries()[0].key, "socket");
    }

    #[test]
    fn rewrite_replaces_values_and_keeps_the_rest() {
        let text = "# header\n[mysqld]\nlog-bin = /data1/mysql-3309/binlog\n!include /etc/x.cnf\nlog_error=\"/var/log/my sql.err\"\nport=3309\n";
        let c = MyCnf::parse(text);
        assert_eq!(c.includes(), ["!include /etc/x.cnf"]);
        let out = c.rewrite(None, |e| match e.key.as_str() {
            "log_bin" => Some(Edit::Set("/copy/binlog".into())),
            "log_error" => Some(Edit::Set("/copy/my sql.err".into())),
            "port" => Some(Edit::CommentOut("not ours".into())),
            _ => None,
        });
        assert_eq!(
            out,
            "# header\n[mysqld]\nlog-bin = /copy/binlog\n!include /etc/x.cnf\nlog_error = \"/copy/my sql.err\"\n# port=3309 # not ours\n"
        );
        let again = MyCnf::parse(&out);
        assert_eq!(again.get("log_error"), Some("/copy/my sql.err"));
        let out = c.rewrite(Some("not followed"), |_| None);
        assert!(
            out.contains("# !include /etc/x.cnf # not followed"),
            "{out}"
        );
    }
}

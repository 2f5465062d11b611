//! Where the backed-up instance lived ([`Origin`]) and where the restored one lives
//! ([`Target`]).

use std::path::{Path, PathBuf};

use crate::mysql::mycnf::MyCnf;
use crate::mysql::server_config::lexical;

/// Where the backed-up instance lived.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub data_dir: Option<PathBuf>,
    pub binlog_dir: Option<PathBuf>,
    pub port: Option<u16>,
}

/// Where the restored instance lives.
#[derive(Clone, Debug)]
pub struct Target {
    pub data_dir: PathBuf,
    pub binlog_dir: PathBuf,
    pub port: u16,
    /// `<base>` of the restored binlog files `<base>.NNNNNN`: the files are what they are,
    /// so `log-bin` names them whatever the backup's my.cnf said.
    pub binlog_base: Option<String>,
    /// Name of the restored binlog index file.
    pub binlog_index: Option<String>,
    /// Set when the backup is another instance's: its identity is commented out.
    pub foreign: Option<String>,
    /// Keep options that run code at start (`restore --keep-code-options`).
    pub keep_code: bool,
}

impl Origin {
    /// From the backup's my.cnf and what the manifest recorded (the server's `@@datadir` and
    /// `@@log_bin_basename` at backup time, preferred).
    pub fn new(
        cnf: &MyCnf,
        data_dir: Option<&str>,
        binlog_basename: Option<&str>,
        port: Option<u16>,
    ) -> Self {
        let clean = |p: &str| lexical(Path::new(p.trim_end_matches('/')), Path::new("/"));
        let data_dir = data_dir
            .filter(|d| d.starts_with('/'))
            .and_then(clean)
            .or_else(|| cnf.datadir().and_then(|d| clean(&d.to_string_lossy())));
        let binlog_dir = binlog_basename
            .map(str::to_string)
            .or_else(|| {
                cnf.get("log_bin")
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            })
            .and_then(|b| match (&data_dir, b.starts_with('/')) {
                (_, true) => clean(&b),
                (Some(d), false) => lexical(Path::new(&b), d),
                (None, false) => None,
            })
            .and_then(|b| b.parent().map(Path::to_path_buf))
            .or_else(|| data_dir.clone());
        Origin {
            data_dir,
            binlog_dir,
            port: port.or(cnf.port()),
        }
    }
}

/// `p` with symlinks resolved, when it exists here.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Target {
    /// True when the restore builds a copy beside the original (another data dir or port).
    pub fn is_copy(&self, from: &Origin) -> bool {
        from.data_dir.as_deref().map(canonical) != Some(canonical(&self.data_dir))
            || from.port.is_some_and(|p| p != self.port)
    }
}

//! The files the backup tool writes beside the data, under both generations' names: MariaDB
//! 11.1+ `mariadb-backup` names them `mariadb_backup_*` (MDEV-18931), earlier MariaDB and
//! XtraBackup `xtrabackup_*`. Every place that looks for one takes either, the new name first.
//! (Its `_info`, `_galera_info` and `_slave_info` files are renamed too; nothing here reads
//! them.)

use std::path::{Path, PathBuf};

use crate::archive::manifest::BinlogCoords;
use crate::archive::xbstream::Event;
use crate::error::{Error, Result};

/// One of the backup tool's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Its LSNs; written last, so the mark of a complete backup.
    Checkpoints,
    /// The binlog coordinates of the data: `file<TAB>pos[<TAB>gtid]`.
    BinlogInfo,
}

impl Mark {
    /// Its names: MariaDB 11.1+'s, then the earlier one.
    pub fn names(self) -> [&'static str; 2] {
        match self {
            Mark::Checkpoints => ["mariadb_backup_checkpoints", "xtrabackup_checkpoints"],
            Mark::BinlogInfo => ["mariadb_backup_binlog_info", "xtrabackup_binlog_info"],
        }
    }

    /// Whether `path` (relative to the data dir) is this file under either name.
    pub fn is(self, path: &str) -> bool {
        self.names().contains(&path)
    }

    /// Both names, for messages: "mariadb_backup_checkpoints or xtrabackup_checkpoints".
    pub fn either(self) -> String {
        let [new, old] = self.names();
        format!("{new} or {old}")
    }
}

/// The file `mark` in `dir`, under the new name, else the old one.
pub fn find(dir: &Path, mark: Mark) -> Option<PathBuf> {
    mark.names()
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads the binlog coordinates the backup tool left in `dir`, when it left them.
pub fn read_binlog_info(dir: &Path) -> Result<Option<BinlogCoords>> {
    find(dir, Mark::BinlogInfo)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| BinlogCoords::parse_binlog_info(&t))
        .transpose()
}

/// The marks of a complete backup, as seen in the backup tool's stream.
#[derive(Default)]
pub struct StreamMarks {
    checkpoints: bool,
    /// The binlog info's bytes, and which name they came under (one only, should a stream
    /// hold both).
    binlog_info: Option<(String, Vec<u8>)>,
}

impl StreamMarks {
    /// Takes note of one parser event.
    pub fn on(&mut self, ev: &Event<'_>) {
        match *ev {
            Event::Data { path, data, .. } if Mark::BinlogInfo.is(path) => {
                let (name, bytes) = self
                    .binlog_info
                    .get_or_insert_with(|| (path.to_string(), Vec::new()));
                if name == path {
                    bytes.extend_from_slice(data);
                }
            }
            Event::EndOfFile { path } if Mark::Checkpoints.is(path) => self.checkpoints = true,
            _ => {}
        }
    }

    /// Fails unless the stream held the checkpoints; returns the binlog coordinates it held.
    pub fn check(&self) -> Result<Option<BinlogCoords>> {
        if !self.checkpoints {
            return Err(Error::stage(
                "backup tool",
                format!(
                    "exited 0 but its stream has no {}: the backup is incomplete",
                    Mark::Checkpoints.either()
                ),
            ));
        }
        match &self.binlog_info {
            Some((_, b)) if !b.is_empty() => Ok(Some(BinlogCoords::parse_binlog_info(
                &String::from_utf8_lossy(b),
            )?)),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;

//! What a restore did: [`RestoreReport`] and its text form.

use std::path::PathBuf;

use crate::archive::manifest::BinlogCoords;
use crate::archive::reader::Layout;

/// What a restore did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RestoreReport {
    pub source: String,
    /// Whose backup it is (host, instance id, port, day), when its manifest or key says.
    pub backup_of: Option<String>,
    pub data_dir: PathBuf,
    pub binlog_dir: PathBuf,
    pub my_cnf: PathBuf,
    pub layout: Layout,
    pub data_binlog: Option<BinlogCoords>,
    pub binlog_files_applied: Vec<String>,
    pub gtid_slave_pos: Option<String>,
    /// Point-in-time recovery: the point asked for, and the GTID position restored to.
    pub until: Option<String>,
    pub until_gtid: Option<String>,
    /// Lines of the backup's my.cnf changed for this restore.
    pub rewritten: Vec<String>,
    pub warnings: Vec<String>,
    /// Bytes read from the store (or stdin).
    pub read_bytes: u64,
    pub seconds: f64,
}

impl std::fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.source == "-" {
            writeln!(f, "restored: the archive read from stdin")?;
        } else {
            writeln!(f, "restored: {}", self.source)?;
        }
        if let Some(b) = &self.backup_of {
            writeln!(f, "backup of: {b}")?;
        }
        writeln!(f, "data_dir: {}", self.data_dir.display())?;
        writeln!(f, "binlog_dir: {}", self.binlog_dir.display())?;
        writeln!(f, "my.cnf: {}", self.my_cnf.display())?;
        writeln!(
            f,
            "archive: {}",
            match self.layout {
                crate::archive::reader::Layout::Streaming => {
                    "mysqlbackup's (the backup tool's stream, prepared on restore)"
                }
                crate::archive::reader::Layout::Original => {
                    "the original tool's (a prepared data dir and its binlog)"
                }
            }
        )?;
        for r in &self.rewritten {
            writeln!(f, "my.cnf rewritten: {r}")?;
        }
        if let Some(c) = &self.data_binlog {
            writeln!(
                f,
                "binlog applied from: {}:{} (gtid {})",
                c.file, c.position, c.gtid
            )?;
        }
        writeln!(
            f,
            "binlog files applied: {}",
            self.binlog_files_applied.join(",")
        )?;
        if let (Some(u), Some(g)) = (&self.until, &self.until_gtid) {
            writeln!(f, "restored to: {u} (GTID position {g})")?;
        }
        if let Some(p) = &self.gtid_slave_pos {
            writeln!(f, "gtid_slave_pos: {p}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        write!(f, "seconds: {:.1}", self.seconds)
    }
}

//! The report of `expire`: each backup's decision, and the report's text for people.

use serde::Serialize;

use super::binlogs;
use crate::catalog::Entry;

/// One backup's fate.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    pub key: String,
    pub date: String,
    /// When it was taken (RFC 3339, UTC).
    pub taken_at: String,
    pub host: Option<String>,
    pub instance_id: Option<u32>,
    /// `keep` or `delete`.
    pub action: &'static str,
    pub reason: String,
    /// True once deleted (never in a dry run).
    pub deleted: bool,
    /// Why the deletion failed (the others went on; the command then exits non-zero).
    pub error: Option<String>,
}

impl Decision {
    /// The decision `action` for backup `b`, for `reason` (nothing deleted yet).
    pub(super) fn of(b: &Entry, action: &'static str, reason: String) -> Self {
        Decision {
            key: b.key.clone(),
            date: b.date.clone(),
            taken_at: b.taken_at.clone(),
            host: b.host.clone(),
            instance_id: b.instance_id,
            action,
            reason,
            deleted: false,
            error: None,
        }
    }
}

/// What `expire` did or would do.
#[derive(Clone, Debug, Serialize)]
pub struct ExpireReport {
    pub dry_run: bool,
    pub store: String,
    /// `host H instance I port P`, or `port P` for the port group.
    pub scope: String,
    pub keep_last: Option<usize>,
    pub keep_days: Option<u32>,
    pub backups: Vec<Decision>,
    /// Leftovers of interrupted uploads older than a day: removed (or to be).
    pub leftovers: Vec<String>,
    /// Deletions that failed (the command exits 1 after printing the report).
    pub failures: Vec<String>,
    /// Backups whose metadata cannot be read: nothing of their instance is deleted (the
    /// command exits 1 after printing the report).
    pub damaged: Vec<String>,
    /// Instances none of whose backups verify ever found restorable.
    pub warnings: Vec<String>,
    /// The archived binlog files (see [`binlogs`]).
    pub binlogs: Vec<binlogs::BinlogDecision>,
}

impl std::fmt::Display for ExpireReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        writeln!(
            f,
            "{}retention for {} in {} (keep_last {}, keep_days {}):",
            if self.dry_run {
                "dry run (pass --confirm to delete): "
            } else {
                ""
            },
            self.scope,
            self.store,
            self.keep_last.map_or("-".into(), |n| n.to_string()),
            self.keep_days.map_or("-".into(), |n| n.to_string()),
        )?;
        for d in &self.backups {
            let action = if d.action == "keep" { "keep" } else { verb };
            writeln!(f, "{action}: {} ({})", d.key, d.reason)?;
        }
        for b in self.binlogs.iter().filter(|b| b.action == "delete") {
            writeln!(f, "{verb} binlog: {} ({})", b.key, b.reason)?;
        }
        let kept = self.binlogs.iter().filter(|b| b.action == "keep").count();
        if kept > 0 {
            writeln!(f, "keep: {kept} archived binlog files")?;
        }
        for l in &self.leftovers {
            writeln!(f, "{verb} leftover: {l}")?;
        }
        for e in &self.failures {
            writeln!(f, "FAILED to delete {e}")?;
        }
        for e in &self.damaged {
            writeln!(f, "DAMAGED, nothing of its instance deleted: {e}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        let n = self.backups.iter().filter(|d| d.action == "delete").count();
        write!(
            f,
            "{} kept, {n} {verb}, {} leftovers {verb}",
            self.backups.len() - n,
            self.leftovers.len()
        )
    }
}

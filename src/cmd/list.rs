//! `list`: the backups of this port (every port with `--all`), newest first, with what each
//! holds, and apart from them the leftovers of interrupted uploads.

use serde::Serialize;

use crate::catalog::Entry;
use crate::config::Settings;
use crate::error::Result;

/// A leftover of an interrupted upload, as `list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct LeftoverEntry {
    pub key: String,
    /// The key of the backup it belongs to.
    pub owner: String,
    pub kind: String,
    pub started_at: Option<String>,
    /// What to do about it.
    pub hint: String,
}

/// What `list` found.
#[derive(Clone, Debug, Serialize)]
pub struct ListReport {
    /// `s3://bucket` or the local store's directory.
    pub store: String,
    pub backups: Vec<Entry>,
    pub leftovers: Vec<LeftoverEntry>,
}

/// `12.3 MiB`.
pub fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

impl std::fmt::Display for ListReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} backups in {}, newest first:",
            self.backups.len(),
            self.store
        )?;
        for b in &self.backups {
            let who = match (&b.host, b.instance_id) {
                (Some(h), Some(i)) => format!("host {h} instance {i} port {}", b.port),
                _ => format!("port {} (original tool)", b.port),
            };
            write!(
                f,
                "{}  {who}  taken {}  {}  {}  sha1 {}",
                b.key,
                b.taken.format("%Y-%m-%d %H:%M:%SZ"),
                size(b.size),
                b.chain,
                b.sha1.as_deref().unwrap_or("? (incomplete)")
            )?;
            if b.segments > 1 {
                write!(f, " ({} segments)", b.segments)?;
            }
            if let Some(p) = &b.binlog_pos {
                write!(f, "  data at {p} gtid {}", b.gtid.as_deref().unwrap_or(""))?;
            }
            if let (Some(a), Some(z), Some(n)) = (&b.binlog_first, &b.binlog_last, b.binlog_count) {
                write!(f, "  binlog {a}..{z} ({n} files)")?;
            }
            if let Some(why) = &b.damaged {
                write!(f, "  DAMAGED: {why}")?;
            }
            writeln!(f)?;
        }
        if !self.leftovers.is_empty() {
            writeln!(f, "leftovers of interrupted uploads (not backups):")?;
            for l in &self.leftovers {
                writeln!(
                    f,
                    "{} ({}, started {}): {}",
                    l.key,
                    l.kind,
                    l.started_at.as_deref().unwrap_or("?"),
                    l.hint
                )?;
            }
        }
        Ok(())
    }
}

/// Lists the backups of the port (`all`: of every port).
pub async fn list(s: &Settings, all: bool) -> Result<ListReport> {
    let store = crate::store::build(&s.store)?;
    let port = (!all).then_some(s.port);
    let listing = crate::catalog::list(store.as_ref(), port, None).await?;
    let leftovers = listing
        .leftovers
        .into_iter()
        .map(|l| LeftoverEntry {
            started_at: l
                .modified
                .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
            hint: "the next backup of its instance removes it; `expire --confirm` removes those \
                   older than a day"
                .into(),
            kind: l.kind.to_string(),
            owner: l.owner,
            key: l.key,
        })
        .collect();
    Ok(ListReport {
        store: store.describe(),
        backups: listing.backups,
        leftovers,
    })
}

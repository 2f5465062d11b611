//! `list`: the backups of this port (every port with `--all`), newest first, with what each
//! holds; per instance with a binlog archive, the window point-in-time recovery reaches and
//! its gaps; and apart from them the leftovers of interrupted uploads.

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

/// The span of time and GTIDs an instance can be restored to (`restore --until`).
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    /// `host H instance I port P`.
    pub instance: String,
    /// The oldest backup's data point (its key, GTID position, when it was taken, UTC), if a
    /// backup of the instance has one.
    pub from_backup: Option<String>,
    pub from_gtid: Option<String>,
    pub from_time: Option<String>,
    /// The last archived event: its file, generation, GTID position, time (UTC).
    pub to_file: String,
    pub to_generation: u32,
    pub to_gtid: Option<String>,
    pub to_time: String,
    /// Archived files, and their generations.
    pub files: usize,
    pub generations: usize,
    /// The breaks in the archive.
    pub gaps: Vec<String>,
}

/// What `list` found.
#[derive(Clone, Debug, Serialize)]
pub struct ListReport {
    /// `s3://bucket` or the local store's directory.
    pub store: String,
    pub backups: Vec<Entry>,
    pub leftovers: Vec<LeftoverEntry>,
    /// Per instance with a binlog archive: the window point-in-time recovery reaches.
    pub windows: Vec<Window>,
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

/// `1 backup`, `2 backups`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl std::fmt::Display for ListReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} in {}{}",
            plural(self.backups.len(), "backup"),
            self.store,
            if self.backups.is_empty() {
                ""
            } else {
                ", newest first:"
            }
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
                write!(f, "  binlog {a}..{z} ({})", plural(n as usize, "file"))?;
            }
            if let Some(why) = &b.damaged {
                write!(f, "  DAMAGED: {why}")?;
            }
            writeln!(f)?;
        }
        for w in &self.windows {
            write!(f, "recoverable window of {}: ", w.instance)?;
            match (&w.from_gtid, &w.from_time) {
                (Some(g), Some(t)) => write!(f, "from {t} (GTID {g})")?,
                _ => write!(f, "(no backup with binlog coordinates to start from)")?,
            }
            writeln!(
                f,
                " to {} (GTID {}, {} of generation {}); {} binlog files archived",
                w.to_time,
                w.to_gtid.as_deref().unwrap_or("?"),
                w.to_file,
                w.to_generation,
                w.files
            )?;
            for g in &w.gaps {
                writeln!(f, "  GAP: {g}")?;
            }
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
    let store = crate::store::open(&s.store).await?;
    let port = (!all).then_some(s.port);
    let mut listing = crate::catalog::list(store.as_ref(), port, None).await?;
    let mut windows = Vec::new();
    for instance in crate::catalog::binlogs::instances(store.as_ref(), port).await? {
        let archive = crate::catalog::binlogs::list(store.as_ref(), &instance).await?;
        listing.leftovers.extend(archive.leftovers.clone());
        let Some((generation, files)) = archive.latest() else {
            continue;
        };
        let last = files.last().expect("a generation holds files");
        let to_gtid = match crate::catalog::binlogs::record(store.as_ref(), last).await {
            Ok(crate::catalog::Record {
                kind:
                    crate::catalog::record::Kind::Binlog {
                        end_state: Some(e), ..
                    },
                ..
            }) => crate::mysql::binlog::state::GtidState::parse(&e)
                .ok()
                .map(|s| s.position().canonical()),
            _ => None,
        };
        let oldest = listing
            .backups
            .iter()
            .filter(|b| {
                b.complete()
                    && b.gtid.is_some()
                    && b.host.as_deref() == Some(instance.host.as_str())
                    && b.instance_id == Some(instance.instance_id)
                    && b.port == instance.port
            })
            .min_by_key(|b| b.taken);
        windows.push(Window {
            instance: instance.to_string(),
            from_backup: oldest.map(|b| b.key.clone()),
            from_gtid: oldest.and_then(|b| b.gtid.clone()),
            from_time: oldest.map(|b| b.taken.to_rfc3339()),
            to_file: last.name.file.clone(),
            to_generation: generation,
            to_gtid,
            to_time: last.name.last.to_rfc3339(),
            files: archive.files().count(),
            generations: archive.generations.len(),
            gaps: crate::catalog::binlogs::gaps(&archive),
        });
    }
    let leftovers = listing
        .leftovers
        .into_iter()
        .map(|l| LeftoverEntry {
            started_at: l
                .modified
                .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
            hint: if l.owner.starts_with("binlog/") {
                "the next archive_binlog of its instance removes it".into()
            } else {
                "the next backup of its instance removes it; `expire --confirm` removes those \
                 older than a day"
                    .into()
            },
            kind: l.kind.to_string(),
            owner: l.owner,
            key: l.key,
        })
        .collect();
    Ok(ListReport {
        store: store.describe(),
        backups: listing.backups,
        leftovers,
        windows,
    })
}

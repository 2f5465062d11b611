//! `expire` of the binlog archive: every archived file a kept backup needs to roll forward to
//! the newest archived event is kept (in the generation holding the backup's data point, from
//! the file holding it on); the newest generation is kept whole until a kept backup starts in
//! it; the rest goes, record first.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::binlogs::{self, Archived};
use crate::catalog::{Entry, Instance};
use crate::error::Result;
use crate::mysql::binlog::state::GtidState;
use crate::store::Store;

/// One archived file's fate.
#[derive(Clone, Debug, Serialize)]
pub struct BinlogDecision {
    pub key: String,
    pub file: String,
    pub generation: u32,
    /// `keep` or `delete`.
    pub action: &'static str,
    pub reason: String,
    pub deleted: bool,
    pub error: Option<String>,
}

/// Decides the fate of the archived files of `instance`, given the backups retention keeps.
pub async fn decide(
    store: &dyn Store,
    instance: &Instance,
    kept: &[&Entry],
) -> Result<Vec<BinlogDecision>> {
    let archive = binlogs::list(store, instance).await?;
    let Some((latest, _)) = archive.latest() else {
        return Ok(Vec::new());
    };
    // Per generation, the first file a kept backup needs, and that backup.
    let mut needed: BTreeMap<u32, (usize, String)> = BTreeMap::new();
    for b in kept {
        let (Some(pos), Some(gtid)) = (&b.binlog_pos, &b.gtid) else {
            continue;
        };
        let Some((file, _)) = pos.rsplit_once(':') else {
            continue;
        };
        let Ok(from) = GtidState::parse(gtid).map(|s| s.position()) else {
            continue;
        };
        if let Some((g, i)) = binlogs::home(store, &archive, file, &from).await? {
            let e = needed.entry(g).or_insert((i, b.key.clone()));
            if i < e.0 {
                *e = (i, b.key.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (g, files) in &archive.generations {
        for (i, a) in files.iter().enumerate() {
            let (action, reason) = match needed.get(g) {
                Some((from, b)) if i >= *from => ("keep", format!("needed to roll {b} forward")),
                Some((_, b)) => (
                    "delete",
                    format!(
                        "before the data point of {b}, the oldest kept backup of its generation"
                    ),
                ),
                None if *g == latest => (
                    "keep",
                    "the newest generation, which no kept backup starts in yet".to_string(),
                ),
                None => (
                    "delete",
                    format!("generation {g}: no kept backup starts in it"),
                ),
            };
            out.push(BinlogDecision {
                key: a.key.clone(),
                file: a.name.file.clone(),
                generation: *g,
                action,
                reason,
                deleted: false,
                error: None,
            });
        }
    }
    Ok(out)
}

/// Deletes an archived file: its record first (it is then no archived file), then its objects.
pub async fn delete(store: &dyn Store, key: &str) -> Result<()> {
    let a = binlogs::BinlogKey::parse(key).map(|name| Archived {
        key: key.to_string(),
        name,
        stored: crate::store::ObjectInfo {
            key: key.to_string(),
            size: 0,
            modified: std::time::SystemTime::UNIX_EPOCH,
            metadata: Default::default(),
        },
    });
    let objects = match &a {
        Some(a) => binlogs::record(store, a)
            .await
            .map(|r| r.objects)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    store
        .delete(&crate::catalog::names::record_key(key))
        .await?;
    for o in objects.iter().rev() {
        store.delete(&o.key).await?;
    }
    store.delete(key).await
}

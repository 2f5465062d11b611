//! What the store holds: every backup with what its metadata records, and the leftovers of
//! interrupted uploads with the instance they belong to.

use super::{KeyParts, day_prefix, parse_key};
use crate::codec::chain::Chain;
use crate::error::Result;
use crate::store::{Leftover, Store};

/// A stored backup as the catalog shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    pub key: String,
    pub location: String,
    pub date: String,
    pub host: String,
    pub instance_id: u32,
    pub port: u16,
    pub size: u64,
    /// The codec chain, e.g. `gzip+des3`.
    pub chain: String,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// `file:position` of the data in the binlog.
    pub binlog_pos: Option<String>,
    pub gtid: Option<String>,
    pub binlog_first: Option<String>,
    pub binlog_last: Option<String>,
    pub binlog_count: Option<u64>,
    /// When it was stored (RFC 3339).
    pub stored_at: String,
    /// Why its metadata could not be read (see [`crate::store::ObjectInfo::damaged`]): the
    /// backup is listed, but nothing may act on what it records.
    pub damaged: Option<String>,
    #[serde(skip)]
    pub modified: std::time::SystemTime,
}

/// Every backup of `port` (every port: None) in `store`, newest first. A listing that fails
/// anywhere is an error: nothing may act on a partial one. A backup whose metadata cannot be
/// read is listed with [`Entry::damaged`] set.
pub async fn list_backups(store: &dyn Store, port: Option<u16>) -> Result<Vec<Entry>> {
    let mut days: Vec<String> = store
        .list_dirs("")
        .await?
        .into_iter()
        .filter(|d| crate::config::validate_date_str(d.clone()).is_ok())
        .collect();
    days.sort();
    let mut out = Vec::new();
    for day in days.iter().rev() {
        let prefix = match port {
            Some(p) => day_prefix(day, p),
            None => format!("{day}/"),
        };
        for o in store.list(&prefix).await? {
            let Some(k) = parse_key(&o.key) else {
                continue;
            };
            let info = if o.metadata.contains_key("sha1") || o.damaged.is_some() {
                o
            } else {
                store.head(&o.key).await?.unwrap_or(o)
            };
            let m = &info.metadata;
            let get = |n: &str| m.get(n).cloned();
            out.push(Entry {
                location: store.location(&info.key),
                date: k.date_str.clone(),
                host: k.host.clone(),
                instance_id: k.instance_id,
                port: k.port,
                size: info.size,
                chain: get("chain").unwrap_or_else(|| {
                    Chain::of_suffix(k.suffix).map_or_else(|| "unknown".into(), |c| c.name())
                }),
                sha1: get("sha1"),
                sha256: get("sha256"),
                binlog_pos: get("binlog-pos"),
                gtid: get("gtid"),
                binlog_first: get("binlog-first"),
                binlog_last: get("binlog-last"),
                binlog_count: get("binlog-count").and_then(|c| c.parse().ok()),
                stored_at: chrono::DateTime::<chrono::Utc>::from(info.modified).to_rfc3339(),
                damaged: info.damaged.clone(),
                modified: info.modified,
                key: info.key,
            });
        }
    }
    out.sort_by(|a, b| (&b.date, b.modified).cmp(&(&a.date, a.modified)));
    Ok(out)
}

/// The leftovers of interrupted uploads of `port` (every port: None), with their age.
pub async fn list_leftovers(store: &dyn Store, port: Option<u16>) -> Result<Vec<Leftover>> {
    let mut l = store.leftovers().await?;
    if let Some(p) = port {
        l.retain(|l| l.key.split('/').nth(1) == Some(&p.to_string()));
    }
    Ok(l)
}

/// The backup key a leftover was written for (a staging object, pending upload or partial
/// file of it), parsed; None for anything else.
pub fn leftover_owner(leftover_key: &str) -> Option<KeyParts> {
    let (dir, name) = leftover_key.rsplit_once('/')?;
    let owner = match crate::store::s3::upload::staging_of(name) {
        Some(staged) => staged.to_string(),
        None => [
            ".sha1.partial",
            ".sha256.partial",
            ".meta.partial",
            ".partial",
        ]
        .iter()
        .find_map(|s| name.strip_suffix(s))?
        .to_string(),
    };
    parse_key(&format!("{dir}/{owner}"))
}

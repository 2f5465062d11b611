//! What the store holds: every backup with what it records ([`Entry`]), and what interrupted
//! runs left ([`LeftoverEntry`]), each with the backup key it belongs to.
//!
//! Cost: one listing request per page of each day's folder of the port, one small GET per
//! [`Scheme::Timed`] backup (its record), one HEAD per earlier-scheme backup on S3 (their
//! metadata): it grows with the backups, never with the objects (segments, sidecars).

use std::collections::BTreeMap;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};

use super::legacy;
use super::names::{
    KeyParts, Role, Scheme, classify, day_prefix, parse_key, record_key, validate_day,
};
use super::record::{Kind, Record};
use crate::error::Result;
use crate::store::{Leftover, ObjectInfo, Store, StoredObject};

/// Records read at once.
const READ_AHEAD: usize = 8;

/// A stored backup as the catalog shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    pub key: String,
    pub location: String,
    pub scheme: Scheme,
    /// `full` (later: `incremental`).
    pub kind: String,
    /// The day it is filed under (`YYYY_MM_DD`).
    pub date: String,
    /// None for a backup of the original tool (it names the port only).
    pub host: Option<String>,
    pub instance_id: Option<u32>,
    pub port: u16,
    /// When it was taken (RFC 3339, UTC): its record's time; for an earlier scheme, when it
    /// was stored.
    pub taken_at: String,
    /// Stored bytes (all segments).
    pub size: u64,
    /// Objects its bytes are stored as.
    pub segments: usize,
    /// The codec chain, e.g. `gzip+des3`.
    pub chain: String,
    /// None: not a complete backup.
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// `file:position` of the data in the binlog.
    pub binlog_pos: Option<String>,
    pub gtid: Option<String>,
    pub binlog_first: Option<String>,
    pub binlog_last: Option<String>,
    pub binlog_count: Option<u64>,
    /// Why what it records cannot be read (a record or sidecar that is not JSON, say): the
    /// backup is listed, but nothing may act on what it records.
    pub damaged: Option<String>,
    #[serde(skip)]
    pub taken: DateTime<Utc>,
    /// Its objects, in order.
    #[serde(skip)]
    pub objects: Vec<StoredObject>,
    #[serde(skip)]
    pub parts: Option<KeyParts>,
    #[serde(skip)]
    pub record: Option<Record>,
}

impl Entry {
    /// Whether it is a backup that may be restored: complete and readable.
    pub fn complete(&self) -> bool {
        self.sha1.is_some() && self.damaged.is_none()
    }

    /// Whose backup it is, in words.
    pub fn owner(&self) -> String {
        match (&self.host, self.instance_id) {
            (Some(h), Some(i)) => format!("host {h}, instance {i}, port {}", self.port),
            _ => format!(
                "port {} (the original tool's: no host or instance)",
                self.port
            ),
        }
    }

    /// The entry of a [`Scheme::Timed`] backup from its record (checked against the key).
    fn of_record(
        info: &ObjectInfo,
        parts: KeyParts,
        read: Result<Option<bytes::Bytes>>,
        store: &dyn Store,
    ) -> Self {
        let checked = read.and_then(|b| {
            let b = b.ok_or_else(|| {
                crate::error::Error::format("record", format!("{} is gone", record_key(&info.key)))
            })?;
            let r = Record::parse(&b)?;
            r.check(&info.key, &parts)?;
            Ok(r)
        });
        let (record, damaged) = match checked {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(crate::error::report_lines(&e).join(": "))),
        };
        let r = record.as_ref();
        let taken = r.map_or_else(
            || parts.taken.unwrap_or_else(|| info.modified.into()),
            |r| r.taken_at,
        );
        Entry {
            key: info.key.clone(),
            location: store.location(&info.key),
            scheme: Scheme::Timed,
            kind: match r.map(|r| &r.kind) {
                Some(Kind::Full) | None => "full".into(),
                Some(Kind::Incremental { .. }) => "incremental".into(),
                Some(_) => "unknown".into(),
            },
            date: parts.day.clone(),
            host: parts.host.clone(),
            instance_id: parts.instance_id,
            port: parts.port,
            taken_at: taken.to_rfc3339(),
            size: r.map_or(info.size, |r| r.size),
            segments: r.map_or(1, |r| r.objects.len()),
            chain: r.map_or_else(|| "unknown".into(), |r| r.chain.clone()),
            sha1: r.map(|r| r.sha1.clone()),
            sha256: r.map(|r| r.sha256.clone()),
            binlog_pos: r
                .and_then(|r| r.data.as_ref())
                .map(|d| format!("{}:{}", d.file, d.position)),
            gtid: r.and_then(|r| r.data.as_ref()).map(|d| d.gtid.clone()),
            binlog_first: r.and_then(|r| r.binlog_files.first().cloned()),
            binlog_last: r.and_then(|r| r.binlog_files.last().cloned()),
            binlog_count: r.map(|r| r.binlog_files.len() as u64),
            damaged,
            taken,
            objects: r.map_or_else(
                || {
                    vec![StoredObject {
                        key: info.key.clone(),
                        size: info.size,
                    }]
                },
                |r| r.objects.clone(),
            ),
            parts: Some(parts),
            record,
        }
    }
}

/// What an interrupted run left, as the catalog shows it.
#[derive(Clone, Debug)]
pub struct LeftoverEntry {
    /// The key of the backup it belongs to.
    pub owner: String,
    pub parts: KeyParts,
    /// What it is: `pending upload`, `partial file`, `uncommitted object` (no record), ...
    pub kind: &'static str,
    /// The object's key (an uncommitted object), or what the store reports.
    pub key: String,
    pub modified: Option<SystemTime>,
    /// The store's leftover; None for an uncommitted object (removed by deleting `key`).
    pub store_leftover: Option<Leftover>,
}

impl LeftoverEntry {
    /// Removes it.
    pub async fn remove(&self, store: &dyn Store) -> Result<()> {
        match &self.store_leftover {
            Some(l) => store.remove_leftover(l).await,
            None => store.delete(&self.key).await,
        }
    }
}

/// Backups and leftovers of a port (or every port).
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Newest first (by when they were taken).
    pub backups: Vec<Entry>,
    pub leftovers: Vec<LeftoverEntry>,
}

/// Every object under the day folders of `port` (every port: None), with the days.
async fn objects(
    store: &dyn Store,
    port: Option<u16>,
    day: Option<&str>,
) -> Result<Vec<ObjectInfo>> {
    let mut days: Vec<String> = match day {
        Some(d) => vec![d.to_string()],
        None => store
            .list_dirs("")
            .await?
            .into_iter()
            .filter(|d| validate_day(d.clone()).is_ok())
            .collect(),
    };
    days.sort();
    let mut out = Vec::new();
    for day in days.iter().rev() {
        let prefix = match port {
            Some(p) => day_prefix(day, p),
            None => format!("{day}/"),
        };
        out.extend(store.list(&prefix).await?);
    }
    Ok(out)
}

/// Every backup of `port` (every port: None; only those filed under `day` when given), newest
/// first, and the leftovers of interrupted runs. A listing that fails anywhere is an error:
/// nothing may act on a partial one. A backup whose record cannot be read is listed with
/// [`Entry::damaged`] set.
pub async fn list(store: &dyn Store, port: Option<u16>, day: Option<&str>) -> Result<Listing> {
    scan(store, port, day, true).await
}

/// The leftovers of interrupted runs of `port` (every port: None), without reading any record.
pub async fn leftovers(store: &dyn Store, port: Option<u16>) -> Result<Vec<LeftoverEntry>> {
    Ok(scan(store, port, None, false).await?.leftovers)
}

async fn scan(
    store: &dyn Store,
    port: Option<u16>,
    day: Option<&str>,
    read_backups: bool,
) -> Result<Listing> {
    let mut backups: BTreeMap<String, (ObjectInfo, KeyParts)> = BTreeMap::new();
    let mut records: BTreeMap<String, ObjectInfo> = BTreeMap::new();
    let mut segments: BTreeMap<String, Vec<ObjectInfo>> = BTreeMap::new();
    let mut sidecars: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for o in objects(store, port, day).await? {
        match classify(&o.key) {
            Some(Role::Backup(p)) => {
                backups.insert(o.key.clone(), (o, p));
            }
            Some(Role::Record { backup }) => {
                records.insert(backup, o);
            }
            Some(Role::Segment { backup, .. }) => segments.entry(backup).or_default().push(o),
            Some(Role::Sidecar { backup, ext }) => sidecars.entry(backup).or_default().push(ext),
            None => {}
        }
    }
    let mut listing = Listing::default();
    let mut timed = Vec::new();
    let mut legacy_ones = Vec::new();
    for (key, (info, parts)) in &backups {
        match parts.scheme {
            Scheme::Timed if records.contains_key(key) => timed.push((info.clone(), parts.clone())),
            Scheme::Timed => {
                // No record: a backup that never committed; its objects are leftovers.
                let mut all = vec![info.clone()];
                all.extend(segments.remove(key).unwrap_or_default());
                for o in all {
                    listing.leftovers.push(uncommitted(key, parts, o));
                }
            }
            _ => legacy_ones.push((info.clone(), parts.clone())),
        }
        segments.remove(key);
    }
    // Segments whose first object is gone, records whose backup is gone.
    for (key, objs) in segments {
        if let Some(parts) = parse_key(&key) {
            for o in objs {
                listing.leftovers.push(uncommitted(&key, &parts, o));
            }
        }
    }
    for (key, rec) in &records {
        if !backups.contains_key(key)
            && let Some(parts) = parse_key(key)
        {
            listing.leftovers.push(LeftoverEntry {
                owner: key.clone(),
                parts,
                kind: "record without its backup",
                key: rec.key.clone(),
                modified: Some(rec.modified),
                store_leftover: None,
            });
        }
    }
    if !read_backups {
        timed.clear();
        legacy_ones.clear();
    }
    let read: Vec<Entry> = futures::stream::iter(timed)
        .map(|(info, parts)| async move {
            let bytes = store.read(&record_key(&info.key)).await;
            Entry::of_record(&info, parts, bytes, store)
        })
        .buffered(READ_AHEAD)
        .collect()
        .await;
    listing.backups.extend(read);
    let sidecars = &sidecars;
    let old: Vec<Entry> = futures::stream::iter(legacy_ones)
        .map(|(info, parts)| async move {
            let side = sidecars.get(&info.key).cloned().unwrap_or_default();
            legacy::entry(store, info, Some(parts), &side).await
        })
        .buffered(READ_AHEAD)
        .collect()
        .await;
    listing.backups.extend(old);
    listing
        .backups
        .sort_by(|a, b| (b.taken, &b.key).cmp(&(a.taken, &a.key)));

    for l in store.leftovers().await? {
        let Some(owner) = super::names::owner(&l.key) else {
            continue;
        };
        let Some(parts) = parse_key(&owner) else {
            continue;
        };
        if port.is_some_and(|p| p != parts.port) || day.is_some_and(|d| d != parts.day) {
            continue;
        }
        listing.leftovers.push(LeftoverEntry {
            owner,
            parts,
            kind: l.kind,
            key: l.key.clone(),
            modified: l.modified,
            store_leftover: Some(l),
        });
    }
    Ok(listing)
}

fn uncommitted(owner: &str, parts: &KeyParts, o: ObjectInfo) -> LeftoverEntry {
    LeftoverEntry {
        owner: owner.to_string(),
        parts: parts.clone(),
        kind: "uncommitted object (no record)",
        key: o.key,
        modified: Some(o.modified),
        store_leftover: None,
    }
}

/// The entry of the backup at `key` (any scheme, or a key outside them, read as an earlier
/// scheme's), or None when there is no object there.
pub async fn entry(store: &dyn Store, key: &str) -> Result<Option<Entry>> {
    let Some(info) = store.head(key).await? else {
        return Ok(None);
    };
    let parts = parse_key(key);
    match &parts {
        Some(p) if p.scheme == Scheme::Timed => {
            let read = store.read(&record_key(key)).await;
            Ok(Some(Entry::of_record(&info, p.clone(), read, store)))
        }
        _ => {
            let mut side = Vec::new();
            for ext in super::names::LEGACY_SIDECARS {
                if store.head(&format!("{key}{ext}")).await?.is_some() {
                    side.push(*ext);
                }
            }
            Ok(Some(legacy::entry(store, info, parts, &side).await))
        }
    }
}

/// The stored bytes of `entry`: its objects, one after the other.
pub async fn stream(
    store: std::sync::Arc<dyn Store>,
    entry: &Entry,
) -> Result<futures::stream::BoxStream<'static, Result<bytes::Bytes>>> {
    let mut keys = entry.objects.iter().map(|o| o.key.clone());
    let first = keys.next().unwrap_or_else(|| entry.key.clone());
    let head = store.get(&first).await?;
    let rest: Vec<String> = keys.collect();
    let tail = futures::stream::iter(rest)
        .then(move |k| {
            let store = store.clone();
            async move { store.get(&k).await }
        })
        .try_flatten();
    Ok(head.chain(tail).boxed())
}

/// Removes a backup: its record first (it is then no backup), then its objects, then what
/// verify recorded of it; an earlier scheme's with its sidecars.
pub async fn delete(store: &dyn Store, entry: &Entry) -> Result<()> {
    match entry.scheme {
        Scheme::Timed => {
            store.delete(&record_key(&entry.key)).await?;
            for o in entry.objects.iter().rev() {
                store.delete(&o.key).await?;
            }
            // A damaged record listed fewer (or no) objects: its key's own segments go too.
            store.delete(&entry.key).await?;
        }
        _ => legacy::delete(store, &entry.key).await?,
    }
    let verdict = super::verdicts::verdict_key(&entry.key);
    if let Err(e) = store.delete(&verdict).await {
        tracing::warn!("could not delete the verdict {verdict}: {e}");
    }
    Ok(())
}

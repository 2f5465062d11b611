//! What the store holds: the backups ([`Entry`]) and what interrupted runs left
//! ([`LeftoverEntry`]), by port (or every port) and day (or every day).
//!
//! Cost: one listing request per page of each day's folder of the port; with leftovers, one
//! ListMultipartUploads (S3); then one small GET per backup read (its record), one HEAD per
//! earlier-scheme backup on S3 (its metadata). It grows with the backups, never with the
//! objects (segments, sidecars); finding the newest backup reads records only until it is
//! found.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};

use super::entry::Entry;
use super::leftovers::{LeftoverEntry, age_by_owner};
use super::legacy;
use super::names::KeyParts;
use super::names::{
    LEGACY_SIDECARS, Role, Scheme, classify, day_prefix, parse_key, record_key, validate_day,
};
use crate::error::Result;
use crate::store::{ObjectInfo, Store};

/// Records read at once.
const READ_AHEAD: usize = 8;

/// Backups and leftovers of a port (or every port).
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Newest first (by when they were taken).
    pub backups: Vec<Entry>,
    pub leftovers: Vec<LeftoverEntry>,
}

/// A backup a listing found, before what it records is read.
struct Found {
    info: ObjectInfo,
    parts: KeyParts,
    /// Its objects as the store holds them (its own and its segments), by key.
    listed: BTreeMap<String, u64>,
    sidecars: Vec<&'static str>,
}

impl Found {
    /// When it was taken, as its key tells (its record, read later, says to the nanosecond).
    fn taken(&self) -> DateTime<Utc> {
        match self.parts.taken {
            Some(t) => t,
            None => legacy::taken(Some(&self.parts), self.info.modified),
        }
    }

    async fn read(self, store: &dyn Store) -> Entry {
        match self.parts.scheme {
            Scheme::Timed => {
                let bytes = store.read(&record_key(&self.info.key)).await;
                Entry::of_record(&self.info, self.parts, bytes, &self.listed, store)
            }
            _ => legacy::entry(store, self.info, Some(self.parts), &self.sidecars).await,
        }
    }
}

/// The backups found (newest first by their keys' time) and the leftovers.
struct Scanned {
    found: Vec<Found>,
    leftovers: Vec<LeftoverEntry>,
}

/// Lists the day folders of `port` (every port: None; only `day` when given), grouping what
/// they hold by backup. With `leftovers`, also what interrupted runs left there and the
/// store's pending uploads.
async fn scan(
    store: &dyn Store,
    port: Option<u16>,
    day: Option<&str>,
    leftovers: bool,
) -> Result<Scanned> {
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
    let mut objects = Vec::new();
    let mut left: Vec<LeftoverEntry> = Vec::new();
    for day in days.iter().rev() {
        let prefix = match port {
            Some(p) => day_prefix(day, p),
            None => format!("{day}/"),
        };
        if leftovers {
            let (o, l) = store.scan(&prefix).await?;
            objects.extend(o);
            left.extend(l.into_iter().filter_map(LeftoverEntry::of_store));
        } else {
            objects.extend(store.list(&prefix).await?);
        }
    }
    let mut backups: BTreeMap<String, (ObjectInfo, KeyParts)> = BTreeMap::new();
    let mut records: BTreeMap<String, ObjectInfo> = BTreeMap::new();
    let mut segments: BTreeMap<String, Vec<ObjectInfo>> = BTreeMap::new();
    let mut sidecars: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for o in objects {
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
    let mut found = Vec::new();
    for (key, (info, parts)) in backups {
        let segs = segments.remove(&key).unwrap_or_default();
        if parts.scheme == Scheme::Timed && !records.contains_key(&key) {
            // No record: a backup that never committed (or is under way); its objects are
            // leftovers.
            let owner = key.clone();
            for o in std::iter::once(info).chain(segs) {
                left.push(LeftoverEntry::object(
                    &owner,
                    &parts,
                    o,
                    "uncommitted object (no record)",
                ));
            }
            continue;
        }
        let listed = std::iter::once(&info)
            .chain(&segs)
            .map(|o| (o.key.clone(), o.size))
            .collect();
        found.push(Found {
            sidecars: sidecars.remove(&key).unwrap_or_default(),
            info,
            parts,
            listed,
        });
    }
    // Segments whose first object is gone, records whose backup is gone.
    for (key, objs) in segments {
        if let Some(parts) = parse_key(&key) {
            for o in objs {
                left.push(LeftoverEntry::object(
                    &key,
                    &parts,
                    o,
                    "segment without its backup",
                ));
            }
        }
    }
    let found_keys: std::collections::BTreeSet<&str> =
        found.iter().map(|f| f.info.key.as_str()).collect();
    for (key, rec) in records {
        if !found_keys.contains(key.as_str())
            && let Some(parts) = parse_key(&key)
        {
            left.push(LeftoverEntry::object(
                &key,
                &parts,
                rec,
                "record without its backup",
            ));
        }
    }
    if leftovers {
        left.extend(
            store
                .pending("")
                .await?
                .into_iter()
                .filter_map(LeftoverEntry::of_store)
                .filter(|l| {
                    port.is_none_or(|p| p == l.parts.port) && day.is_none_or(|d| d == l.parts.day)
                }),
        );
        age_by_owner(&mut left);
    }
    found.sort_by(|a, b| (b.taken(), &b.info.key).cmp(&(a.taken(), &a.info.key)));
    Ok(Scanned {
        found,
        leftovers: left,
    })
}

/// Every backup of `port` (every port: None; only those filed under `day` when given), newest
/// first, and the leftovers of interrupted runs. A listing that fails anywhere is an error:
/// nothing may act on a partial one. A backup whose record cannot be read is listed with
/// [`Entry::damaged`] set.
pub async fn list(store: &dyn Store, port: Option<u16>, day: Option<&str>) -> Result<Listing> {
    let scanned = scan(store, port, day, true).await?;
    Ok(Listing {
        backups: read_all(store, scanned.found).await,
        leftovers: scanned.leftovers,
    })
}

/// The backups of `port` as [`list`] gives them, without looking for leftovers.
pub async fn backups(
    store: &dyn Store,
    port: Option<u16>,
    day: Option<&str>,
) -> Result<Vec<Entry>> {
    let scanned = scan(store, port, day, false).await?;
    Ok(read_all(store, scanned.found).await)
}

async fn read_all(store: &dyn Store, found: Vec<Found>) -> Vec<Entry> {
    let mut read: Vec<Entry> = futures::stream::iter(found)
        .map(|f| f.read(store))
        .buffered(READ_AHEAD)
        .collect()
        .await;
    read.sort_by(|a, b| (b.taken, &b.key).cmp(&(a.taken, &a.key)));
    read
}

/// The leftovers of interrupted runs of `port` (every port: None), without reading any record.
pub async fn leftovers(store: &dyn Store, port: Option<u16>) -> Result<Vec<LeftoverEntry>> {
    Ok(scan(store, port, None, true).await?.leftovers)
}

/// The newest backup of `port` (filed under `day` when given) whose key `wanted` accepts and
/// that is complete and full, reading records newest first until it is found. A newer one
/// whose record cannot be read is returned as it is (damaged) for the caller to refuse: a
/// backup is not passed over for a reason nobody saw.
pub async fn newest(
    store: &dyn Store,
    port: u16,
    day: Option<&str>,
    wanted: impl Fn(&KeyParts) -> bool,
) -> Result<Option<Entry>> {
    let scanned = scan(store, Some(port), day, false).await?;
    for f in scanned.found.into_iter().filter(|f| wanted(&f.parts)) {
        let e = f.read(store).await;
        if e.damaged.is_some() || e.complete() {
            return Ok(Some(e));
        }
        tracing::info!(
            "skipping {}: {} backup, not a complete full one",
            e.key,
            e.kind
        );
    }
    Ok(None)
}

/// The entry of the backup at `key` (any scheme, or a key outside them, read as an earlier
/// scheme's), or None when there is no object there.
pub async fn entry(store: &dyn Store, key: &str) -> Result<Option<Entry>> {
    let Some(info) = store.head(key).await? else {
        return Ok(None);
    };
    let parts = parse_key(key);
    // Its segments, record and sidecars: the objects named `{key}.…`.
    let beside = store.list(&format!("{key}.")).await?;
    match &parts {
        Some(p) if p.scheme == Scheme::Timed => {
            let listed = std::iter::once(&info)
                .chain(beside.iter())
                .map(|o| (o.key.clone(), o.size))
                .collect();
            let read = store.read(&record_key(key)).await;
            Ok(Some(Entry::of_record(
                &info,
                p.clone(),
                read,
                &listed,
                store,
            )))
        }
        _ => {
            let side: Vec<&str> = LEGACY_SIDECARS
                .iter()
                .copied()
                .filter(|ext| beside.iter().any(|o| o.key == format!("{key}{ext}")))
                .collect();
            Ok(Some(legacy::entry(store, info, parts, &side).await))
        }
    }
}

/// The stored bytes of `entry`: its objects, one after the other.
pub async fn stream(
    store: std::sync::Arc<dyn Store>,
    entry: &Entry,
) -> Result<futures::stream::BoxStream<'static, Result<bytes::Bytes>>> {
    stream_objects(store, &entry.objects).await
}

/// The bytes of `objects`, one after the other: the first opened now (a missing one fails
/// here), each next one when the one before ends (a connection opened early would idle for
/// hours behind a large segment).
pub async fn stream_objects(
    store: std::sync::Arc<dyn Store>,
    objects: &[crate::store::StoredObject],
) -> Result<futures::stream::BoxStream<'static, Result<bytes::Bytes>>> {
    let Some((first, rest)) = objects.split_first() else {
        return Ok(futures::stream::empty().boxed());
    };
    let head = store.get(&first.key).await?;
    let rest: Vec<String> = rest.iter().map(|o| o.key.clone()).collect();
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
            // A damaged record listed fewer (or no) objects: its first object goes too; any
            // other segment is then a leftover of its key.
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

//! The continuous binlog archive: one object per closed binlog file of an instance, with its
//! record, named so that a listing alone tells which files the archive holds, in which
//! generation, and whether each continues the one before it.
//!
//! Key: `binlog/{port}/{host}-{id}/g{generation}/{file}.{size}.{first}-{last}.{start}-{end}{suffix}`,
//! e.g. `binlog/3306/db1-1/g0001/binlog.000042.1048576.20261204T101500Z-20261204T101612Z.3f2a1b0c-77e0d1aa.zst.age`:
//! the file's name and size, the UTC seconds of its first and last events, and tags (8 hex
//! digits of a SHA-1) of the binlog state at its start (its Gtid_list event) and at its end.
//! A file continues the one before it when the one's end tag is the other's start tag; the
//! GTIDs themselves are in the record (`{key}.json`, written last: the commit mark).
//!
//! A generation is one binlog history of the instance. Names repeat after `RESET MASTER`, a
//! restore or a rebuild; a file whose name the archive holds with other content starts a new
//! generation, so nothing stored is ever overwritten.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::leftovers::LeftoverEntry;
use super::names::{Instance, KeyParts, Scheme, record_key, stamp};
use super::record::Kind;
use crate::codec::chain::RAW_SUFFIXES;
use crate::error::Result;
use crate::mysql::binlog::order_key;
use crate::mysql::binlog::state::{GtidState, Position};
use crate::store::{ObjectInfo, Store};

/// Where the archived binlog files of `instance` live.
pub fn prefix(instance: &Instance) -> String {
    format!(
        "binlog/{}/{}-{}/",
        instance.port, instance.host, instance.instance_id
    )
}

/// What an archived binlog file's key names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinlogKey {
    pub instance: Instance,
    pub generation: u32,
    pub file: String,
    /// Bytes of the binlog file (before compression and encryption).
    pub size: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Tags of the binlog state at its start and end.
    pub start: String,
    pub end: String,
    pub suffix: &'static str,
}

impl BinlogKey {
    /// Its key.
    pub fn key(&self) -> String {
        format!(
            "{}g{:04}/{}.{}.{}-{}.{}-{}{}",
            prefix(&self.instance),
            self.generation,
            self.file,
            self.size,
            stamp(self.first),
            stamp(self.last),
            self.start,
            self.end,
            self.suffix
        )
    }

    /// Parses a key of [`BinlogKey::key`]'s form; None for anything else.
    pub fn parse(key: &str) -> Option<BinlogKey> {
        let mut parts = key.split('/');
        let (Some("binlog"), Some(port), Some(host_id), Some(generation), Some(name), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let port_n: u16 = port.parse().ok()?;
        let (host, id) = host_id.rsplit_once('-')?;
        let instance_id: u32 = id.parse().ok()?;
        let gen_n: u32 = generation.strip_prefix('g')?.parse().ok()?;
        let suffix = *RAW_SUFFIXES.iter().find(|s| name.ends_with(*s))?;
        let stem = name.strip_suffix(suffix)?;
        let (rest, tags) = stem.rsplit_once('.')?;
        let (start, end) = tags.split_once('-')?;
        let (rest, times) = rest.rsplit_once('.')?;
        let (first, last) = times.split_once('-')?;
        let (file, size) = rest.rsplit_once('.')?;
        fn tag(t: &str) -> Option<&str> {
            (t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit())).then_some(t)
        }
        let time = super::names::parse_stamp;
        let b = BinlogKey {
            instance: Instance {
                host: host.to_string(),
                instance_id,
                port: port_n,
            },
            generation: gen_n,
            file: file.to_string(),
            size: size.parse().ok()?,
            first: time(first)?,
            last: time(last)?,
            start: tag(start)?.to_string(),
            end: tag(end)?.to_string(),
            suffix,
        };
        (b.key() == key && !host.is_empty() && !file.is_empty()).then_some(b)
    }

    /// The [`KeyParts`] a record of it is checked against (its instance, its first event's
    /// day).
    pub fn parts(&self) -> KeyParts {
        KeyParts {
            scheme: Scheme::Timed,
            day: self.first.format("%Y_%m_%d").to_string(),
            port: self.instance.port,
            host: Some(self.instance.host.clone()),
            instance_id: Some(self.instance.instance_id),
            taken: None,
            kind: "binlog",
            suffix: self.suffix,
        }
    }
}

/// An archived binlog file, committed (its record is there).
#[derive(Clone, Debug)]
pub struct Archived {
    pub key: String,
    pub name: BinlogKey,
    pub stored: ObjectInfo,
}

/// What the archive holds of one instance: its files by generation (each in file order), and
/// what interrupted runs left.
#[derive(Clone, Debug, Default)]
pub struct BinlogArchive {
    pub generations: BTreeMap<u32, Vec<Archived>>,
    pub leftovers: Vec<LeftoverEntry>,
}

impl BinlogArchive {
    /// The newest generation and its files.
    pub fn latest(&self) -> Option<(u32, &[Archived])> {
        self.generations
            .iter()
            .next_back()
            .map(|(g, f)| (*g, f.as_slice()))
    }

    /// Every file, generation by generation, each in file order.
    pub fn files(&self) -> impl Iterator<Item = &Archived> {
        self.generations.values().flatten()
    }
}

/// Lists the archive of `instance`: one listing of its prefix (and the store's pending
/// uploads under it); nothing is read.
pub async fn list(store: &dyn Store, instance: &Instance) -> Result<BinlogArchive> {
    let prefix = prefix(instance);
    let (objects, left) = store.scan(&prefix).await?;
    let mut files: BTreeMap<String, (ObjectInfo, BinlogKey)> = BTreeMap::new();
    let mut records = std::collections::BTreeSet::new();
    let mut others: Vec<ObjectInfo> = Vec::new();
    for o in objects {
        if let Some(b) = BinlogKey::parse(&o.key) {
            files.insert(o.key.clone(), (o, b));
        } else if let Some(k) = o.key.strip_suffix(".json")
            && BinlogKey::parse(k).is_some()
        {
            records.insert(k.to_string());
        } else {
            others.push(o);
        }
    }
    let mut archive = BinlogArchive::default();
    let owner_of = |key: &str| -> Option<(String, BinlogKey)> {
        let (base, _) = key.rsplit_once('.')?;
        BinlogKey::parse(key)
            .map(|b| (key.to_string(), b))
            .or_else(|| BinlogKey::parse(base).map(|b| (base.to_string(), b)))
    };
    let leftover = |owner: &str, b: &BinlogKey, key: String, modified, kind, l| LeftoverEntry {
        owner: owner.to_string(),
        parts: b.parts(),
        kind,
        key,
        modified,
        store_leftover: l,
    };
    for (key, (info, name)) in files {
        if records.contains(&key) {
            archive
                .generations
                .entry(name.generation)
                .or_default()
                .push(Archived {
                    key,
                    name,
                    stored: info,
                });
        } else {
            let m = Some(info.modified);
            archive.leftovers.push(leftover(
                &key,
                &name,
                info.key,
                m,
                "uncommitted object (no record)",
                None,
            ));
        }
    }
    for o in others {
        // Segments of files without their record.
        if let Some((owner, b)) = owner_of(&o.key)
            && !records.contains(&owner)
        {
            archive.leftovers.push(leftover(
                &owner,
                &b,
                o.key,
                Some(o.modified),
                "uncommitted object (no record)",
                None,
            ));
        }
    }
    for l in left.into_iter().chain(store.pending(&prefix).await?) {
        if let Some((owner, b)) = owner_of(&l.key) {
            archive.leftovers.push(leftover(
                &owner,
                &b,
                l.key.clone(),
                l.modified,
                l.kind,
                Some(l),
            ));
        }
    }
    super::leftovers::age_by_owner(&mut archive.leftovers);
    for files in archive.generations.values_mut() {
        files.sort_by_key(|a| order_key(&a.name.file));
    }
    Ok(archive)
}

/// The instances that have a binlog archive on `port` (every port: None): one listing of
/// folders per port.
pub async fn instances(store: &dyn Store, port: Option<u16>) -> Result<Vec<Instance>> {
    let ports: Vec<u16> = match port {
        Some(p) => vec![p],
        None => store
            .list_dirs("binlog/")
            .await?
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect(),
    };
    let mut out = Vec::new();
    for p in ports {
        for d in store.list_dirs(&format!("binlog/{p}/")).await? {
            if let Some((host, id)) = d.rsplit_once('-')
                && let Ok(instance_id) = id.parse()
            {
                out.push(Instance {
                    host: host.to_string(),
                    instance_id,
                    port: p,
                });
            }
        }
    }
    Ok(out)
}

/// The breaks in the archive (from the listing alone): in each generation, a file that does
/// not continue the one before it (a file lost, or purged before it was archived).
pub fn gaps(archive: &BinlogArchive) -> Vec<String> {
    let mut out = Vec::new();
    for (g, files) in &archive.generations {
        for w in files.windows(2) {
            if w[1].name.start != w[0].name.end {
                out.push(format!(
                    "generation {g}: {} does not continue {} (a file lost, or purged before it \
                     was archived)",
                    w[1].name.file, w[0].name.file
                ));
            }
        }
    }
    out
}

/// The binlog states at the start and end of an archived file, from its record.
pub async fn states(store: &dyn Store, a: &Archived) -> Result<(GtidState, GtidState)> {
    match record(store, a).await?.kind {
        Kind::Binlog {
            start_state: Some(s),
            end_state: Some(e),
            ..
        } => Ok((GtidState::parse(&s)?, GtidState::parse(&e)?)),
        _ => Err(crate::error::Error::format(
            "record",
            format!("{} records no binlog states", a.key),
        )),
    }
}

/// The generation and index of the archived file that holds a data point (the file
/// `data_file`, whose states enclose the position `from`): newest generation first.
pub async fn home(
    store: &dyn Store,
    archive: &BinlogArchive,
    data_file: &str,
    from: &Position,
) -> Result<Option<(u32, usize)>> {
    for (generation, files) in archive.generations.iter().rev() {
        if let Some(i) = files.iter().position(|a| a.name.file == data_file) {
            let (start, end) = states(store, &files[i]).await?;
            if end.position().covers_all(from) && from.covers_all(&start.position()) {
                return Ok(Some((*generation, i)));
            }
        }
    }
    Ok(None)
}

/// The record of an archived file, read and checked against its key.
pub async fn record(store: &dyn Store, a: &Archived) -> Result<super::record::Record> {
    let bytes = store.read(&record_key(&a.key)).await?.ok_or_else(|| {
        crate::error::Error::format("record", format!("{} is gone", record_key(&a.key)))
    })?;
    let r = super::record::Record::parse(&bytes)?;
    r.check(&a.key, &a.name.parts())?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlog_keys_name_what_the_listing_needs_and_parse_back() {
        let b = BinlogKey {
            instance: Instance {
                host: "db-1.example".into(),
                instance_id: 2,
                port: 3306,
            },
            generation: 3,
            file: "binlog.000042".into(),
            size: 1_048_576,
            first: "2026-12-04T10:15:00Z".parse().unwrap(),
            last: "2026-12-04T10:16:12Z".parse().unwrap(),
            start: "3f2a1b0c".into(),
            end: "77e0d1aa".into(),
            suffix: ".zst.age",
        };
        let k = b.key();
        assert_eq!(
            k,
            "binlog/3306/db-1.example-2/g0003/binlog.000042.1048576.20261204T101500Z-20261204T101612Z.3f2a1b0c-77e0d1aa.zst.age"
        );
        assert_eq!(BinlogKey::parse(&k), Some(b.clone()));
        assert!(k.starts_with(&prefix(&b.instance)));
        for bad in [
            format!("{k}.json"),
            k.replace("g0003", "x0003"),
            k.replace(".3f2a1b0c-", ".3f2a1b0-"),
            k.replace(".zst.age", ".tar.zst.age"),
            "binlog/3306/db-2/g0001/x".to_string(),
        ] {
            assert_eq!(BinlogKey::parse(&bad), None, "{bad}");
        }
        assert_eq!(b.parts().day, "2026_12_04");
    }
}

//! One stored backup as the catalog shows it ([`Entry`]): read from its record (checked
//! against its key and against the objects the listing holds), or for a backup of an earlier
//! scheme from its metadata ([`super::legacy`]).

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::names::{KeyParts, Scheme, record_key};
use super::record::{Kind, Record};
use crate::error::{Error, Result};
use crate::store::{ObjectInfo, Store, StoredObject};

/// A stored backup as the catalog shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    pub key: String,
    pub location: String,
    pub scheme: Scheme,
    /// `full`, or what a newer version stored (`incremental`, `unknown`): only full backups
    /// are restored and counted by retention here.
    pub kind: String,
    /// The day it is filed under (`YYYY_MM_DD`).
    pub date: String,
    /// None for a backup of the original tool (it names the port only).
    pub host: Option<String>,
    pub instance_id: Option<u32>,
    pub port: u16,
    /// When it was taken (RFC 3339, UTC): its record's time; for an earlier scheme, when it
    /// was stored (see [`super::legacy::taken`]).
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
    /// Why what it records cannot be read or does not hold (a record that is not JSON, an
    /// object it lists that is gone): the backup is listed, but nothing may act on it.
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
    /// Whether it is a backup that may be restored: complete, readable, full.
    pub fn complete(&self) -> bool {
        self.sha1.is_some() && self.damaged.is_none() && self.kind == "full"
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

    /// The entry of a [`Scheme::Timed`] backup at `info` from its record (`read`), checked
    /// against its key and against `listed`, the objects the store holds under its key (its
    /// own object and its segments, by key).
    pub(super) fn of_record(
        info: &ObjectInfo,
        parts: KeyParts,
        read: Result<Option<Bytes>>,
        listed: &BTreeMap<String, u64>,
        store: &dyn Store,
    ) -> Self {
        let checked = read.and_then(|b| {
            let b = b.ok_or_else(|| {
                Error::format("record", format!("{} is gone", record_key(&info.key)))
            })?;
            let r = Record::parse(&b)?;
            r.check(&info.key, &parts)?;
            for o in &r.objects {
                match listed.get(&o.key) {
                    Some(&size) if size == o.size => {}
                    Some(&size) => {
                        return Err(Error::format(
                            "record",
                            format!("{} has {size} bytes, its record says {}", o.key, o.size),
                        ));
                    }
                    None => {
                        return Err(Error::format(
                            "record",
                            format!("{}, which its record lists, is gone", o.key),
                        ));
                    }
                }
            }
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
        let data = r.and_then(|r| r.data.as_ref());
        Entry {
            key: info.key.clone(),
            location: store.location(&info.key),
            scheme: Scheme::Timed,
            kind: match r.map(|r| &r.kind) {
                Some(Kind::Full) => "full".into(),
                None if parts.kind == "full" => "full".into(),
                Some(Kind::Incremental { .. }) | None => "incremental".into(),
                Some(Kind::Binlog { .. }) => "binlog".into(),
                Some(Kind::Unknown) => "unknown".into(),
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
            binlog_pos: data.map(|d| format!("{}:{}", d.file, d.position)),
            gtid: data.map(|d| d.gtid.clone()),
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

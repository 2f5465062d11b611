//! The record of one stored thing: what it is, whose, when it was taken, how its bytes are
//! stored and what they hash to. Serialized here only (JSON, `{key}.json`), versioned; fields
//! a newer version adds are ignored when read. Written last, it is the commit mark: a backup
//! without its record is no backup (its objects are leftovers of an interrupted run).
//!
//! Nothing a record says is trusted beyond what [`Record::check`] proves against the key it
//! was read for: its objects must be that key's own segments, its instance the key's.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::names::{Instance, KeyParts, segment_key};
use crate::error::{Error, Result};
use crate::store::{StoredObject, parse_sha1, parse_sha256};

/// The version written now.
pub const VERSION: u32 = 1;

/// What a stored thing is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// A full physical backup: data, my.cnf, binlog.
    Full,
    /// One binlog file of the continuous archive.
    Binlog {
        file: String,
        /// Tells apart files of the same name (after `RESET MASTER`, a restore, a rebuild).
        generation: u64,
        /// GTID position of its first and last event group (every domain).
        first_gtid: Option<String>,
        last_gtid: Option<String>,
        first_event_time: Option<DateTime<Utc>>,
        last_event_time: Option<DateTime<Utc>>,
        server_id: Option<u32>,
        /// The binlog state (every domain and server) at its start and at its end.
        #[serde(default)]
        start_state: Option<String>,
        #[serde(default)]
        end_state: Option<String>,
        /// Bytes of the binlog file (before compression and encryption).
        #[serde(default)]
        file_size: Option<u64>,
        /// Whether each of its events carried a CRC-32 (checked when archived).
        #[serde(default)]
        checksums: Option<bool>,
    },
    /// Changes since a parent backup.
    Incremental {
        parent: String,
        from_lsn: u64,
        to_lsn: u64,
    },
    /// A kind a newer version wrote.
    #[serde(other)]
    Unknown,
}

/// Where the data of a backup stands in the binlog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataPosition {
    pub file: String,
    pub position: u64,
    /// GTID position (MariaDB `domain-server-seq` list, or a MySQL GTID set); may be empty.
    pub gtid: String,
}

/// The server a backup was taken of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// `mariadb` or `mysql`.
    pub flavor: String,
    pub version: String,
}

/// The record of one stored thing (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub instance: Instance,
    /// The day it is filed under (`YYYY_MM_DD`, the seed's `--date-str`); not when it was
    /// taken.
    pub day: String,
    /// When it was taken (UTC): what retention, "newest" and point-in-time recovery count by.
    pub taken_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub kind: Kind,
    /// The codec chain, e.g. `gzip+des3`.
    pub chain: String,
    /// The objects its stored bytes are, in order (concatenated, they are the stream).
    pub objects: Vec<StoredObject>,
    /// Stored bytes, all objects.
    pub size: u64,
    /// SHA-1 and SHA-256 of the stored bytes (all objects, in order).
    pub sha1: String,
    pub sha256: String,
    /// Bytes of the tar stream before compression and encryption.
    #[serde(default)]
    pub tar_bytes: Option<u64>,
    /// Where the data stands in the binlog (None when the binlog is off).
    #[serde(default)]
    pub data: Option<DataPosition>,
    /// The binlog files the archive holds, oldest first.
    #[serde(default)]
    pub binlog_files: Vec<String>,
    #[serde(default)]
    pub server: Option<Server>,
    /// The backup tool, e.g. `mariabackup 10.11.6`.
    #[serde(default)]
    pub backup_tool: Option<String>,
    /// mysqlbackup's version that wrote it.
    pub tool_version: String,
}

impl Record {
    /// Serializes the record.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec_pretty(self).expect("a record always serializes"))
    }

    /// Reads a record (any version from 1; fields a newer one adds are ignored).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let r: Record =
            serde_json::from_slice(bytes).map_err(|e| Error::format("record", e.to_string()))?;
        if r.version == 0 {
            return Err(Error::format("record", "version 0 is not a record version"));
        }
        Ok(r)
    }

    /// Checks what the record says against the key it was read for (`parts` parsed from
    /// `key`): its instance and day are the key's, its objects are the key's own segments in
    /// order with sizes summing to its size, and its digests are digests.
    pub fn check(&self, key: &str, parts: &KeyParts) -> Result<()> {
        let bad = |why: String| Err(Error::format("record", format!("{key}: {why}")));
        if parts.instance().as_ref() != Some(&self.instance) {
            return bad(format!("it names {}, the key another", self.instance));
        }
        if parts.day != self.day {
            return bad(format!("it names day {}, the key {}", self.day, parts.day));
        }
        let kind_fits = matches!(
            (&self.kind, parts.kind),
            (Kind::Full, "full")
                | (Kind::Incremental { .. }, "incr")
                | (Kind::Binlog { .. }, "binlog")
                | (Kind::Unknown, _)
        );
        if !kind_fits {
            return bad(format!(
                "it is of another kind than the key's {}",
                parts.kind
            ));
        }
        let second = self.taken_at.timestamp();
        if parts.taken.is_some_and(|t| t.timestamp() != second) {
            return bad(format!(
                "it was taken at {}, the key names another second",
                self.taken_at
            ));
        }
        if self.objects.is_empty() {
            return bad("it lists no object".into());
        }
        for (i, o) in self.objects.iter().enumerate() {
            let want = segment_key(key, i as u32 + 1);
            if o.key != want {
                return bad(format!("object {} is {:?}, not {want:?}", i + 1, o.key));
            }
        }
        let sum = self
            .objects
            .iter()
            .try_fold(0u64, |acc, o| acc.checked_add(o.size));
        if sum != Some(self.size) {
            return bad(format!(
                "its objects do not add up to its size {}",
                self.size
            ));
        }
        if parse_sha1(&self.sha1).as_deref() != Some(self.sha1.as_str())
            || parse_sha256(&self.sha256).as_deref() != Some(self.sha256.as_str())
        {
            return bad("its digests are not lower-case SHA-1 and SHA-256".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::names::{full_key, parse_key};

    fn record(key: &str) -> Record {
        let t: DateTime<Utc> = "2026-12-04T11:51:01.734Z".parse().unwrap();
        Record {
            version: VERSION,
            instance: Instance {
                host: "db1".into(),
                instance_id: 1,
                port: 3306,
            },
            day: "2026_12_04".into(),
            taken_at: t,
            finished_at: t,
            kind: Kind::Full,
            chain: "gzip+des3".into(),
            objects: vec![
                StoredObject {
                    key: key.into(),
                    size: 10,
                },
                StoredObject {
                    key: format!("{key}.0002"),
                    size: 5,
                },
            ],
            size: 15,
            sha1: "a".repeat(40),
            sha256: "b".repeat(64),
            tar_bytes: Some(100),
            data: Some(DataPosition {
                file: "binlog.000001".into(),
                position: 4,
                gtid: "0-1-2".into(),
            }),
            binlog_files: vec!["binlog.000001".into()],
            server: Some(Server {
                flavor: "mariadb".into(),
                version: "10.11.6".into(),
            }),
            backup_tool: Some("mariabackup".into()),
            tool_version: "0.1.0".into(),
        }
    }

    fn key() -> String {
        let inst = Instance {
            host: "db1".into(),
            instance_id: 1,
            port: 3306,
        };
        full_key(
            "2026_12_04",
            &inst,
            "2026-12-04T11:51:01Z".parse().unwrap(),
            ".tgz.des3",
        )
    }

    #[test]
    fn records_round_trip_and_tolerate_newer_fields_and_kinds() {
        let k = key();
        let r = record(&k);
        let back = Record::parse(&r.to_bytes()).unwrap();
        assert_eq!(back, r);
        back.check(&k, &parse_key(&k).unwrap()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&r.to_bytes()).unwrap();
        v["version"] = 7.into();
        v["compressed_with"] = "something new".into();
        v["kind"] = serde_json::json!({"type": "snapshot", "volume": "x"});
        let newer = Record::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(newer.kind, Kind::Unknown);
        assert_eq!(newer.version, 7);
        let binlog = Kind::Binlog {
            file: "binlog.000009".into(),
            generation: 2,
            first_gtid: Some("0-1-5".into()),
            last_gtid: Some("0-1-9".into()),
            first_event_time: None,
            last_event_time: None,
            server_id: Some(1),
            start_state: Some("0-1-4".into()),
            end_state: Some("0-1-9".into()),
            file_size: Some(1000),
            checksums: Some(true),
        };
        let text = serde_json::to_string(&binlog).unwrap();
        assert!(text.starts_with(r#"{"type":"binlog""#), "{text}");
        assert_eq!(serde_json::from_str::<Kind>(&text).unwrap(), binlog);
        assert!(Record::parse(b"{}").is_err());
        assert!(Record::parse(b"not json").is_err());
    }

    #[test]
    fn a_record_is_checked_against_its_key() {
        let k = key();
        let parts = parse_key(&k).unwrap();
        let mut r = record(&k);
        r.objects[1].key = "2026_12_04/3306/elsewhere".into();
        assert!(r.check(&k, &parts).is_err(), "a foreign object");
        let mut r = record(&k);
        r.instance.instance_id = 2;
        assert!(r.check(&k, &parts).is_err(), "another instance");
        let mut r = record(&k);
        r.size = 14;
        assert!(r.check(&k, &parts).is_err(), "sizes");
        let mut r = record(&k);
        r.objects.clear();
        r.size = 0;
        assert!(r.check(&k, &parts).is_err(), "no object");
        let mut r = record(&k);
        r.sha1 = "A".repeat(40);
        assert!(r.check(&k, &parts).is_err(), "digest case");
        let mut r = record(&k);
        r.objects[0].size = u64::MAX;
        assert!(r.check(&k, &parts).is_err(), "overflow");
        let mut r = record(&k);
        r.taken_at = "2027-01-01T00:00:00Z".parse().unwrap();
        assert!(r.check(&k, &parts).is_err(), "a time not the key's");
        let mut r = record(&k);
        r.kind = Kind::Incremental {
            parent: "x".into(),
            from_lsn: 1,
            to_lsn: 2,
        };
        assert!(r.check(&k, &parts).is_err(), "a kind not the key's");
    }
}

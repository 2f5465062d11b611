//! How the catalog names what it stores, and reads names back.
//!
//! A backup's key, in three generations (all found, listed, verified, expired and restored):
//! - [`Scheme::Timed`] (written now): `{day}/{port}/mysql-{port}-{host}-{id}.{stamp}.{kind}{suffix}`,
//!   e.g. `2026_12_04/3306/mysql-3306-db1-1.20261204T115101Z.full.tgz.des3`. `day` is the day
//!   it is filed under (today, or `--date-str`), `stamp` the UTC second it was taken, `kind`
//!   `full` (room for `incr`), `suffix` the codec chain. Any number a day; never replaced.
//!   Its bytes are the object at the key, continued when longer than one object may be by
//!   segments `{key}.0002`, `{key}.0003`, ...; its record ([`super::record`]) is `{key}.json`,
//!   written last: the commit mark.
//! - [`Scheme::Daily`] (mysqlbackup before records): `{day}/{port}/mysql-{port}-{host}-{id}{suffix}`,
//!   its digests in S3 metadata (`x-amz-meta-sha1`, ...) or local sidecars `{key}.sha1`
//!   (the commit mark), `{key}.sha256`, `{key}.meta`.
//! - [`Scheme::Original`] (the original mysqlbackup.py): `{day}/{port}/mysql-{port}{suffix}`,
//!   its SHA-1 in `x-amz-meta-sha1` (or a `.sha1` sidecar). It names no host or instance: it
//!   belongs to the port.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codec::chain::SUFFIXES;
use crate::error::{Error, Result};

/// Whose backup it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Instance {
    pub host: String,
    pub instance_id: u32,
    pub port: u16,
}

impl std::fmt::Display for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "host {} instance {} port {}",
            self.host, self.instance_id, self.port
        )
    }
}

/// Which naming scheme a backup's key follows (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Timed,
    Daily,
    Original,
}

/// The kinds a [`Scheme::Timed`] key names.
pub const KINDS: &[&str] = &["full", "incr"];

/// The sidecars of a [`Scheme::Daily`] or [`Scheme::Original`] backup in the local store, the
/// commit mark (`.sha1`) first.
pub const LEGACY_SIDECARS: &[&str] = &[".sha1", ".sha256", ".meta"];

/// What a backup's key names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts {
    pub scheme: Scheme,
    /// The day it is filed under, `YYYY_MM_DD`.
    pub day: String,
    pub port: u16,
    /// None for [`Scheme::Original`].
    pub host: Option<String>,
    /// None for [`Scheme::Original`].
    pub instance_id: Option<u32>,
    /// When it was taken, to the second ([`Scheme::Timed`] only).
    pub taken: Option<DateTime<Utc>>,
    /// `full` or `incr` (earlier schemes: `full`).
    pub kind: &'static str,
    /// The chain's suffix, e.g. `.tgz.des3`.
    pub suffix: &'static str,
}

impl KeyParts {
    /// The instance it names (None for [`Scheme::Original`]).
    pub fn instance(&self) -> Option<Instance> {
        Some(Instance {
            host: self.host.clone()?,
            instance_id: self.instance_id?,
            port: self.port,
        })
    }
}

/// What role an object plays in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A backup's (first) object.
    Backup(KeyParts),
    /// Segment `n` (from 2) of the backup `backup` ([`Scheme::Timed`]).
    Segment { backup: String, n: u32 },
    /// The record of the backup `backup` ([`Scheme::Timed`]).
    Record { backup: String },
    /// A local sidecar (`.sha1`, `.sha256`, `.meta`) of an earlier scheme's backup.
    Sidecar { backup: String, ext: &'static str },
}

const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// `20261204T115101Z`: `t` in UTC, to the second.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format(STAMP).to_string()
}

/// The time a [`stamp`] names; None for any other text (the round trip must give it back).
pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(s, STAMP).ok()?.and_utc();
    (stamp(t) == s).then_some(t)
}

/// The key of a full backup of `instance` taken at `taken`, filed under `day`.
pub fn full_key(day: &str, instance: &Instance, taken: DateTime<Utc>, suffix: &str) -> String {
    format!(
        "{day}/{port}/mysql-{port}-{host}-{id}.{stamp}.full{suffix}",
        port = instance.port,
        host = instance.host,
        id = instance.instance_id,
        stamp = stamp(taken),
    )
}

/// The key of a [`Scheme::Daily`] backup (tests and fixtures write them).
pub fn daily_key(day: &str, instance: &Instance, suffix: &str) -> String {
    format!(
        "{day}/{port}/mysql-{port}-{host}-{id}{suffix}",
        port = instance.port,
        host = instance.host,
        id = instance.instance_id,
    )
}

/// The key of segment `n` (1-based) of the backup `key`: the key itself for the first.
pub fn segment_key(key: &str, n: u32) -> String {
    if n <= 1 {
        key.to_string()
    } else {
        format!("{key}.{n:04}")
    }
}

/// The key of the record of the backup `key`.
pub fn record_key(key: &str) -> String {
    format!("{key}.json")
}

/// The prefix under which every backup of `port` filed under `day` lives.
pub fn day_prefix(day: &str, port: u16) -> String {
    format!("{day}/{port}/")
}

/// Checks the `YYYY_MM_DD` form of a day (`--date-str`), zero-padded: days are compared as
/// text (the newest is the greatest), which `2026_1_5` would break.
pub fn validate_day(d: String) -> Result<String> {
    match NaiveDate::parse_from_str(&d, "%Y_%m_%d") {
        Ok(day) if day.format("%Y_%m_%d").to_string() == d => Ok(d),
        Ok(_) => Err(Error::Config(format!(
            "date_str {d:?} is not zero-padded: write the day as YYYY_MM_DD, e.g. 2017_01_01"
        ))),
        Err(_) if NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_ok() => Err(Error::Config(format!(
            "date_str {d:?}: write the day with underscores, YYYY_MM_DD (e.g. 2017_01_01)"
        ))),
        Err(e) => Err(Error::Config(format!(
            "date_str {d:?} is no day ({e}): write it as YYYY_MM_DD, e.g. 2017_01_01"
        ))),
    }
}

/// Parses a backup's key (any scheme). None for any other name (records, segments, sidecars,
/// foreign files, keys under other folders).
pub fn parse_key(key: &str) -> Option<KeyParts> {
    let mut parts = key.split('/');
    let (Some(day), Some(port), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    validate_day(day.to_string()).ok()?;
    let port_n: u16 = port.parse().ok()?;
    if port_n.to_string() != port || port_n == 0 {
        return None;
    }
    let rest = name.strip_prefix(&format!("mysql-{port}"))?;
    let suffix = *SUFFIXES.iter().find(|s| rest.ends_with(*s))?;
    let stem = rest.strip_suffix(suffix)?;
    let base = KeyParts {
        scheme: Scheme::Original,
        day: day.to_string(),
        port: port_n,
        host: None,
        instance_id: None,
        taken: None,
        kind: "full",
        suffix,
    };
    if stem.is_empty() {
        return Some(base);
    }
    let stem = stem.strip_prefix('-')?;
    let (host_id, taken, kind, scheme) = match stem.rsplit_once('.') {
        Some((rest, kind)) if KINDS.contains(&kind) => {
            let (host_id, stamp) = rest.rsplit_once('.')?;
            let kind = *KINDS.iter().find(|k| **k == kind)?;
            (host_id, Some(parse_stamp(stamp)?), kind, Scheme::Timed)
        }
        _ => (stem, None, "full", Scheme::Daily),
    };
    let (host, id) = host_id.rsplit_once('-')?;
    let instance_id: u32 = id.parse().ok()?;
    if host.is_empty() || instance_id.to_string() != id {
        return None;
    }
    Some(KeyParts {
        scheme,
        host: Some(host.to_string()),
        instance_id: Some(instance_id),
        taken,
        kind,
        ..base
    })
}

/// What role the object `key` plays (see [`Role`]); None for anything else.
pub fn classify(key: &str) -> Option<Role> {
    if let Some(parts) = parse_key(key) {
        return Some(Role::Backup(parts));
    }
    if let Some(backup) = key.strip_suffix(".json")
        && parse_key(backup).is_some_and(|p| p.scheme == Scheme::Timed)
    {
        return Some(Role::Record {
            backup: backup.to_string(),
        });
    }
    if let Some((backup, n)) = key.rsplit_once('.')
        && n.len() == 4
        && n.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = n.parse::<u32>()
        && n >= 2
        && parse_key(backup).is_some_and(|p| p.scheme == Scheme::Timed)
    {
        return Some(Role::Segment {
            backup: backup.to_string(),
            n,
        });
    }
    LEGACY_SIDECARS.iter().find_map(|ext| {
        let backup = key.strip_suffix(ext)?;
        parse_key(backup)
            .is_some_and(|p| p.scheme != Scheme::Timed)
            .then(|| Role::Sidecar {
                backup: backup.to_string(),
                ext,
            })
    })
}

/// The backup an object belongs to (itself for a backup's key), if it is the catalog's.
pub fn owner(key: &str) -> Option<String> {
    match classify(key)? {
        Role::Backup(_) => Some(key.to_string()),
        Role::Segment { backup, .. } | Role::Record { backup } | Role::Sidecar { backup, .. } => {
            Some(backup)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = ".tgz.des3";

    fn inst(host: &str, id: u32) -> Instance {
        Instance {
            host: host.into(),
            instance_id: id,
            port: 3309,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn timed_keys_name_day_instance_time_and_kind_and_parse_back() {
        let t = at("2026-12-04T11:51:01.734Z");
        let key = full_key("2026_12_04", &inst("db-7.example", 2), t, SEED);
        assert_eq!(
            key,
            "2026_12_04/3309/mysql-3309-db-7.example-2.20261204T115101Z.full.tgz.des3"
        );
        assert!(key.starts_with(&day_prefix("2026_12_04", 3309)));
        let p = parse_key(&key).unwrap();
        assert_eq!(p.scheme, Scheme::Timed);
        assert_eq!(p.instance(), Some(inst("db-7.example", 2)));
        assert_eq!(p.taken, Some(at("2026-12-04T11:51:01Z")));
        assert_eq!(
            (p.day.as_str(), p.kind, p.suffix),
            ("2026_12_04", "full", SEED)
        );
        // Another second, another key: any number a day.
        let later = full_key(
            "2026_12_04",
            &inst("db-7.example", 2),
            at("2026-12-04T11:51:02Z"),
            SEED,
        );
        assert_ne!(key, later);
        assert_eq!(
            classify(&record_key(&key)),
            Some(Role::Record {
                backup: key.clone()
            })
        );
        assert_eq!(
            classify(&segment_key(&key, 3)),
            Some(Role::Segment {
                backup: key.clone(),
                n: 3
            })
        );
        assert_eq!(segment_key(&key, 1), key);
        assert_eq!(owner(&segment_key(&key, 12)), Some(key.clone()));
    }

    #[test]
    fn keys_of_earlier_schemes_parse() {
        let daily = daily_key("2017_01_01", &inst("db-7.example", 2), SEED);
        assert_eq!(daily, "2017_01_01/3309/mysql-3309-db-7.example-2.tgz.des3");
        let p = parse_key(&daily).unwrap();
        assert_eq!(p.scheme, Scheme::Daily);
        assert_eq!(p.instance(), Some(inst("db-7.example", 2)));
        assert_eq!(p.taken, None);
        let orig = parse_key("2017_01_01/3309/mysql-3309.tgz.des3").unwrap();
        assert_eq!(orig.scheme, Scheme::Original);
        assert_eq!((orig.host, orig.instance_id, orig.port), (None, None, 3309));
        assert_eq!(
            classify(&format!("{daily}.sha1")),
            Some(Role::Sidecar {
                backup: daily.clone(),
                ext: ".sha1"
            })
        );
        assert_eq!(
            owner("2017_01_01/3309/mysql-3309.tgz.des3.meta").as_deref(),
            Some("2017_01_01/3309/mysql-3309.tgz.des3")
        );
    }

    #[test]
    fn other_names_are_not_keys() {
        for not_a_key in [
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.sha1",
            "2017_01_01/3309/mysql-3309-h-2.tgz",
            "2017_01_01/3309/mysql-3310-h-2.tgz.des3",
            "2017_01_01/3309/mysql-3309--2.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-02.tgz.des3",
            "2017-01-01/3309/mysql-3309-h-2.tgz.des3",
            "2017_1_01/3309/mysql-3309-h-2.tgz.des3",
            "x/2017_01_01/3309/mysql-3309-h-2.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.0123456789abcdef.uploading",
            "2017_01_01/3309/mysql-3309-h-2.20261304T115101Z.full.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-2.20261204T115101Z.diff.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-2.20261204T115101.full.tgz.des3",
            "2017_01_01/3309/mysql-3309x.tgz.des3",
            "2017_01_01/0/mysql-0.tgz.des3",
            "2017_01_01/3309/mysql-3309.tgz.des3.json",
        ] {
            assert!(parse_key(not_a_key).is_none(), "{not_a_key}");
        }
        let timed = full_key(
            "2026_12_04",
            &inst("h", 1),
            at("2026-12-04T00:00:00Z"),
            SEED,
        );
        for foreign in [
            format!("{timed}.0001"),
            format!("{timed}.2"),
            format!("{timed}.sha1"),
            "verified/x.json".to_string(),
            "2017_01_01/3309/notes.txt".to_string(),
        ] {
            assert_eq!(classify(&foreign), None, "{foreign}");
        }
    }

    #[test]
    fn days_are_zero_padded_dates() {
        assert!(validate_day("2017_01_01".into()).is_ok());
        for bad in ["2017_1_1", "2017_13_01", "2017-01-01", ""] {
            assert!(validate_day(bad.into()).is_err(), "{bad}");
        }
    }
}

//! The catalog over any [`Store`]: how backups are named, which one a restore wants, and what
//! interrupted backups of an instance left.
//!
//! Key: `{date_str}/{port}/mysql-{port}-{host}-{instance_id}{suffix}` (the suffix names the
//! codec chain, e.g. `.tgz.des3`): date, port, host and instance id, so same-day backups of
//! different instances of a port group never collide.

use crate::store::{Metadata, Store};

mod listing;
mod select;
pub mod verdicts;

pub use listing::{Entry, leftover_owner, list_backups, list_leftovers};
pub use select::{Located, Selection, locate};

/// Suffixes of backup keys, one per chain.
pub use crate::codec::chain::SUFFIXES;

/// The key of one instance's backup of one day in the chain whose suffix is `suffix`.
pub fn backup_key(date_str: &str, port: u16, host: &str, instance_id: u32, suffix: &str) -> String {
    format!("{date_str}/{port}/mysql-{port}-{host}-{instance_id}{suffix}")
}

/// What a backup's key names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts {
    pub date_str: String,
    pub port: u16,
    pub host: String,
    pub instance_id: u32,
    /// The chain's suffix, e.g. `.tgz.des3`.
    pub suffix: &'static str,
}

/// Parses a backup's key (see the module doc). None for any other name (sidecars,
/// leftovers, foreign files, keys under other folders).
pub fn parse_key(key: &str) -> Option<KeyParts> {
    let mut parts = key.split('/');
    let (Some(date), Some(port), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    crate::config::validate_date_str(date.to_string()).ok()?;
    let port_n: u16 = port.parse().ok()?;
    if port_n.to_string() != port {
        return None;
    }
    let stem = name.strip_prefix(&format!("mysql-{port}-"))?;
    let suffix = SUFFIXES.iter().find(|s| stem.ends_with(*s))?;
    let (host, id) = stem.strip_suffix(suffix)?.rsplit_once('-')?;
    let instance_id: u32 = id.parse().ok()?;
    if host.is_empty() || instance_id.to_string() != id {
        return None;
    }
    Some(KeyParts {
        date_str: date.to_string(),
        port: port_n,
        host: host.to_string(),
        instance_id,
        suffix,
    })
}

/// The prefix under which all backups of `port` on `date_str` live.
pub fn day_prefix(date_str: &str, port: u16) -> String {
    format!("{date_str}/{port}/")
}

/// Whether `candidate` (a leftover's key) is what an interrupted backup of the instance whose
/// key is `key` left behind, on any day: a staging object or pending upload
/// `{name}.{16 hex digits}.uploading` (S3), or `{name}.partial`, `{name}.sha1.partial`,
/// `{name}.meta.partial` (local store), under `{date}/{port}/`.
pub fn is_leftover_of(candidate: &str, key: &str) -> bool {
    let (Some((c_dir, c_name)), Some((k_dir, k_name))) =
        (candidate.rsplit_once('/'), key.rsplit_once('/'))
    else {
        return false;
    };
    let port = |dir: &str| match dir.split('/').collect::<Vec<_>>()[..] {
        [date, port] if !date.is_empty() => Some(port.to_string()),
        _ => None,
    };
    let c_port = port(c_dir);
    if c_port.is_none() || c_port != port(k_dir) {
        return false;
    }
    if let Some(staged) = crate::store::s3::upload::staging_of(c_name) {
        return staged == k_name;
    }
    c_name.strip_prefix(k_name).is_some_and(|rest| {
        matches!(
            rest,
            ".partial" | ".sha1.partial" | ".sha256.partial" | ".meta.partial"
        )
    })
}

/// Removes what interrupted (e.g. killed) backups of the instance whose key is `key` left in
/// `store`, on any day. Call only under the instance lock: then no backup of this instance is
/// under way, and keys name host, port and instance, so nothing removed can belong to a
/// running backup. Returns what was removed; a failure to list or remove is logged, not fatal
/// (the backup itself does not depend on it).
pub async fn remove_leftovers(store: &dyn Store, key: &str) -> Vec<String> {
    let mut removed = Vec::new();
    match store.leftovers().await {
        Ok(all) => {
            for l in all.iter().filter(|l| is_leftover_of(&l.key, key)) {
                match store.remove_leftover(l).await {
                    Ok(()) => removed.push(format!("{} ({})", store.location(&l.key), l.kind)),
                    Err(e) => tracing::warn!("could not remove leftover {}: {e}", l.key),
                }
            }
        }
        Err(e) => tracing::warn!("could not list leftovers of interrupted backups: {e}"),
    }
    removed
}

/// What a backup's metadata records of its manifest, so that `list` shows it without opening
/// the archive: `host`, `instance`, `port`, `date`, `binlog-pos` (`file:position` of the
/// data), `gtid`, `binlog-first`, `binlog-last`, `binlog-count`, `format-version`.
pub fn record(m: &crate::archive::manifest::Manifest) -> Metadata {
    let mut r = Metadata::from([
        ("host".to_string(), m.host.clone()),
        ("instance".to_string(), m.instance_id.to_string()),
        ("port".to_string(), m.port.to_string()),
        ("date".to_string(), m.date_str.clone()),
        ("binlog-count".to_string(), m.binlog_files.len().to_string()),
        ("format-version".to_string(), m.format.to_string()),
    ]);
    if let Some(c) = &m.data_binlog {
        r.insert("binlog-pos".into(), format!("{}:{}", c.file, c.position));
        r.insert("gtid".into(), c.gtid.clone());
    }
    if let (Some(first), Some(last)) = (m.binlog_files.first(), m.binlog_files.last()) {
        r.insert("binlog-first".into(), first.clone());
        r.insert("binlog-last".into(), last.clone());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::s3::upload::staging_key;

    const SEED: &str = ".tgz.des3";

    #[test]
    fn leftovers_are_this_instances_only() {
        let key = backup_key("2017_01_02", 3309, "h", 2, SEED);
        assert!(is_leftover_of(&staging_key(&key, 7), &key));
        for ours in [
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.0123456789abcdef.uploading",
            "2016_12_31/3309/mysql-3309-h-2.tgz.des3.fedcba9876543210.uploading",
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.partial",
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.sha1.partial",
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.sha256.partial",
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.meta.partial",
        ] {
            assert!(is_leftover_of(ours, &key), "{ours}");
        }
        for theirs in [
            key.as_str(),
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.sha1",
            "2017_01_02/3309/mysql-3309-h-22.tgz.des3.partial",
            "2017_01_02/3309/mysql-3309-h-22.tgz.des3.0123456789abcdef.uploading",
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.0123.uploading",
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.0123456789abcdeg.uploading",
            "2017_01_02/3310/mysql-3309-h-2.tgz.des3.partial",
            "x/2017_01_02/3309/mysql-3309-h-2.tgz.des3.partial",
            "3309/mysql-3309-h-2.tgz.des3.partial",
        ] {
            assert!(!is_leftover_of(theirs, &key), "{theirs}");
        }
    }

    #[test]
    fn keys_hold_date_port_host_instance_and_parse_back() {
        let key = backup_key("2017_01_01", 3309, "db-7.example", 2, SEED);
        assert_eq!(key, "2017_01_01/3309/mysql-3309-db-7.example-2.tgz.des3");
        assert!(key.starts_with(&day_prefix("2017_01_01", 3309)));
        assert_eq!(
            parse_key(&key).unwrap(),
            KeyParts {
                date_str: "2017_01_01".into(),
                port: 3309,
                host: "db-7.example".into(),
                instance_id: 2,
                suffix: SEED,
            }
        );
        assert_ne!(
            backup_key("d", 1, "h", 1, SEED),
            backup_key("d", 1, "h", 2, SEED)
        );
        for not_a_key in [
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.sha1",
            "2017_01_01/3309/mysql-3309-h-2.tgz",
            "2017_01_01/3309/mysql-3310-h-2.tgz.des3",
            "2017_01_01/3309/mysql-3309--2.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-02.tgz.des3",
            "2017-01-01/3309/mysql-3309-h-2.tgz.des3",
            "x/2017_01_01/3309/mysql-3309-h-2.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.0123456789abcdef.uploading",
        ] {
            assert!(parse_key(not_a_key).is_none(), "{not_a_key}");
        }
    }
}

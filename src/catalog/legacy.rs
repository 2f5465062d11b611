//! Backups written before records ([`Scheme::Daily`] by earlier mysqlbackup versions,
//! [`Scheme::Original`] by mysqlbackup.py): what they record is in S3 user metadata
//! (`x-amz-meta-sha1`, `sha256`, `chain`, `host`, ..., one HEAD each) or, in the local store,
//! in sidecars: `{key}.sha1` (`sha1sum` format, the commit mark), `{key}.sha256` and
//! `{key}.meta` (JSON of the same names). Read here into an [`Entry`], removed here with
//! their sidecars.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::entry::Entry;
use super::names::{KeyParts, LEGACY_SIDECARS, Scheme};
use crate::codec::chain::Chain;
use crate::error::{Error, Result};
use crate::store::{Metadata, ObjectInfo, Store, StoredObject, parse_sha1, parse_sha256};

/// What an earlier-scheme backup records: its sidecars when it has any (local store), else
/// the user metadata a HEAD returns (S3). A `.meta` that is not JSON is an error.
async fn recorded(store: &dyn Store, key: &str, sidecars: &[&str]) -> Result<Metadata> {
    if sidecars.is_empty() {
        return Ok(store
            .head(key)
            .await?
            .map(|i| i.metadata)
            .unwrap_or_default());
    }
    let text = |ext: &'static str| async move {
        if !sidecars.contains(&ext) {
            return Ok::<_, Error>(None);
        }
        let k = format!("{key}{ext}");
        Ok(store
            .read(&k)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let mut m: Metadata = match text(".meta").await? {
        Some(t) => serde_json::from_str(&t).map_err(|e| {
            Error::format(
                "metadata",
                format!(
                    "{} is not a metadata sidecar: {e}",
                    store.location(&format!("{key}.meta"))
                ),
            )
        })?,
        None => Metadata::new(),
    };
    // The sha1sum/sha256sum sidecars are what the digests are checked against.
    m.remove("sha1");
    m.remove("sha256");
    if let Some(h) = text(".sha1").await?.and_then(|t| parse_sha1(&t)) {
        m.insert("sha1".into(), h);
    }
    if let Some(h) = text(".sha256").await?.and_then(|t| parse_sha256(&t)) {
        m.insert("sha256".into(), h);
    }
    Ok(m)
}

/// The entry of an earlier-scheme backup (`parts` None: a key outside every scheme, named
/// with `--backup-key`), with the sidecars the listing found beside it. One whose metadata
/// cannot be read is listed damaged.
pub async fn entry(
    store: &dyn Store,
    info: ObjectInfo,
    parts: Option<KeyParts>,
    sidecars: &[&str],
) -> Entry {
    let (m, damaged) = match recorded(store, &info.key, sidecars).await {
        Ok(m) => (m, None),
        Err(e) => (
            Metadata::new(),
            Some(crate::error::report_lines(&e).join(": ")),
        ),
    };
    let get = |n: &str| m.get(n).cloned();
    let taken = taken(parts.as_ref(), info.modified);
    let chain = get("chain").unwrap_or_else(|| {
        parts
            .as_ref()
            .and_then(|p| Chain::of_suffix(p.suffix))
            .map_or_else(|| "unknown".into(), |c| c.name())
    });
    Entry {
        location: store.location(&info.key),
        scheme: parts.as_ref().map_or(Scheme::Daily, |p| p.scheme),
        kind: "full".into(),
        date: parts.as_ref().map(|p| p.day.clone()).unwrap_or_default(),
        host: parts.as_ref().and_then(|p| p.host.clone()),
        instance_id: parts.as_ref().and_then(|p| p.instance_id),
        port: parts.as_ref().map_or(0, |p| p.port),
        taken_at: taken.to_rfc3339(),
        size: info.size,
        segments: 1,
        chain,
        sha1: get("sha1").and_then(|h| parse_sha1(&h)),
        sha256: get("sha256").and_then(|h| parse_sha256(&h)),
        binlog_pos: get("binlog-pos"),
        gtid: get("gtid"),
        binlog_first: get("binlog-first"),
        binlog_last: get("binlog-last"),
        binlog_count: get("binlog-count").and_then(|c| c.parse().ok()),
        damaged,
        taken,
        objects: vec![StoredObject {
            key: info.key.clone(),
            size: info.size,
        }],
        parts,
        record: None,
        key: info.key,
    }
}

/// When an earlier-scheme backup was taken, as well as can be told: it records no time, and its
/// file's or object's time is when it was stored, or when the store was last copied (`cp -r`,
/// `aws s3 sync`). So its stored time counts while it lies on the day the key names (in any
/// zone: up to 38 hours after that day's 00:00 UTC), and that day's end when it is later: a
/// store copied today keeps its backups in the order of their days.
pub fn taken(parts: Option<&KeyParts>, stored: SystemTime) -> DateTime<Utc> {
    let stored: DateTime<Utc> = stored.into();
    let day_end = parts
        .and_then(|p| chrono::NaiveDate::parse_from_str(&p.day, "%Y_%m_%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc() + chrono::Duration::hours(38));
    match day_end {
        Some(end) if stored > end => end,
        _ => stored,
    }
}

/// Removes an earlier-scheme backup: its commit mark (`.sha1`) first, so that an interrupted
/// removal leaves an incomplete backup, never a checksum beside bytes it does not describe.
pub async fn delete(store: &dyn Store, key: &str) -> Result<()> {
    store
        .delete(&format!("{key}{}", LEGACY_SIDECARS[0]))
        .await?;
    store.delete(key).await?;
    for ext in &LEGACY_SIDECARS[1..] {
        store.delete(&format!("{key}{ext}")).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::names::parse_key;

    #[test]
    fn an_earlier_backup_copied_later_keeps_the_order_of_its_day() {
        let at = |s: &str| SystemTime::from(s.parse::<DateTime<Utc>>().unwrap());
        let p1 = parse_key("2025_06_01/3399/mysql-3399-h-1.tgz.des3").unwrap();
        let p2 = parse_key("2025_06_02/3399/mysql-3399-h-1.tgz.des3").unwrap();
        // Stored on its day: that time.
        let on_day = at("2025-06-01T23:10:00Z");
        assert_eq!(SystemTime::from(taken(Some(&p1), on_day)), on_day);
        // Copied in a later order: each counts as its day's end, so the days keep their order.
        let t1 = taken(Some(&p1), at("2026-12-04T10:00:01Z"));
        let t2 = taken(Some(&p2), at("2026-12-04T10:00:00Z"));
        assert!(t1 < t2);
        assert_eq!(t1, "2025-06-02T14:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(SystemTime::from(taken(None, on_day)), on_day);
    }
}

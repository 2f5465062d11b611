//! Which backup a restore (or verify) wants, found in the store: an exact key, or the newest
//! (by when it was taken) of the port by this host and instance, on a day or any day.

use super::entry::Entry;
use super::listing::{entry, newest};
use super::names::{Instance, KeyParts, Scheme, record_key};
use crate::error::{Error, Result};
use crate::store::Store;

/// Which backup a restore wants: an exact key, or the newest backup of the port by this host
/// and instance id (another host's or instance's only when named). A backup of the original
/// tool names no host or instance: it belongs to the port and matches any.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// An exact object key, or its location (a path under `backup_base`, `s3://bucket/key`).
    pub key: Option<String>,
    /// `--from-host`: a backup made on this host.
    pub from_host: Option<String>,
    /// `--from-instance`: a backup of this instance id.
    pub from_instance: Option<u32>,
}

impl Selection {
    /// Whether the backup named by `k` is one this selection wants for `me`.
    pub fn matches(&self, me: &Instance, k: &KeyParts) -> bool {
        if k.port != me.port {
            return false;
        }
        let (Some(host), Some(id)) = (&k.host, k.instance_id) else {
            return k.scheme == Scheme::Original;
        };
        match (&self.from_host, self.from_instance) {
            (None, None) => *host == me.host && id == me.instance_id,
            (Some(h), None) => host == h,
            (None, Some(i)) => id == i,
            (Some(h), Some(i)) => host == h && id == i,
        }
    }

    fn describe(&self, me: &Instance, day: Option<&str>) -> String {
        let host = self
            .from_host
            .as_deref()
            .unwrap_or(match self.from_instance {
                Some(_) => "any host",
                None => &me.host,
            });
        let id = match (self.from_instance, &self.from_host) {
            (Some(i), _) => i.to_string(),
            (None, Some(_)) => "any".into(),
            (None, None) => me.instance_id.to_string(),
        };
        let day = match day {
            Some(d) => format!("on {d}"),
            None => "on any day".into(),
        };
        format!(
            "no backup of port {} by host {host}, instance {id}, {day}",
            me.port
        )
    }
}

/// The key `given` names in `store`: itself, or the key of a location the tool printed (a path
/// under the local store, `s3://bucket/key`), or the backup whose record it names.
fn key_of(store: &dyn Store, given: &str) -> String {
    let root = store.describe();
    let key = given
        .strip_prefix(&root)
        .and_then(|rest| rest.strip_prefix('/'))
        .map(|k| k.trim_start_matches('/'))
        .unwrap_or(given);
    match key.strip_suffix(".json") {
        Some(backup) if record_key(backup) == key && super::names::parse_key(backup).is_some() => {
            backup.to_string()
        }
        _ => key.to_string(),
    }
}

/// What the store holds of `port` when no backup matched: whose backups there are (hosts and
/// instances, with the flags that select them) and on which days, so that a dead end says
/// what to give instead.
async fn what_there_is(store: &dyn Store, port: u16, day: Option<&str>) -> String {
    let Ok(all) = super::listing::backups(store, Some(port), None).await else {
        return String::new();
    };
    let all: Vec<&Entry> = all.iter().filter(|e| e.complete()).collect();
    if all.is_empty() {
        return format!(": the store holds no backup of port {port} at all");
    }
    let mut owners: Vec<String> = all
        .iter()
        .filter(|e| day.is_none_or(|d| e.date == d))
        .map(|e| match (&e.host, e.instance_id) {
            (Some(h), Some(i)) => format!("host {h} instance {i}"),
            (Some(h), None) => format!("host {h}"),
            _ => "the original tool (any host)".to_string(),
        })
        .collect();
    owners.sort();
    owners.dedup();
    let mut days: Vec<&str> = all.iter().map(|e| e.date.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    let shown: Vec<&str> = days.iter().rev().take(5).copied().collect();
    let days_text = format!(
        "days with backups of port {port}: {}{}",
        shown.join(", "),
        if days.len() > 5 { ", ..." } else { "" }
    );
    match (owners.is_empty(), day) {
        (true, Some(d)) => format!(": none on {d}; {days_text}"),
        _ => format!(
            ": there are backups of port {port} by {} ({days_text}); restore takes another's \
             with --from-host H --from-instance I, the other commands with --host H \
             --instance-id I; `list` shows them",
            owners.join("; ")
        ),
    }
}

/// Finds the backup to restore (see [`Selection`]): without an exact key, the newest complete
/// backup of the port by this host and instance filed under `day`, or under any day when
/// none is given. Backups that never committed (no record) are not backups; a newer one that
/// cannot be read is refused, naming it, rather than passed over.
pub async fn locate(
    store: &dyn Store,
    me: &Instance,
    day: Option<&str>,
    sel: &Selection,
) -> Result<Entry> {
    let found = match &sel.key {
        Some(given) => {
            let key = key_of(store, given);
            if crate::store::check_key(&key).is_err() {
                return Err(Error::Refused(format!(
                    "--backup-key {given:?} is neither a key nor a location in {}: give the \
                     `key:` or `location:` that backup printed, or a key as `list` shows it",
                    store.describe()
                )));
            }
            entry(store, &key)
                .await?
                .ok_or_else(|| Error::Refused(format!("no backup at {}", store.location(&key))))?
        }
        None => match newest(store, me.port, day, |p| sel.matches(me, p)).await? {
            Some(e) => e,
            None => {
                let hint = what_there_is(store, me.port, day).await;
                return Err(Error::Refused(format!(
                    "{} in {}{hint}",
                    sel.describe(me, day),
                    store.describe()
                )));
            }
        },
    };
    if let Some(why) = &found.damaged {
        return Err(Error::Refused(format!(
            "{}: what it records cannot be read ({why}); name another backup with --backup-key",
            found.location
        )));
    }
    if found.sha1.is_none() {
        return Err(Error::Refused(format!(
            "{} has no valid recorded SHA-1 (x-amz-meta-sha1 or .sha1 sidecar): not a complete backup",
            found.location
        )));
    }
    if found.kind != "full" {
        return Err(Error::Refused(format!(
            "{} is a {} backup, which this version cannot restore",
            found.location, found.kind
        )));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::names::parse_key;

    #[test]
    fn the_original_tools_backups_belong_to_the_port() {
        let me = Instance {
            host: "db2".into(),
            instance_id: 2,
            port: 3309,
        };
        let sel = Selection::default();
        let orig = parse_key("2017_01_01/3309/mysql-3309.tgz.des3").unwrap();
        assert!(sel.matches(&me, &orig));
        let other_port = parse_key("2017_01_01/3310/mysql-3310.tgz.des3").unwrap();
        assert!(!sel.matches(&me, &other_port));
        let theirs = parse_key("2017_01_01/3309/mysql-3309-db1-1.tgz.des3").unwrap();
        assert!(!sel.matches(&me, &theirs));
        let named = Selection {
            from_host: Some("db1".into()),
            ..Default::default()
        };
        assert!(named.matches(&me, &theirs));
        assert!(named.matches(&me, &orig));
    }

    #[test]
    fn a_printed_location_names_its_key() {
        let store = crate::store::local::LocalStore::new(std::path::Path::new("/data1/backup"));
        let k = "2026_12_03/3306/mysql-3306-h-1.20261203T000000Z.full.tgz.des3";
        assert_eq!(key_of(&store, &format!("/data1/backup/{k}")), k);
        assert_eq!(key_of(&store, k), k);
        assert_eq!(key_of(&store, &format!("{k}.json")), k);
        assert_eq!(key_of(&store, "/elsewhere/x"), "/elsewhere/x");
    }
}

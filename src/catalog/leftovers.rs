//! What interrupted runs left ([`LeftoverEntry`]): pending uploads and partial files the store
//! reports, objects of backups that never wrote their record, records without their backup;
//! each with the backup key it belongs to, and aged by the newest sign of life of that
//! backup (a long backup commits its first segment hours before its last: it is young while
//! any part of it moves).

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::names::{KeyParts, owner, parse_key};
use crate::error::Result;
use crate::store::{Leftover, ObjectInfo, Store};

/// What an interrupted run left, as the catalog shows it.
#[derive(Clone, Debug)]
pub struct LeftoverEntry {
    /// The key of the backup it belongs to.
    pub owner: String,
    pub parts: KeyParts,
    /// What it is: `pending upload`, `partial file`, `uncommitted object (no record)`, ...
    pub kind: &'static str,
    /// The object's key (an uncommitted object), or what the store reports.
    pub key: String,
    /// The newest sign of life of anything its backup left (see the module doc).
    pub modified: Option<SystemTime>,
    /// The store's leftover; None for an object of the catalog (removed by deleting `key`).
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

    /// An object of the backup `owner` that is no backup (yet): `kind` says why.
    pub(super) fn object(owner: &str, parts: &KeyParts, o: ObjectInfo, kind: &'static str) -> Self {
        LeftoverEntry {
            owner: owner.to_string(),
            parts: parts.clone(),
            kind,
            key: o.key,
            modified: Some(o.modified),
            store_leftover: None,
        }
    }

    /// A leftover the store reports, if it belongs to a backup of the catalog.
    pub(super) fn of_store(l: Leftover) -> Option<Self> {
        let owner = owner(&l.key)?;
        let parts = parse_key(&owner)?;
        Some(LeftoverEntry {
            owner,
            parts,
            kind: l.kind,
            key: l.key.clone(),
            modified: l.modified,
            store_leftover: Some(l),
        })
    }
}

/// Gives every leftover the newest time of the leftovers of its backup.
pub(super) fn age_by_owner(leftovers: &mut [LeftoverEntry]) {
    let mut newest: BTreeMap<String, SystemTime> = BTreeMap::new();
    for l in leftovers.iter() {
        if let Some(t) = l.modified {
            let e = newest.entry(l.owner.clone()).or_insert(t);
            *e = (*e).max(t);
        }
    }
    for l in leftovers.iter_mut() {
        if let Some(t) = newest.get(&l.owner) {
            l.modified = Some(*t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_backup_is_as_young_as_the_newest_thing_it_left() {
        let key = "2026_12_04/3306/mysql-3306-h-1.20261204T000000Z.full.tgz.des3";
        let parts = parse_key(key).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
        let now = SystemTime::now();
        let obj = |k: &str, t| ObjectInfo {
            key: k.into(),
            size: 1,
            modified: t,
            metadata: Default::default(),
        };
        let mut l = vec![
            LeftoverEntry::object(key, &parts, obj(key, old), "uncommitted object (no record)"),
            LeftoverEntry::of_store(Leftover {
                key: format!("{key}.0002"),
                kind: "pending upload",
                object: format!("{key}.0002"),
                id: Some("u".into()),
                modified: Some(now),
            })
            .unwrap(),
        ];
        age_by_owner(&mut l);
        assert!(l.iter().all(|e| e.modified == Some(now)), "{l:?}");
        assert!(
            LeftoverEntry::of_store(Leftover {
                key: "elsewhere/x".into(),
                kind: "partial file",
                object: "elsewhere/x.partial".into(),
                id: None,
                modified: None,
            })
            .is_none()
        );
    }
}

//! Which backup a restore (or verify) wants, found in the store.

use super::{KeyParts, day_prefix, parse_key};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::store::{Metadata, Store, parse_sha1};

/// Which backup a restore wants: an exact key, or the newest backup of the port by this host
/// and instance id (another host's or instance's only when named).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// An exact object key / path under `backup_base`.
    pub key: Option<String>,
    /// `--from-host`: a backup made on this host.
    pub from_host: Option<String>,
    /// `--from-instance`: a backup of this instance id.
    pub from_instance: Option<u32>,
}

impl Selection {
    /// Whether the backup named by `k` is one this selection wants.
    pub fn matches(&self, s: &Settings, k: &KeyParts) -> bool {
        k.port == s.port
            && match (&self.from_host, self.from_instance) {
                (None, None) => k.host == s.host && k.instance_id == s.instance_id,
                (Some(h), None) => &k.host == h,
                (None, Some(i)) => k.instance_id == i,
                (Some(h), Some(i)) => &k.host == h && k.instance_id == i,
            }
    }

    fn describe(&self, s: &Settings) -> String {
        let host = self
            .from_host
            .as_deref()
            .unwrap_or(match self.from_instance {
                Some(_) => "any host",
                None => &s.host,
            });
        let id = match (self.from_instance, &self.from_host) {
            (Some(i), _) => i.to_string(),
            (None, Some(_)) => "any".into(),
            (None, None) => s.instance_id.to_string(),
        };
        let day = if s.date_explicit {
            format!("on {}", s.date_str)
        } else {
            "on any day".into()
        };
        format!(
            "no backup of port {} by host {host}, instance {id}, {day}",
            s.port
        )
    }
}

/// A stored backup, found.
#[derive(Clone, Debug)]
pub struct Located {
    pub key: String,
    /// `s3://bucket/key` or a path.
    pub location: String,
    /// The SHA-1 recorded when it was stored.
    pub sha1: String,
    pub metadata: Metadata,
    /// What its key names (None for a key outside the naming scheme).
    pub parts: Option<KeyParts>,
}

/// Finds the backup to restore (see [`Selection`]): without an exact key, the newest backup
/// of the port by this host and instance on `date_str`, or on the newest day that has one
/// when no date was given.
pub async fn locate(store: &dyn Store, s: &Settings, sel: &Selection) -> Result<Located> {
    let key = match &sel.key {
        Some(k) => k.clone(),
        None => {
            let mut days: Vec<String> = if s.date_explicit {
                vec![s.date_str.clone()]
            } else {
                store
                    .list_dirs("")
                    .await?
                    .into_iter()
                    .filter(|d| crate::config::validate_date_str(d.clone()).is_ok())
                    .collect()
            };
            days.sort();
            let mut chosen = None;
            for day in days.iter().rev() {
                let found = store.list(&day_prefix(day, s.port)).await?;
                chosen = found
                    .into_iter()
                    .filter(|o| parse_key(&o.key).is_some_and(|p| sel.matches(s, &p)))
                    .max_by_key(|o| (o.modified, o.key.clone()))
                    .map(|o| o.key);
                if chosen.is_some() {
                    break;
                }
            }
            chosen.ok_or_else(|| {
                Error::Refused(format!("{} in {}", sel.describe(s), store.describe()))
            })?
        }
    };
    let location = store.location(&key);
    let info = store
        .head(&key)
        .await?
        .ok_or_else(|| Error::Refused(format!("no backup at {location}")))?;
    let sha1 = info
        .metadata
        .get("sha1")
        .and_then(|v| parse_sha1(v))
        .ok_or_else(|| {
            Error::Refused(format!(
                "{location} has no valid recorded SHA-1 (x-amz-meta-sha1 or .sha1 sidecar): not a complete backup"
            ))
        })?;
    Ok(Located {
        parts: parse_key(&key),
        key,
        location,
        sha1,
        metadata: info.metadata,
    })
}

//! `expire`: deletes the backups retention no longer keeps, and old leftovers of killed
//! uploads. A dry run unless `--confirm`.
//!
//! Rules, per instance (host + instance id + port; the original tool's backups, which name no
//! instance, are the port's and form their own group): a backup is kept when it is one of the
//! newest `keep_last` complete backups, or it was taken less than `keep_days` days ago (by
//! when it was taken, not the day it is filed under), or it is the newest complete backup
//! (always), or it is the newest backup whose recorded verify verdict found it restorable (for
//! the bytes it has now). Either rule alone may be given; a backup goes only when no rule
//! keeps it. The scope is this instance unless `--port-group` (every instance of the port).
//! Nothing is deleted unless the whole listing succeeded.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::catalog::Entry;
use crate::config::{Retention, Settings};
use crate::error::{Error, Result};

pub use report::{Decision, ExpireReport};

/// Leftovers younger than this may belong to an upload under way on another host.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);

/// What `expire` is asked.
#[derive(Clone, Debug, Default)]
pub struct ExpireOptions {
    pub keep_last: Option<usize>,
    pub keep_days: Option<u32>,
    pub confirm: bool,
    /// Every instance of the port, not only this one.
    pub port_group: bool,
}

/// Whole days from `taken` to `now` (a backup taken 23 hours ago is 0 days old).
fn age_days(taken: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> i64 {
    (now - taken).num_days()
}

/// Decides the fate of one instance's backups (newest first).
fn decide(
    backups: &[Entry],
    rules: Retention,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Decision> {
    let newest_complete = backups.iter().position(|b| b.sha1.is_some());
    let mut complete_seen = 0;
    backups
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let complete = b.sha1.is_some();
            if complete {
                complete_seen += 1;
            }
            let age = Some(age_days(b.taken, now));
            let reason = if !complete && newest_complete.is_none_or(|n| i < n) {
                Some(
                    "incomplete (no recorded SHA-1) but newer than any complete backup: left \
                     for inspection"
                        .to_string(),
                )
            } else if complete && rules.keep_last.is_some_and(|n| complete_seen <= n) {
                Some(format!(
                    "one of the newest {} (keep_last)",
                    rules.keep_last.unwrap_or(0)
                ))
            } else if let (Some(d), Some(a)) = (rules.keep_days, age)
                && a < i64::from(d)
            {
                Some(format!("taken {a} days ago, under keep_days {d}"))
            } else if Some(i) == newest_complete {
                // Only when no rule keeps it: the reason it is kept anyway.
                Some("the newest complete backup of its instance is always kept".to_string())
            } else {
                None
            };
            let (action, reason) = match reason {
                Some(r) => ("keep", r),
                None if !complete => (
                    "delete",
                    "incomplete (no recorded SHA-1), older than a complete backup".to_string(),
                ),
                None => (
                    "delete",
                    match age {
                        Some(a) => format!("taken {a} days ago, beyond what retention keeps"),
                        None => "beyond what retention keeps".to_string(),
                    },
                ),
            };
            Decision::of(b, action, reason)
        })
        .collect()
}

/// Keeps, besides what retention keeps, the newest backup of one instance (`list`, newest
/// first; `decided` its decisions) whose recorded verdict says verify found it restorable, for
/// the bytes it has now; warns when none has one. Retention alone could keep only backups that
/// no longer restore (a rotted newest) and delete the last one that does.
async fn keep_newest_verified(
    store: &dyn crate::store::Store,
    list: &[Entry],
    decided: &mut [Decision],
    warnings: &mut Vec<String>,
) -> Result<()> {
    // The verdicts that count: good, for the bytes the backup has now. A `--prepare` one
    // (the data opened, the window applied) beats a plain one, which checks the stream only.
    let mut good: Vec<(usize, crate::catalog::verdicts::Recorded)> = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let Some(sha1) = &b.sha1 else { continue };
        let v = match crate::catalog::verdicts::read(store, &b.key).await {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            // Unreadable: as if none (this backup is not kept for it), said.
            Err(e) => {
                warnings.push(format!("the verdict of {} cannot be read: {e}", b.key));
                continue;
            }
        };
        if v.ok && v.sha1.as_ref() == Some(sha1) {
            good.push((i, v));
        }
    }
    let chosen = good
        .iter()
        .find(|(_, v)| v.prepare)
        .or_else(|| good.first())
        .cloned();
    if let Some((i, v)) = chosen {
        if decided[i].action == "delete" {
            decided[i].action = "keep";
            decided[i].reason = format!(
                "the newest backup of its instance that verify{} found restorable ({}): kept \
                 besides retention",
                if v.prepare { " --prepare" } else { "" },
                v.at
            );
        }
        return Ok(());
    }
    if let Some(b) = list.first() {
        warnings.push(format!(
            "no backup of {} has a recorded good verify: retention alone decided; run \
             `verify --all --prepare` so that expire keeps one found restorable",
            b.owner()
        ));
    }
    Ok(())
}

/// Applies retention (see the module doc).
pub async fn expire(s: &Settings, opts: &ExpireOptions) -> Result<ExpireReport> {
    let rules = Retention {
        keep_last: opts.keep_last.or(s.retention.keep_last),
        keep_days: opts.keep_days.or(s.retention.keep_days),
    };
    if rules.keep_last.is_none() && rules.keep_days.is_none() {
        return Err(Error::Config(
            "expire needs a rule: --keep-last N and/or --keep-days D, or conf \
             `retention: {keep_last, keep_days}`"
                .into(),
        ));
    }
    let store = crate::store::open(&s.store).await?;
    // The original tool's backups name no instance: they are the port's, in every scope.
    let ours = |host: &Option<String>, id: Option<u32>| {
        opts.port_group
            || match (host, id) {
                (Some(h), Some(i)) => *h == s.host && i == s.instance_id,
                _ => true,
            }
    };
    // The whole listing first: an error here ends the command before anything is deleted.
    let listing = crate::catalog::list(store.as_ref(), Some(s.port), None).await?;

    let mut by_instance: BTreeMap<(Option<String>, Option<u32>), Vec<Entry>> = BTreeMap::new();
    for b in listing
        .backups
        .into_iter()
        .filter(|b| ours(&b.host, b.instance_id))
    {
        by_instance
            .entry((b.host.clone(), b.instance_id))
            .or_default()
            .push(b);
    }
    let now = chrono::Utc::now();
    let mut damaged = Vec::new();
    let mut warnings = Vec::new();
    let mut decisions: Vec<Decision> = Vec::new();
    let entries: BTreeMap<String, Entry> = by_instance
        .values()
        .flatten()
        .map(|e| (e.key.clone(), e.clone()))
        .collect();
    for all in by_instance.values() {
        // Kinds a newer version stored (incrementals, say) are left to it: this one neither
        // counts nor deletes them (an incremental's parent must outlive it).
        let (list, others): (Vec<Entry>, Vec<Entry>) = all
            .iter()
            .cloned()
            .partition(|b| b.kind == "full" || b.damaged.is_some());
        for b in &others {
            decisions.push(Decision::of(
                b,
                "keep",
                format!("a {} backup: left to the version that writes them", b.kind),
            ));
        }
        if !others.is_empty() {
            warnings.push(format!(
                "{} has {} backups of kinds this version does not expire",
                others[0].owner(),
                others.len()
            ));
        }
        let list = &list;
        let bad: Vec<String> = list
            .iter()
            .filter_map(|b| Some(format!("{}: {}", b.key, b.damaged.as_deref()?)))
            .collect();
        if bad.is_empty() {
            let mut decided = decide(list, rules, now);
            keep_newest_verified(store.as_ref(), list, &mut decided, &mut warnings).await?;
            decisions.extend(decided);
            continue;
        }
        // What retention keeps of an instance depends on every backup of it: with one that
        // cannot be read, nothing of it is deleted; the other instances go on.
        for b in list {
            decisions.push(Decision::of(
                b,
                "keep",
                "its instance has a backup whose metadata cannot be read: nothing of it is \
                 deleted until that is repaired or removed"
                    .into(),
            ));
        }
        damaged.extend(bad);
    }
    let cutoff = SystemTime::now() - LEFTOVER_AGE;
    // A backup of the instance running here now owns its pending upload, however old: its
    // leftovers wait for the next expire (the lock is held only while looking).
    let busy = crate::lock::lock_instance(s, "expire").is_err();
    if busy {
        tracing::warn!(
            "a mysqlbackup command works on this instance now: its leftovers are left alone"
        );
    }
    let me = s.instance();
    let old: Vec<_> = listing
        .leftovers
        .into_iter()
        .filter(|l| {
            ours(&l.parts.host, l.parts.instance_id)
                && !(busy && l.parts.instance().as_ref() == Some(&me))
                && l.modified.is_some_and(|m| m < cutoff)
        })
        .collect();

    // The binlog archives of the instances in scope, but of one with a damaged backup.
    let mut binlog_decisions = Vec::new();
    for instance in crate::catalog::binlogs::instances(store.as_ref(), Some(s.port)).await? {
        if !ours(&Some(instance.host.clone()), Some(instance.instance_id))
            || damaged.iter().any(|d| {
                d.contains(&format!(
                    "mysql-{}-{}-{}.",
                    instance.port, instance.host, instance.instance_id
                ))
            })
        {
            continue;
        }
        let kept: Vec<&Entry> = decisions
            .iter()
            .filter(|d| d.action == "keep")
            .filter_map(|d| entries.get(&d.key))
            .filter(|e| {
                e.complete()
                    && e.host.as_deref() == Some(instance.host.as_str())
                    && e.instance_id == Some(instance.instance_id)
            })
            .collect();
        binlog_decisions.extend(binlogs::decide(store.as_ref(), &instance, &kept).await?);
    }

    let mut removed_leftovers = Vec::new();
    let mut failures = Vec::new();
    if opts.confirm {
        for b in binlog_decisions.iter_mut().filter(|b| b.action == "delete") {
            crate::cancel::check()?;
            match binlogs::delete(store.as_ref(), &b.key).await {
                Ok(()) => b.deleted = true,
                Err(e) => {
                    let text = crate::error::report_lines(&e).join(": ");
                    failures.push(format!("{}: {text}", b.key));
                    b.error = Some(text);
                }
            }
        }
        for d in decisions.iter_mut().filter(|d| d.action == "delete") {
            crate::cancel::check()?;
            tracing::info!("deleting {}", store.location(&d.key));
            let Some(entry) = entries.get(&d.key) else {
                continue;
            };
            match crate::catalog::delete(store.as_ref(), entry).await {
                Ok(()) => d.deleted = true,
                Err(e) => {
                    let text = crate::error::report_lines(&e).join(": ");
                    failures.push(format!("{}: {text}", d.key));
                    d.error = Some(text);
                }
            }
        }
        for l in &old {
            crate::cancel::check()?;
            match l.remove(store.as_ref()).await {
                Ok(()) => {
                    removed_leftovers.push(format!("{} ({})", store.location(&l.key), l.kind))
                }
                Err(e) => failures.push(format!("leftover {}: {e}", l.key)),
            }
        }
    } else {
        removed_leftovers = old
            .iter()
            .map(|l| format!("{} ({})", store.location(&l.key), l.kind))
            .collect();
    }
    Ok(ExpireReport {
        failures,
        damaged,
        warnings,
        dry_run: !opts.confirm,
        store: store.describe(),
        scope: if opts.port_group {
            format!("port {}", s.port)
        } else {
            format!("host {} instance {} port {}", s.host, s.instance_id, s.port)
        },
        keep_last: rules.keep_last,
        keep_days: rules.keep_days,
        backups: decisions,
        leftovers: removed_leftovers,
        binlogs: binlog_decisions,
    })
}

mod binlogs;
mod report;
#[cfg(test)]
mod tests;

//! The oracle's GTID arithmetic, independent of the crate's own: MySQL GTID sets and MariaDB
//! GTID lists.

use std::collections::BTreeMap;

/// A MySQL GTID set: server uuid (lowercase) -> sorted, disjoint, non-adjacent closed intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet(pub(super) BTreeMap<String, Vec<(u64, u64)>>);

pub(super) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

impl GtidSet {
    /// Parses "uuid:1-5:7,uuid2:3"; whitespace (newlines too) is ignored; "" is the empty set.
    pub fn parse(s: &str) -> Option<GtidSet> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let mut set = GtidSet::default();
        for part in s.split(',') {
            if part.is_empty() {
                continue;
            }
            let mut it = part.split(':');
            let uuid = it.next()?;
            if !is_uuid(uuid) {
                return None;
            }
            let uuid = uuid.to_ascii_lowercase();
            let mut any = false;
            for iv in it {
                any = true;
                let (a, b) = match iv.split_once('-') {
                    Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
                    None => {
                        let a = iv.parse::<u64>().ok()?;
                        (a, a)
                    }
                };
                if a == 0 || b < a {
                    return None;
                }
                set.add(&uuid, a, b);
            }
            if !any {
                return None;
            }
        }
        Some(set)
    }

    pub(super) fn add(&mut self, uuid: &str, a: u64, b: u64) {
        let ivs = self.0.entry(uuid.to_ascii_lowercase()).or_default();
        ivs.push((a, b));
        ivs.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in ivs.drain(..) {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *ivs = merged;
    }

    pub fn union(&self, other: &GtidSet) -> GtidSet {
        let mut out = self.clone();
        for (uuid, ivs) in &other.0 {
            for (a, b) in ivs {
                out.add(uuid, *a, *b);
            }
        }
        out
    }

    pub fn is_subset(&self, other: &GtidSet) -> bool {
        self.0.iter().all(|(uuid, ivs)| {
            let theirs = other.0.get(uuid).map(Vec::as_slice).unwrap_or(&[]);
            ivs.iter()
                .all(|(a, b)| theirs.iter().any(|(c, d)| c <= a && b <= d))
        })
    }

    /// Number of transactions in the set.
    pub fn count(&self) -> u64 {
        self.0
            .values()
            .flat_map(|ivs| ivs.iter().map(|(a, b)| b - a + 1))
            .sum()
    }
}

impl std::fmt::Display for GtidSet {
    /// MySQL's own rendering: lowercase uuids in order, ",\n" between uuids.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(uuid, ivs)| {
                let mut s = uuid.clone();
                for (a, b) in ivs {
                    if a == b {
                        s.push_str(&format!(":{a}"));
                    } else {
                        s.push_str(&format!(":{a}-{b}"));
                    }
                }
                s
            })
            .collect();
        f.write_str(&parts.join(",\n"))
    }
}

/// A MariaDB GTID list "domain-server-seq,...": per domain the last GTID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidList(pub(super) BTreeMap<u32, (u32, u64)>);

impl GtidList {
    pub fn parse(s: &str) -> Option<GtidList> {
        let mut l = GtidList::default();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let mut it = part.split('-');
            let d = it.next()?.parse::<u32>().ok()?;
            let srv = it.next()?.parse::<u32>().ok()?;
            let seq = it.next()?.parse::<u64>().ok()?;
            if it.next().is_some() {
                return None;
            }
            l.0.insert(d, (srv, seq));
        }
        Some(l)
    }

    /// Per domain the GTID with the higher sequence number.
    pub fn merge_max(&self, other: &GtidList) -> GtidList {
        let mut out = self.clone();
        for (d, (srv, seq)) in &other.0 {
            match out.0.get(d) {
                Some((_, s)) if s >= seq => {}
                _ => {
                    out.0.insert(*d, (*srv, *seq));
                }
            }
        }
        out
    }

    pub fn seq(&self, domain: u32) -> Option<u64> {
        self.0.get(&domain).map(|(_, s)| *s)
    }

    pub(super) fn count(&self) -> u64 {
        self.0.values().map(|(_, s)| *s).sum()
    }
}

impl std::fmt::Display for GtidList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(d, (srv, seq))| format!("{d}-{srv}-{seq}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

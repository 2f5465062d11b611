//! Typed GTID positions of both flavors: MariaDB's `domain-server-seq` lists (one GTID per
//! domain, [`Position`]) and MySQL's executed sets (`uuid[:tag]:1-5:7,uuid2:1-3`, [`GtidSet`])
//! with the set arithmetic catch-up needs (union, difference, containment).

use std::collections::BTreeMap;
use std::fmt;

pub use super::binlog::Gtid;
pub use super::binlog::state::{GtidState, Position};
use crate::error::{Error, Result};

/// A MySQL GTID set: per source (server UUID, and since 8.3 an optional tag), a sorted list of
/// disjoint, non-adjacent closed intervals of transaction numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GtidSet(BTreeMap<Source, Vec<(u64, u64)>>);

/// The source of MySQL GTIDs: a server UUID (lowercase) and an optional tag (8.3+,
/// `uuid:tag:n`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    pub uuid: String,
    pub tag: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(t) => write!(f, "{}:{t}", self.uuid),
            None => f.write_str(&self.uuid),
        }
    }
}

fn bad(text: &str, why: &str) -> Error {
    Error::Config(format!("{text:?} is not a MySQL GTID set: {why}"))
}

/// A server UUID: 32 hex digits, in the 8-4-4-4-12 form or without dashes; lowercased.
fn parse_uuid(text: &str) -> Option<String> {
    let t = text.trim();
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    let dashed = t.len() == 36
        && [8, 13, 18, 23]
            .iter()
            .all(|&i| t.as_bytes().get(i) == Some(&b'-'));
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !(dashed || t.len() == 32)
    {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// A GTID tag (MySQL 8.3+): a letter or `_`, then up to 31 letters, digits or `_`; lowercased.
fn parse_tag(text: &str) -> Option<String> {
    let t = text.trim();
    let mut b = t.bytes();
    let first = b.next()?;
    let ok = (first.is_ascii_alphabetic() || first == b'_')
        && t.len() <= 32
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_');
    ok.then(|| t.to_ascii_lowercase())
}

impl GtidSet {
    /// Parses a set as MySQL prints it (`@@gtid_executed`, `Executed_Gtid_Set`, the third line
    /// of `xtrabackup_binlog_info`): sources separated by `,` with any blanks and newlines;
    /// each `uuid[:tag]:a-b:c...`. Empty text is the empty set. Transaction numbers start at 1.
    pub fn parse(text: &str) -> Result<Self> {
        let mut set = GtidSet::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':').map(str::trim);
            let uuid = fields
                .next()
                .and_then(parse_uuid)
                .ok_or_else(|| bad(text, &format!("{part:?} does not start with a server UUID")))?;
            let mut tag = None;
            let mut any = false;
            for f in fields {
                if f.starts_with(|c: char| c.is_ascii_digit()) {
                    let (a, b) = match f.split_once('-') {
                        Some((a, b)) => (a.trim(), b.trim()),
                        None => (f, f),
                    };
                    let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) else {
                        return Err(bad(text, &format!("{f:?} is not an interval")));
                    };
                    // MySQL numbers transactions from 1 to 2^63 - 1.
                    if a == 0 || b < a || b > i64::MAX as u64 {
                        return Err(bad(
                            text,
                            &format!("{f:?} is not an interval within 1..2^63-1"),
                        ));
                    }
                    set.add(
                        Source {
                            uuid: uuid.clone(),
                            tag: tag.clone(),
                        },
                        a,
                        b,
                    );
                    any = true;
                } else {
                    tag = Some(
                        parse_tag(f).ok_or_else(|| bad(text, &format!("{f:?} is not a tag")))?,
                    );
                }
            }
            if !any {
                return Err(bad(text, &format!("{part:?} names no transaction")));
            }
        }
        Ok(set)
    }

    /// Adds the transactions `a..=b` of `source`.
    pub fn add(&mut self, source: Source, a: u64, b: u64) {
        let list = self.0.entry(source).or_default();
        list.push((a, b));
        list.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(list.len());
        for &(a, b) in list.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *list = merged;
    }

    /// Every transaction of `self` or `other`.
    pub fn union(&self, other: &GtidSet) -> GtidSet {
        let mut out = self.clone();
        for (src, list) in &other.0 {
            for &(a, b) in list {
                out.add(src.clone(), a, b);
            }
        }
        out
    }

    /// The transactions of `self` that are not in `other`.
    pub fn difference(&self, other: &GtidSet) -> GtidSet {
        let mut out = GtidSet::default();
        for (src, list) in &self.0 {
            let theirs = other.0.get(src).map(Vec::as_slice).unwrap_or(&[]);
            let mut kept = Vec::new();
            for &(a, b) in list {
                let mut start = a;
                for &(c, d) in theirs {
                    if d < start || c > b {
                        continue;
                    }
                    if c > start {
                        kept.push((start, c - 1));
                    }
                    if d >= b {
                        start = 0; // nothing of (a, b) is left past (c, d)
                        break;
                    }
                    start = d + 1; // d < b, so no overflow
                }
                if start != 0 && start <= b {
                    kept.push((start, b));
                }
            }
            if !kept.is_empty() {
                out.0.insert(src.clone(), kept);
            }
        }
        out
    }

    /// Whether every transaction of `self` is in `other`.
    pub fn is_subset(&self, other: &GtidSet) -> bool {
        self.difference(other).is_empty()
    }

    /// Whether it holds no transaction.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many transactions it holds.
    pub fn count(&self) -> u64 {
        self.0
            .values()
            .flatten()
            .map(|(a, b)| b - a + 1)
            .fold(0u64, u64::saturating_add)
    }

    /// The sources it names.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.0.keys()
    }

    /// Its transactions of server `uuid` (any tag).
    pub fn of_server(&self, uuid: &str) -> GtidSet {
        let uuid = uuid.trim().to_ascii_lowercase();
        GtidSet(
            self.0
                .iter()
                .filter(|(s, _)| s.uuid == uuid)
                .map(|(s, l)| (s.clone(), l.clone()))
                .collect(),
        )
    }
}

/// As MySQL prints a set (without its newlines): sources in order, a tag's intervals after it.
impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last_uuid: Option<&str> = None;
        for (src, list) in &self.0 {
            if last_uuid == Some(src.uuid.as_str()) {
                // Another tag of the same server continues its entry: `uuid:1-5:tag:1-3`.
            } else {
                if last_uuid.is_some() {
                    f.write_str(",")?;
                }
                f.write_str(&src.uuid)?;
                last_uuid = Some(&src.uuid);
            }
            if let Some(t) = &src.tag {
                write!(f, ":{t}")?;
            }
            for (a, b) in list {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

/// A server's executed position in its flavor's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GtidPos {
    /// MariaDB: the newest GTID per domain.
    MariaDb(Position),
    /// MySQL: every executed transaction.
    MySql(GtidSet),
}

impl GtidPos {
    /// Whether it names nothing.
    pub fn is_empty(&self) -> bool {
        match self {
            GtidPos::MariaDb(p) => p.is_empty(),
            GtidPos::MySql(s) => s.is_empty(),
        }
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidPos::MariaDb(p) => p.fmt(f),
            GtidPos::MySql(s) => s.fmt(f),
        }
    }
}

impl Position {
    /// A position from text a server printed, keeping per domain the newest GTID (a state or a
    /// merged list may name several per domain); entries that are not GTIDs are dropped.
    pub fn lenient(text: &str) -> Position {
        let mut p = Position::default();
        for g in Gtid::list(&text.replace('\n', "")) {
            p.take_newer(g);
        }
        p
    }

    /// Per domain, the newer GTID of the two (sequence numbers only grow within a domain); on
    /// a tie (two servers' GTIDs of one number: diverged histories) `self`'s is kept.
    pub fn merge(&self, other: &Position) -> Position {
        let mut out = self.clone();
        for d in other.domains() {
            if let Some(g) = other.get(d) {
                out.take_newer(g);
            }
        }
        out
    }

    /// Makes `g` its domain's GTID, whatever it held.
    pub fn set(&mut self, g: Gtid) {
        self.remove(g.domain);
        self.include(g);
    }

    /// Takes `g` when its domain holds nothing or an older sequence number (the first of a
    /// tie stays).
    fn take_newer(&mut self, g: Gtid) {
        if self.get(g.domain).is_none_or(|p| g.seq > p.seq) {
            self.include(g);
        }
    }

    /// The GTIDs in the domains a channel replicates: not in `ignore`, and in `only` when it
    /// is not empty.
    pub fn replicated(&self, ignore: &[u32], only: &[u32]) -> Position {
        let mut out = Position::default();
        for d in self.domains() {
            let kept = !ignore.contains(&d) && (only.is_empty() || only.contains(&d));
            if let (true, Some(g)) = (kept, self.get(d)) {
                out.include(g);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;

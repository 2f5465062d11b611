//! MariaDB GTID states and positions, typed: a binlog state holds the last sequence number of
//! every (domain, server) (what a binlog file's Gtid_list event lists at its start); a
//! position holds one GTID per domain (the newest: sequence numbers grow within a domain).

use std::collections::BTreeMap;

use super::Gtid;
use crate::error::{Error, Result};

/// A binlog state: the last sequence number per (domain, server).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GtidState(BTreeMap<(u32, u32), u64>);

impl GtidState {
    /// The state listing `gtids`.
    pub fn of(gtids: impl IntoIterator<Item = Gtid>) -> Self {
        let mut s = GtidState::default();
        for g in gtids {
            s.apply(g);
        }
        s
    }

    /// Parses `d-s-n,d-s-n,...` (empty: the empty state); an entry that is not a GTID is an
    /// error.
    pub fn parse(text: &str) -> Result<Self> {
        let mut s = GtidState::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let g = Gtid::parse(part).ok_or_else(|| {
                Error::Config(format!("{part:?} is not a GTID (domain-server-sequence)"))
            })?;
            s.apply(g);
        }
        Ok(s)
    }

    /// Records `g`: the last of its (domain, server) from now on.
    pub fn apply(&mut self, g: Gtid) {
        self.0.insert((g.domain, g.server), g.seq);
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The GTIDs it holds, by domain then server.
    pub fn gtids(&self) -> Vec<Gtid> {
        self.0
            .iter()
            .map(|(&(domain, server), &seq)| Gtid {
                domain,
                server,
                seq,
            })
            .collect()
    }

    /// Its position: per domain, the GTID with the highest sequence number.
    pub fn position(&self) -> Position {
        let mut p = Position::default();
        for g in self.gtids() {
            p.include(g);
        }
        p
    }

    /// `d-s-n,...` in (domain, server) order: the same state always reads the same.
    pub fn canonical(&self) -> String {
        join(&self.gtids())
    }

    /// The first 8 hex digits of the SHA-1 of [`GtidState::canonical`]: names a state in a
    /// key (two files continue each other when the first's end and the second's start agree).
    pub fn tag(&self) -> String {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(self.canonical().as_bytes()))[..8].to_string()
    }
}

/// A GTID position: one GTID per domain (`@@gtid_binlog_pos`, `--until-gtid`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position(BTreeMap<u32, Gtid>);

impl Position {
    /// Parses `d-s-n,...`; two GTIDs of one domain are an error (a position names one each).
    pub fn parse(text: &str) -> Result<Self> {
        let mut p = Position::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let g = Gtid::parse(part).ok_or_else(|| {
                Error::Config(format!("{part:?} is not a GTID (domain-server-sequence)"))
            })?;
            if p.0.insert(g.domain, g).is_some() {
                return Err(Error::Config(format!(
                    "two GTIDs of domain {} in {text:?}: a position names one per domain",
                    g.domain
                )));
            }
        }
        Ok(p)
    }

    /// Takes `g` when it is newer than what its domain holds.
    pub fn include(&mut self, g: Gtid) {
        let e = self.0.entry(g.domain).or_insert(g);
        if g.seq >= e.seq {
            *e = g;
        }
    }

    /// Forgets what `domain` holds.
    pub fn remove(&mut self, domain: u32) {
        self.0.remove(&domain);
    }

    /// The GTID of `domain`, if any.
    pub fn get(&self, domain: u32) -> Option<Gtid> {
        self.0.get(&domain).copied()
    }

    /// The domains it names.
    pub fn domains(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.keys().copied()
    }

    /// Whether it names nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `g` lies at or before this position (its domain's sequence number is not
    /// higher); a domain it does not name holds nothing.
    pub fn covers(&self, g: Gtid) -> bool {
        self.get(g.domain).is_some_and(|p| g.seq <= p.seq)
    }

    /// Whether every GTID of `other` lies at or before this position.
    pub fn covers_all(&self, other: &Position) -> bool {
        other.0.values().all(|g| self.covers(*g))
    }

    /// The domains in which `other` goes beyond this position, with both sequence numbers.
    pub fn behind(&self, other: &Position) -> Vec<(u32, u64, u64)> {
        other
            .0
            .values()
            .filter(|g| !self.covers(**g))
            .map(|g| (g.domain, self.get(g.domain).map_or(0, |p| p.seq), g.seq))
            .collect()
    }

    /// `d-s-n,...` by domain.
    pub fn canonical(&self) -> String {
        join(&self.0.values().copied().collect::<Vec<_>>())
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}

fn join(g: &[Gtid]) -> String {
    g.iter().map(Gtid::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(d: u32, s: u32, n: u64) -> Gtid {
        Gtid {
            domain: d,
            server: s,
            seq: n,
        }
    }

    #[test]
    fn states_and_positions() {
        let mut s = GtidState::parse("0-1-5, 0-2-7,1-2-3").unwrap();
        assert_eq!(s.canonical(), "0-1-5,0-2-7,1-2-3");
        assert_eq!(s.position().canonical(), "0-2-7,1-2-3");
        s.apply(g(0, 1, 8));
        assert_eq!(s.position().canonical(), "0-1-8,1-2-3");
        assert_eq!(GtidState::parse("").unwrap(), GtidState::default());
        assert!(GtidState::parse("0-1").is_err());
        assert_eq!(s.tag().len(), 8);
        assert_ne!(s.tag(), GtidState::default().tag());
        let p = Position::parse("0-1-8,1-2-3").unwrap();
        assert!(p.covers(g(0, 9, 8)) && !p.covers(g(0, 1, 9)) && !p.covers(g(2, 1, 1)));
        assert!(p.covers_all(&Position::parse("0-1-2").unwrap()));
        assert!(!p.covers_all(&Position::parse("0-1-2,2-1-1").unwrap()));
        assert_eq!(
            p.behind(&Position::parse("0-1-9,1-2-3").unwrap()),
            [(0, 8, 9)]
        );
        assert!(Position::parse("0-1-2,0-2-3").is_err());
    }
}

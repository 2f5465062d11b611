//! Binlog files: names in their numeric order, and a plain reader of events that reports the
//! MariaDB GTIDs in them (restore uses it to learn which transactions it applied).
//!
//! Format (binlog v4): the magic `\xfebin`, then events, each a 19-byte header (timestamp u32,
//! type u8, server_id u32, event length u32 incl. header and checksum, next position u32,
//! flags u16; little-endian) and a body. A MariaDB GTID event (type 162) starts its body with
//! seq_no u64 and domain_id u32; its server id is the header's. The reader never trusts a
//! length: an event shorter than its header or running past the input is an error.

use std::io::Read;

use crate::error::{Error, Result};

pub mod state;
pub mod summary;

/// The 4 bytes every binlog file starts with.
pub const MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];
const HEADER: usize = 19;
/// MariaDB GTID event.
const GTID_EVENT: u8 = 162;
/// MariaDB: everything after it is encrypted.
const START_ENCRYPTION_EVENT: u8 = 164;
/// Longest event accepted (the server's own limit is 1 GiB + headers).
const MAX_EVENT: u32 = (1 << 30) + (1 << 20);

/// A MariaDB GTID: `domain-server-seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

impl Gtid {
    /// Parses `domain-server-seq` (surrounding blanks allowed).
    pub fn parse(text: &str) -> Option<Gtid> {
        let mut it = text.trim().split('-');
        let (Some(d), Some(s), Some(n), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return None;
        };
        Some(Gtid {
            domain: d.parse().ok()?,
            server: s.parse().ok()?,
            seq: n.parse().ok()?,
        })
    }

    /// The GTIDs of a comma-separated list (`@@gtid_binlog_pos`, a state); malformed entries
    /// are dropped.
    pub fn list(list: &str) -> Vec<Gtid> {
        list.split(',').filter_map(Gtid::parse).collect()
    }
}

impl std::fmt::Display for Gtid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

/// The sort key of a binlog file name `<base>.<number>`: numeric, so `binlog.1000000` comes
/// after `binlog.999999` (string order would put it first).
pub fn order_key(name: &str) -> (String, u64, String) {
    match name.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (
            base.to_string(),
            n.parse().unwrap_or(u64::MAX),
            name.to_string(),
        ),
        _ => (name.to_string(), 0, name.to_string()),
    }
}

/// Sorts binlog file names in the order the server wrote them.
pub fn sort_names(names: &mut [String]) {
    names.sort_by_key(|n| order_key(n));
}

/// Event types of the LOAD DATA family (LOAD, CREATE_FILE, APPEND_BLOCK, EXEC_LOAD,
/// DELETE_FILE, NEW_LOAD, BEGIN_LOAD_QUERY, EXECUTE_LOAD_QUERY): `mariadb-binlog` turns them
/// into `LOAD DATA LOCAL INFILE` of a file it writes.
const LOAD_EVENTS: &[u8] = &[6, 8, 9, 10, 11, 12, 17, 18];

/// What a scan of binlog files found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Every GTID, in order.
    pub gtids: Vec<Gtid>,
    /// Whether a LOAD DATA event is among them.
    pub load_data: bool,
}

/// Reads `input` (a whole binlog file) and records in `scan` every GTID of an event group
/// that starts at or after byte `from` (4 for the whole file), and whether a LOAD DATA event
/// is there.
///
/// # Errors
/// A missing magic, an event shorter than its header or longer than the input, or an
/// encrypted binlog (its GTIDs cannot be read).
pub fn scan_from(input: impl Read, from: u64, scan: &mut Scan) -> Result<()> {
    let mut load = false;
    let r = events_from(input, from, &mut |kind, gtid| {
        load |= LOAD_EVENTS.contains(&kind);
        if let Some(g) = gtid {
            scan.gtids.push(g);
        }
    });
    scan.load_data |= load;
    r
}

/// Reads the 4-byte binlog magic; an error when it is not there.
fn read_magic(input: &mut impl Read) -> Result<()> {
    let mut magic = [0u8; 4];
    input
        .read_exact(&mut magic)
        .map_err(|_| Error::format("binlog", "shorter than its magic"))?;
    if magic != MAGIC {
        return Err(Error::format(
            "binlog",
            "does not start with the binlog magic",
        ));
    }
    Ok(())
}

/// Whether a binlog file is encrypted (MariaDB `encrypt_binlog`): a Start_encryption event
/// follows its format description, and every event after it can be read only by a server
/// that has the key.
pub fn is_encrypted(mut input: impl Read) -> Result<bool> {
    read_magic(&mut input)?;
    let mut header = [0u8; HEADER];
    // The format description, then (if encrypted) Start_encryption.
    for _ in 0..2 {
        if read_full(&mut input, &mut header)? != HEADER {
            return Ok(false);
        }
        if header[4] == START_ENCRYPTION_EVENT {
            return Ok(true);
        }
        let len = u32::from_le_bytes(header[9..13].try_into().expect("4 bytes"));
        if (len as usize) < HEADER || len > MAX_EVENT {
            return Err(Error::format("binlog", format!("bad event length {len}")));
        }
        let body = u64::from(len) - HEADER as u64;
        let skipped = std::io::copy(&mut (&mut input).take(body), &mut std::io::sink())
            .map_err(|e| Error::format("binlog", e.to_string()))?;
        if skipped != body {
            return Ok(false);
        }
    }
    Ok(false)
}

/// As [`scan_from`], calling `on` with each GTID only.
pub fn gtids_from(input: impl Read, from: u64, on: &mut impl FnMut(Gtid)) -> Result<()> {
    events_from(input, from, &mut |_, g| {
        if let Some(g) = g {
            on(g)
        }
    })
}

/// Calls `on(type, gtid)` for every event at or after `from`.
fn events_from(
    mut input: impl Read,
    from: u64,
    on: &mut impl FnMut(u8, Option<Gtid>),
) -> Result<()> {
    read_magic(&mut input)?;
    let mut pos = 4u64;
    let mut header = [0u8; HEADER];
    loop {
        match read_full(&mut input, &mut header)? {
            0 => return Ok(()),
            HEADER => {}
            _ => {
                return Err(Error::format(
                    "binlog",
                    format!("truncated event header at {pos}"),
                ));
            }
        }
        let kind = header[4];
        let server = u32::from_le_bytes(header[5..9].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(header[9..13].try_into().expect("4 bytes"));
        if (len as usize) < HEADER || len > MAX_EVENT {
            return Err(Error::format(
                "binlog",
                format!("event at {pos} has a bad length {len}"),
            ));
        }
        let body_len = u64::from(len) - HEADER as u64;
        if kind == START_ENCRYPTION_EVENT {
            return Err(Error::format(
                "binlog",
                "the binlog is encrypted: its GTIDs cannot be read",
            ));
        }
        if pos >= from && kind != GTID_EVENT {
            on(kind, None);
        }
        if kind == GTID_EVENT && pos >= from {
            let mut body = [0u8; 12];
            if body_len < 12 {
                return Err(Error::format(
                    "binlog",
                    format!("short GTID event at {pos}"),
                ));
            }
            input
                .read_exact(&mut body)
                .map_err(|_| Error::format("binlog", format!("truncated GTID event at {pos}")))?;
            let g = Gtid {
                seq: u64::from_le_bytes(body[..8].try_into().expect("8 bytes")),
                domain: u32::from_le_bytes(body[8..12].try_into().expect("4 bytes")),
                server,
            };
            on(kind, Some(g));
            skip(&mut input, body_len - 12, pos)?;
        } else {
            skip(&mut input, body_len, pos)?;
        }
        pos += u64::from(len);
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::format("binlog", e.to_string())),
        }
    }
    Ok(n)
}

fn skip(input: &mut impl Read, n: u64, pos: u64) -> Result<()> {
    let copied = std::io::copy(&mut input.by_ref().take(n), &mut std::io::sink())
        .map_err(|e| Error::format("binlog", e.to_string()))?;
    if copied != n {
        return Err(Error::format("binlog", format!("truncated event at {pos}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event of `kind` from `server` with `body` (no checksum).
    pub fn event(kind: u8, server: u32, body: &[u8]) -> Vec<u8> {
        let mut e = vec![0u8; 4];
        e.push(kind);
        e.extend_from_slice(&server.to_le_bytes());
        e.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
        e.extend_from_slice(&[0u8; 6]);
        e.extend_from_slice(body);
        e
    }

    fn gtid_event(g: Gtid) -> Vec<u8> {
        let mut body = g.seq.to_le_bytes().to_vec();
        body.extend_from_slice(&g.domain.to_le_bytes());
        body.extend_from_slice(&[0, 1, 2, 3, 4]); // flags and a checksum
        event(GTID_EVENT, g.server, &body)
    }

    fn collect(bytes: &[u8], from: u64) -> Result<Vec<Gtid>> {
        let mut got = Vec::new();
        gtids_from(bytes, from, &mut |g| got.push(g))?;
        Ok(got)
    }

    #[test]
    fn reads_gtids_after_a_position() {
        let g1 = Gtid {
            domain: 0,
            server: 1,
            seq: 5,
        };
        let g2 = Gtid {
            domain: 2,
            server: 2,
            seq: 9,
        };
        let mut f = MAGIC.to_vec();
        f.extend(event(15, 1, &[7u8; 80]));
        f.extend(gtid_event(g1));
        let second = f.len() as u64;
        f.extend(event(2, 1, b"INSERT ..."));
        f.extend(gtid_event(g2));
        assert_eq!(collect(&f, 4).unwrap(), [g1, g2]);
        assert_eq!(collect(&f, second).unwrap(), [g2]);
        let mut scan = Scan::default();
        scan_from(&f[..], 4, &mut scan).unwrap();
        assert_eq!(scan.gtids, [g1, g2]);
        assert!(!scan.load_data);
        let mut with_load = f.clone();
        with_load.extend(event(18, 1, b"LOAD DATA ..."));
        scan_from(&with_load[..], second, &mut scan).unwrap();
        assert!(scan.load_data);
        assert_eq!(g2.to_string(), "2-2-9");
        // Truncated anywhere: an error, never a panic or a silent end.
        for cut in [2, 10, f.len() - 3] {
            assert!(collect(&f[..cut], 4).is_err(), "cut at {cut}");
        }
        assert!(collect(b"\xfebix", 4).is_err());
        let mut encrypted = MAGIC.to_vec();
        encrypted.extend(event(START_ENCRYPTION_EVENT, 1, &[0; 20]));
        assert!(
            collect(&encrypted, 4)
                .unwrap_err()
                .to_string()
                .contains("encrypted")
        );
        let mut bad = MAGIC.to_vec();
        bad.extend(event(2, 1, b""));
        bad[4 + 9..4 + 13].copy_from_slice(&3u32.to_le_bytes());
        assert!(collect(&bad, 4).is_err());
    }

    #[test]
    fn names_sort_numerically() {
        let mut n = vec![
            "binlog.1000000".to_string(),
            "binlog.999999".to_string(),
            "binlog.000002".to_string(),
        ];
        sort_names(&mut n);
        assert_eq!(n, ["binlog.000002", "binlog.999999", "binlog.1000000"]);
        assert!(order_key("binlog.1000000") > order_key("binlog.999999"));
    }
}

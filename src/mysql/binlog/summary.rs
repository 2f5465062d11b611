//! A binlog file summarized for the archive and for point-in-time recovery: the binlog state
//! at its start (its Gtid_list event), every transaction's GTID with its time, the first and
//! last event times, the server id, and every event's CRC-32 checked when the file carries
//! them (`binlog_checksum=CRC32`, the default).
//!
//! Events (binlog v4): a 19-byte header (timestamp u32, type u8, server_id u32, length u32,
//! next position u32, flags u16) and a body; with checksums, the body's last 4 bytes are the
//! CRC-32 of the event before them. The format description (type 15) ends with the checksum
//! algorithm (1 byte: 0 off, 1 CRC-32) and its own CRC. A Gtid_list (163) body: a count u32
//! (low 28 bits), then count times domain u32, server u32, seq u64. A GTID event (162) body
//! starts with seq u64 and domain u32; its server is the header's.

use std::io::Read;

use super::state::GtidState;
use super::{GTID_EVENT, Gtid, HEADER, MAX_EVENT, START_ENCRYPTION_EVENT, read_full, read_magic};
use crate::error::{Error, Result};

const FORMAT_DESCRIPTION: u8 = 15;
const GTID_LIST: u8 = 163;
/// Largest body of an event read whole (format description, GTID, Gtid_list).
const SMALL_BODY: u64 = 1 << 20;

/// One transaction: its GTID, its time (the GTID event's, seconds since the epoch) and the
/// position of its GTID event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub gtid: Gtid,
    pub time: u32,
    pub position: u64,
}

/// What a binlog file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The server id of its format description.
    pub server_id: u32,
    /// The binlog state at its start (its Gtid_list event).
    pub start: GtidState,
    /// The state at its end: the start with every GTID of the file applied.
    pub end: GtidState,
    pub transactions: Vec<Transaction>,
    pub first_event_time: Option<u32>,
    pub last_event_time: Option<u32>,
    /// Whether its events carry CRC-32 checksums (each one was checked).
    pub checksums: bool,
    /// Bytes read (the file's size).
    pub size: u64,
}

fn bad(what: String) -> Error {
    Error::format("binlog", what)
}

/// Reads a whole binlog file. Errors: a missing magic, a truncated or oversized event, a
/// checksum that does not match, an encrypted file.
pub fn summarize(mut input: impl Read) -> Result<Summary> {
    read_magic(&mut input)?;
    let mut s = Summary::default();
    let mut pos = 4u64;
    let mut checksums: Option<bool> = None;
    let mut header = [0u8; HEADER];
    loop {
        match read_full(&mut input, &mut header)? {
            0 => break,
            HEADER => {}
            _ => return Err(bad(format!("truncated event header at {pos}"))),
        }
        let time = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let kind = header[4];
        let server = u32::from_le_bytes(header[5..9].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(header[9..13].try_into().expect("4 bytes"));
        if (len as usize) < HEADER || len > MAX_EVENT {
            return Err(bad(format!("event at {pos} has a bad length {len}")));
        }
        if kind == START_ENCRYPTION_EVENT {
            return Err(bad(
                "the binlog is encrypted: its events cannot be read without the server's key"
                    .into(),
            ));
        }
        let body_len = u64::from(len) - HEADER as u64;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        let small = matches!(kind, FORMAT_DESCRIPTION | GTID_EVENT | GTID_LIST);
        let body: Vec<u8> = if small {
            if body_len > SMALL_BODY {
                return Err(bad(format!("event at {pos} of type {kind} is too long")));
            }
            let mut b = vec![0u8; body_len as usize];
            if read_full(&mut input, &mut b)? != b.len() {
                return Err(bad(format!("truncated event at {pos}")));
            }
            b
        } else {
            Vec::new()
        };
        if kind == FORMAT_DESCRIPTION && checksums.is_none() {
            // checksum_alg, then the CRC (when on).
            let alg = body_len
                .checked_sub(5)
                .and_then(|i| body.get(i as usize))
                .copied();
            checksums = Some(alg == Some(1));
            s.server_id = server;
        }
        let with_crc = checksums == Some(true);
        let crc_len = if with_crc { 4 } else { 0 };
        let payload_len = body_len
            .checked_sub(crc_len)
            .ok_or_else(|| bad(format!("event at {pos} is shorter than its checksum")))?;
        let stored_crc = if small {
            crc.update(&body[..payload_len as usize]);
            body[payload_len as usize..].to_vec()
        } else {
            let copied = std::io::copy(&mut (&mut input).take(payload_len), &mut CrcSink(&mut crc))
                .map_err(|e| bad(e.to_string()))?;
            let mut tail = vec![0u8; crc_len as usize];
            if copied != payload_len || read_full(&mut input, &mut tail)? != tail.len() {
                return Err(bad(format!("truncated event at {pos}")));
            }
            tail
        };
        if with_crc {
            let want = u32::from_le_bytes(stored_crc[..4].try_into().expect("4 bytes"));
            if crc.finalize() != want {
                return Err(bad(format!(
                    "event at {pos} (type {kind}) fails its CRC-32 checksum"
                )));
            }
        }
        let body = &body[..body.len().min(payload_len as usize)];
        match kind {
            GTID_LIST => {
                let count = body
                    .get(..4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) & 0x0fff_ffff)
                    .ok_or_else(|| bad(format!("short Gtid_list event at {pos}")))?;
                for i in 0..count as usize {
                    let at = 4 + i * 16;
                    let e = body
                        .get(at..at + 16)
                        .ok_or_else(|| bad(format!("short Gtid_list event at {pos}")))?;
                    let g = Gtid {
                        domain: u32::from_le_bytes(e[0..4].try_into().expect("4 bytes")),
                        server: u32::from_le_bytes(e[4..8].try_into().expect("4 bytes")),
                        seq: u64::from_le_bytes(e[8..16].try_into().expect("8 bytes")),
                    };
                    if s.transactions.is_empty() {
                        s.start.apply(g);
                    }
                }
            }
            GTID_EVENT => {
                let b = body
                    .get(..12)
                    .ok_or_else(|| bad(format!("short GTID event at {pos}")))?;
                let gtid = Gtid {
                    seq: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
                    domain: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
                    server,
                };
                s.transactions.push(Transaction {
                    gtid,
                    time,
                    position: pos,
                });
            }
            _ => {}
        }
        if time != 0 {
            s.first_event_time.get_or_insert(time);
            s.last_event_time = Some(time);
        }
        pos += u64::from(len);
    }
    s.end = s.start.clone();
    for t in &s.transactions {
        s.end.apply(t.gtid);
    }
    s.checksums = checksums == Some(true);
    s.size = pos;
    Ok(s)
}

/// The binlog state at the start of a binlog file (its Gtid_list event), reading only its first
/// events.
pub fn start_state(mut input: impl Read) -> Result<GtidState> {
    read_magic(&mut input)?;
    let mut header = [0u8; HEADER];
    for _ in 0..8 {
        if read_full(&mut input, &mut header)? != HEADER {
            break;
        }
        let kind = header[4];
        let len = u32::from_le_bytes(header[9..13].try_into().expect("4 bytes"));
        if (len as usize) < HEADER || u64::from(len) > SMALL_BODY {
            return Err(bad(format!("bad event length {len} at the file's start")));
        }
        let mut body = vec![0u8; len as usize - HEADER];
        if read_full(&mut input, &mut body)? != body.len() {
            break;
        }
        match kind {
            GTID_LIST => {
                let mut whole = header.to_vec();
                whole.extend_from_slice(&body);
                let mut f = super::MAGIC.to_vec();
                f.extend(whole);
                return Ok(summarize(&f[..])?.start);
            }
            GTID_EVENT | START_ENCRYPTION_EVENT => break,
            _ => {}
        }
    }
    Ok(GtidState::default())
}

/// A writer that feeds a CRC.
struct CrcSink<'a>(&'a mut crc32fast::Hasher);

impl std::io::Write for CrcSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::binlog::MAGIC;

    /// An event with a CRC-32 (or none).
    fn event(time: u32, kind: u8, server: u32, body: &[u8], crc: bool) -> Vec<u8> {
        let len = HEADER + body.len() + if crc { 4 } else { 0 };
        let mut e = time.to_le_bytes().to_vec();
        e.push(kind);
        e.extend_from_slice(&server.to_le_bytes());
        e.extend_from_slice(&(len as u32).to_le_bytes());
        e.extend_from_slice(&[0u8; 6]);
        e.extend_from_slice(body);
        if crc {
            let c = crc32fast::hash(&e);
            e.extend_from_slice(&c.to_le_bytes());
        }
        e
    }

    fn file(crc: bool) -> Vec<u8> {
        let mut fde = vec![7u8; 90];
        fde.push(u8::from(crc));
        let mut f = MAGIC.to_vec();
        f.extend(event(100, FORMAT_DESCRIPTION, 1, &fde, crc));
        let mut list = 2u32.to_le_bytes().to_vec();
        for (d, s, n) in [(0u32, 1u32, 5u64), (1, 2, 9)] {
            list.extend(d.to_le_bytes());
            list.extend(s.to_le_bytes());
            list.extend(n.to_le_bytes());
        }
        f.extend(event(100, GTID_LIST, 1, &list, crc));
        let mut gtid = 6u64.to_le_bytes().to_vec();
        gtid.extend(0u32.to_le_bytes());
        gtid.push(0);
        f.extend(event(200, GTID_EVENT, 1, &gtid, crc));
        f.extend(event(200, 30, 1, &[1u8; 300], crc));
        f.extend(event(201, 16, 1, &[0u8; 8], crc));
        f
    }

    #[test]
    fn a_file_is_summarized_and_checked() {
        for crc in [true, false] {
            let f = file(crc);
            let s = summarize(&f[..]).unwrap();
            assert_eq!(s.start.canonical(), "0-1-5,1-2-9");
            assert_eq!(s.end.canonical(), "0-1-6,1-2-9");
            assert_eq!(s.transactions.len(), 1);
            assert_eq!(s.transactions[0].gtid.to_string(), "0-1-6");
            assert_eq!(s.transactions[0].time, 200);
            assert_eq!(
                (s.first_event_time, s.last_event_time),
                (Some(100), Some(201))
            );
            assert_eq!(s.checksums, crc);
            assert_eq!(s.size, f.len() as u64);
            assert_eq!(s.server_id, 1);
            for cut in [3, 30, f.len() - 2] {
                assert!(summarize(&f[..cut]).is_err(), "cut at {cut}");
            }
        }
        let mut rotten = file(true);
        let at = rotten.len() - 100;
        rotten[at] ^= 1;
        let err = summarize(&rotten[..]).unwrap_err();
        assert!(err.to_string().contains("CRC-32"), "{err}");
    }
}

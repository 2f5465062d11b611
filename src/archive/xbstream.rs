//! The xbstream (mbstream) format: an incremental parser that checks every chunk; the
//! encoder for fixtures is in [`encode`].
//!
//! Little-endian. Each chunk: magic `XBSTCK01` (8), flags (1, bit 0 = ignorable), type (1),
//! path length (u32), path, then by type:
//! - `E` (end of file): nothing more;
//! - `P` (payload): payload length (u64), offset in the target file (u64), CRC-32 of the
//!   payload (u32), payload;
//! - `S` (sparse; Percona XtraBackup 8.0/8.4 sends page-compressed tables so): map count
//!   (u32), payload length (u64), offset (u64), CRC-32 (u32) of the raw map then the payload,
//!   the map (`count` entries of skip u32, len u32), payload. From `offset`, each entry
//!   leaves a hole of `skip` bytes (zeros, not sent) then holds its next `len` payload bytes;
//!   the payload length must be the sum of the `len`s. A last entry `{skip, 0}` is a hole at
//!   the end of the file, which still reaches `offset + Σskip + Σlen`.
//!
//! Chunks of several files may interleave (`--parallel`), so callers keep per-path state.
//!
//! The parser is a plain state machine fed with byte slices cut anywhere; it never buffers
//! more than one chunk header (an `S` chunk's map is part of it, at most [`MAX_SPARSE_MAP`]
//! entries), and hands payload bytes out as they arrive, holes as [`Event::Hole`].

use crate::error::{Error, Result};

/// Chunk magic.
pub const MAGIC: &[u8; 8] = b"XBSTCK01";
const FIXED: usize = 14;
const PAYLOAD_FIELDS: usize = 20;
/// Longest path accepted (the server's own limit is far below).
pub const MAX_PATH: usize = 4096;
/// Largest payload accepted in one chunk (mbstream writes at most 10 MiB by default).
pub const MAX_PAYLOAD: u64 = 1 << 30;
/// Most entries accepted in a sparse chunk's map (8 MiB of header at most; xtrabackup writes
/// one entry per run of data of a chunk, far fewer).
pub const MAX_SPARSE_MAP: u32 = 1 << 20;

/// What the parser reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Payload bytes of `path`, to be written at `offset` (pieces of one chunk arrive in order).
    Data {
        path: &'a str,
        offset: u64,
        data: &'a [u8],
    },
    /// A hole of a sparse chunk: `len` bytes of `path` at `offset` are zeros, not sent (the
    /// file reaches at least `offset + len`, even when nothing follows).
    Hole {
        path: &'a str,
        offset: u64,
        len: u64,
    },
    /// A payload or sparse chunk of `path` is complete and its CRC-32 checked.
    ChunkDone { path: &'a str },
    /// `path` is complete.
    EndOfFile { path: &'a str },
}

enum State {
    Header,
    /// The data of a `P` chunk (one entry without a hole) or an `S` chunk (its map).
    Payload {
        path: String,
        /// Where the next hole or bytes go in the file.
        pos: u64,
        map: Vec<(u32, u32)>,
        /// The map entry to start next.
        next: usize,
        /// Bytes of the current entry still to come.
        left: u64,
        expected_crc: u32,
        crc: crc32fast::Hasher,
    },
}

/// Incremental xbstream parser.
pub struct Parser {
    state: State,
    header: Vec<u8>,
    chunks: u64,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("4 bytes"))
}
fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// Checks that `path` is a plain relative path inside its target dir.
pub fn check_path(path: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::format(
            "xbstream",
            format!("refusing path {path:?}: {why}"),
        ))
    };
    if path.is_empty() {
        return bad("empty");
    }
    if path.starts_with('/') {
        return bad("absolute");
    }
    if path.contains('\0') {
        return bad("NUL byte");
    }
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return bad("empty, `.` or `..` component");
        }
    }
    Ok(())
}

impl Parser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Parser {
            state: State::Header,
            header: Vec::with_capacity(64),
            chunks: 0,
        }
    }

    /// Chunks parsed so far.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// The current header's path length (its fixed part is in).
    fn path_len(&self) -> usize {
        le_u32(&self.header[10..14]) as usize
    }

    /// How long the current header is, as far as its bytes so far tell (an `S` header's map
    /// count comes after its path; then its length is known).
    fn header_len(&self) -> usize {
        if self.header.len() < FIXED {
            return FIXED;
        }
        let at = FIXED + self.path_len();
        match self.header[9] {
            b'P' => at + PAYLOAD_FIELDS,
            b'S' if self.header.len() < at + 4 => at + 4,
            b'S' => at + 4 + PAYLOAD_FIELDS + 8 * le_u32(&self.header[at..at + 4]) as usize,
            _ => at,
        }
    }

    /// Feeds bytes; `on` receives the events. An error is final.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        on: &mut impl FnMut(Event<'_>) -> Result<()>,
    ) -> Result<()> {
        while !input.is_empty() {
            match &mut self.state {
                State::Header => {
                    let want = self.header_len();
                    let take = (want - self.header.len()).min(input.len());
                    self.header.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.header.len() == FIXED {
                        self.check_fixed()?;
                    }
                    if self.header.len() > FIXED {
                        self.check_map_count()?;
                    }
                    if self.header.len() >= FIXED && self.header.len() == self.header_len() {
                        self.start_chunk(on)?;
                    }
                }
                State::Payload {
                    path,
                    pos,
                    left,
                    crc,
                    ..
                } => {
                    let take = (*left).min(input.len() as u64) as usize;
                    let data = &input[..take];
                    crc.update(data);
                    on(Event::Data {
                        path,
                        offset: *pos,
                        data,
                    })?;
                    *pos += take as u64;
                    *left -= take as u64;
                    input = &input[take..];
                    self.advance(on)?;
                }
            }
        }
        Ok(())
    }

    /// Past the current entry's bytes: reports the holes of the next entries up to one with
    /// bytes to come, or ends the chunk (checking its CRC-32) after the last.
    fn advance(&mut self, on: &mut impl FnMut(Event<'_>) -> Result<()>) -> Result<()> {
        let State::Payload {
            path,
            pos,
            map,
            next,
            left,
            expected_crc,
            crc,
        } = &mut self.state
        else {
            return Ok(());
        };
        while *left == 0 {
            let Some(&(skip, len)) = map.get(*next) else {
                if crc.clone().finalize() != *expected_crc {
                    return Err(Error::format(
                        "xbstream",
                        format!(
                            "CRC-32 mismatch in a chunk of {path:?} (chunk {})",
                            self.chunks
                        ),
                    ));
                }
                on(Event::ChunkDone { path })?;
                self.chunks += 1;
                self.state = State::Header;
                return Ok(());
            };
            *next += 1;
            if skip > 0 {
                on(Event::Hole {
                    path,
                    offset: *pos,
                    len: u64::from(skip),
                })?;
                *pos += u64::from(skip);
            }
            *left = u64::from(len);
        }
        Ok(())
    }

    fn check_fixed(&self) -> Result<()> {
        if &self.header[..8] != MAGIC {
            return Err(Error::format(
                "xbstream",
                format!("bad chunk magic after {} chunks", self.chunks),
            ));
        }
        let kind = self.header[9];
        if !matches!(kind, b'P' | b'S' | b'E') {
            return Err(Error::format(
                "xbstream",
                format!("unknown chunk type {:#04x}", kind),
            ));
        }
        let path_len = self.path_len();
        if path_len == 0 || path_len > MAX_PATH {
            return Err(Error::format(
                "xbstream",
                format!("bad path length {path_len}"),
            ));
        }
        Ok(())
    }

    /// A sparse map's entry count, checked as soon as it is read (before the map is).
    fn check_map_count(&self) -> Result<()> {
        let at = FIXED + self.path_len();
        if self.header[9] == b'S' && self.header.len() == at + 4 {
            let count = le_u32(&self.header[at..at + 4]);
            if count > MAX_SPARSE_MAP {
                return Err(Error::format(
                    "xbstream",
                    format!("sparse map of {count} entries is too large"),
                ));
            }
        }
        Ok(())
    }

    fn start_chunk(&mut self, on: &mut impl FnMut(Event<'_>) -> Result<()>) -> Result<()> {
        let path_len = self.path_len();
        let path = std::str::from_utf8(&self.header[FIXED..FIXED + path_len])
            .map_err(|_| Error::format("xbstream", "path is not UTF-8"))?
            .to_string();
        check_path(&path)?;
        let kind = self.header[9];
        if kind == b'E' {
            self.header.clear();
            on(Event::EndOfFile { path: &path })?;
            self.chunks += 1;
            return Ok(());
        }
        let mut at = FIXED + path_len;
        if kind == b'S' {
            at += 4;
        }
        let f = &self.header[at..at + PAYLOAD_FIELDS];
        let (len, offset, expected_crc) = (le_u64(&f[..8]), le_u64(&f[8..16]), le_u32(&f[16..20]));
        let bad = |what: String| Err(Error::format("xbstream", format!("{what} in {path:?}")));
        if len > MAX_PAYLOAD {
            return bad(format!("payload of {len} bytes"));
        }
        let mut crc = crc32fast::Hasher::new();
        let map = if kind == b'S' {
            let raw = &self.header[at + PAYLOAD_FIELDS..];
            crc.update(raw);
            let map: Vec<(u32, u32)> = raw
                .chunks_exact(8)
                .map(|e| (le_u32(&e[..4]), le_u32(&e[4..])))
                .collect();
            let data: u64 = map.iter().map(|&(_, l)| u64::from(l)).sum();
            let holes: u64 = map.iter().map(|&(s, _)| u64::from(s)).sum();
            if data != len {
                return bad(format!(
                    "sparse chunk of {len} payload bytes whose map holds {data}"
                ));
            }
            if offset.checked_add(holes + data).is_none() {
                return bad("offset overflow".into());
            }
            map
        } else {
            if offset.checked_add(len).is_none() {
                return bad("offset overflow".into());
            }
            vec![(0, len as u32)]
        };
        self.header.clear();
        self.header.shrink_to(1 << 12);
        self.state = State::Payload {
            path,
            pos: offset,
            map,
            next: 0,
            left: 0,
            expected_crc,
            crc,
        };
        self.advance(on)
    }

    /// Fails unless the stream ended on a chunk boundary.
    pub fn finish(&self) -> Result<()> {
        match (&self.state, self.header.is_empty()) {
            (State::Header, true) => Ok(()),
            _ => Err(Error::format(
                "xbstream",
                "truncated: stream ends inside a chunk",
            )),
        }
    }
}

mod encode;
pub use encode::{encode_eof, encode_payload, encode_sparse};

#[cfg(test)]
mod sparse_tests;
#[cfg(test)]
mod tests;

//! The xbstream (mbstream) format: an incremental parser that checks every chunk, and an
//! encoder for fixtures.
//!
//! Little-endian. Each chunk: magic `XBSTCK01` (8), flags (1, bit 0 = ignorable), type (1:
//! `P` payload or `E` end of file), path length (u32), path; for `P` only: payload length
//! (u64), offset in the target file (u64), CRC-32 of the payload (u32), payload. Chunks of
//! several files may interleave (`--parallel`), so callers keep per-path state.
//!
//! The parser is a plain state machine fed with byte slices cut anywhere; it never buffers
//! more than one chunk header, and hands payload bytes out as they arrive.

use crate::error::{Error, Result};

/// Chunk magic.
pub const MAGIC: &[u8; 8] = b"XBSTCK01";
const FIXED: usize = 14;
const PAYLOAD_FIELDS: usize = 20;
/// Longest path accepted (the server's own limit is far below).
pub const MAX_PATH: usize = 4096;
/// Largest payload accepted in one chunk (mbstream writes at most 10 MiB by default).
pub const MAX_PAYLOAD: u64 = 1 << 30;

/// What the parser reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Payload bytes of `path`, to be written at `offset` (pieces of one chunk arrive in order).
    Data {
        path: &'a str,
        offset: u64,
        data: &'a [u8],
    },
    /// A payload chunk of `path` is complete and its CRC-32 checked.
    ChunkDone { path: &'a str },
    /// `path` is complete.
    EndOfFile { path: &'a str },
}

enum State {
    Header,
    Payload {
        path: String,
        offset: u64,
        remaining: u64,
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

    /// How long the current header is, once enough of it is known.
    fn header_len(&self) -> Option<usize> {
        if self.header.len() < FIXED {
            return Some(FIXED);
        }
        let path_len = le_u32(&self.header[10..14]) as usize;
        let extra = if self.header[9] == b'P' {
            PAYLOAD_FIELDS
        } else {
            0
        };
        Some(FIXED + path_len + extra)
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
                    let want = self.header_len().expect("known");
                    let take = (want - self.header.len()).min(input.len());
                    self.header.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.header.len() == FIXED {
                        self.check_fixed()?;
                    }
                    if self.header.len() >= FIXED
                        && self.header.len() == self.header_len().expect("known")
                    {
                        self.start_chunk(on)?;
                    }
                }
                State::Payload {
                    path,
                    offset,
                    remaining,
                    expected_crc,
                    crc,
                } => {
                    let take = (*remaining).min(input.len() as u64) as usize;
                    let data = &input[..take];
                    crc.update(data);
                    on(Event::Data {
                        path,
                        offset: *offset,
                        data,
                    })?;
                    *offset += take as u64;
                    *remaining -= take as u64;
                    input = &input[take..];
                    if *remaining == 0 {
                        let got = crc.clone().finalize();
                        if got != *expected_crc {
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
                    }
                }
            }
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
        if kind != b'P' && kind != b'E' {
            return Err(Error::format(
                "xbstream",
                format!("unknown chunk type {:#04x}", kind),
            ));
        }
        let path_len = le_u32(&self.header[10..14]) as usize;
        if path_len == 0 || path_len > MAX_PATH {
            return Err(Error::format(
                "xbstream",
                format!("bad path length {path_len}"),
            ));
        }
        Ok(())
    }

    fn start_chunk(&mut self, on: &mut impl FnMut(Event<'_>) -> Result<()>) -> Result<()> {
        let path_len = le_u32(&self.header[10..14]) as usize;
        let path = std::str::from_utf8(&self.header[FIXED..FIXED + path_len])
            .map_err(|_| Error::format("xbstream", "path is not UTF-8"))?
            .to_string();
        check_path(&path)?;
        if self.header[9] == b'E' {
            self.header.clear();
            on(Event::EndOfFile { path: &path })?;
            self.chunks += 1;
            return Ok(());
        }
        let f = &self.header[FIXED + path_len..FIXED + path_len + PAYLOAD_FIELDS];
        let (len, offset, expected_crc) = (le_u64(&f[..8]), le_u64(&f[8..16]), le_u32(&f[16..20]));
        self.header.clear();
        if len > MAX_PAYLOAD {
            return Err(Error::format(
                "xbstream",
                format!("payload of {len} bytes in {path:?} is too large"),
            ));
        }
        offset
            .checked_add(len)
            .ok_or_else(|| Error::format("xbstream", format!("offset overflow in {path:?}")))?;
        if len == 0 {
            if expected_crc != 0 {
                return Err(Error::format(
                    "xbstream",
                    format!("CRC-32 mismatch in an empty chunk of {path:?}"),
                ));
            }
            on(Event::ChunkDone { path: &path })?;
            self.chunks += 1;
            return Ok(());
        }
        self.state = State::Payload {
            path,
            offset,
            remaining: len,
            expected_crc,
            crc: crc32fast::Hasher::new(),
        };
        Ok(())
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

/// Encodes one payload chunk (fixtures, fuzz seeds).
pub fn encode_payload(path: &str, offset: u64, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    out.push(0);
    out.push(b'P');
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(data);
}

/// Encodes one end-of-file chunk.
pub fn encode_eof(path: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    out.push(0);
    out.push(b'E');
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
}

#[cfg(test)]
mod tests;

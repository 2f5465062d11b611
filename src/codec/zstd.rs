//! zstd in both directions ([`ZstdCompress`], [`ZstdDecompress`]) on the zstd library:
//! compression runs its own worker threads (zstdmt) so both cores work; decompression reports
//! a stream that ends inside a frame as truncated.

use bytes::Bytes;
use zstd::stream::raw::{CParameter, Decoder, Encoder, InBuffer, Operation, OutBuffer};

use super::{CHUNK_SIZE, Transform};
use crate::error::{Error, Result};

/// zstd's magic, the first 4 bytes of a frame.
pub const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn err(e: std::io::Error) -> Error {
    Error::stage("zstd", e.to_string())
}

/// zstd compression at `level` with `workers` threads of its own (0: in the caller's thread),
/// on zstd's streaming API into a fixed output buffer: it emits chunks of [`CHUNK_SIZE`],
/// each its own allocation, however much output the workers have ready at once (a writer
/// into a growing `Vec` took up to 16 MiB per push, which then went down the pipes whole).
pub struct ZstdCompress {
    enc: Encoder<'static>,
    buf: Vec<u8>,
    filled: usize,
    finished: bool,
}

impl ZstdCompress {
    /// A compressor.
    pub fn new(level: i32, workers: u32) -> Result<Self> {
        let mut enc = Encoder::new(level).map_err(err)?;
        if workers > 0 {
            enc.set_parameter(CParameter::NbWorkers(workers))
                .map_err(err)?;
        }
        Ok(ZstdCompress {
            enc,
            buf: vec![0u8; CHUNK_SIZE],
            filled: 0,
            finished: false,
        })
    }

    /// Emits the output buffer when full (`all`: when it holds anything).
    fn emit(&mut self, all: bool, out: &mut Vec<Bytes>) {
        if self.filled == self.buf.len() || (all && self.filled > 0) {
            out.push(Bytes::copy_from_slice(&self.buf[..self.filled]));
            self.filled = 0;
        }
    }
}

impl Transform for ZstdCompress {
    fn name(&self) -> &'static str {
        "zstd"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        if self.finished {
            return Err(Error::stage("zstd", "push after finish"));
        }
        let mut inb = InBuffer::around(&input);
        while inb.pos() < input.len() {
            let mut outb = OutBuffer::around_pos(&mut self.buf[..], self.filled);
            self.enc.run(&mut inb, &mut outb).map_err(err)?;
            self.filled = outb.pos();
            self.emit(false, out);
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        if std::mem::replace(&mut self.finished, true) {
            return Err(Error::stage("zstd", "finished twice"));
        }
        loop {
            let mut outb = OutBuffer::around_pos(&mut self.buf[..], self.filled);
            let left = self.enc.finish(&mut outb, true).map_err(err)?;
            self.filled = outb.pos();
            self.emit(left == 0, out);
            if left == 0 {
                return Ok(());
            }
        }
    }
    fn max_push(&self) -> usize {
        CHUNK_SIZE
    }
}

/// zstd decompression of one or more frames; input that ends inside a frame is an error.
pub struct ZstdDecompress {
    dec: Decoder<'static>,
    buf: Vec<u8>,
    /// The last frame is complete (nothing fed yet counts as incomplete).
    frame_done: bool,
    fed: bool,
}

impl ZstdDecompress {
    /// A decompressor.
    pub fn new() -> Result<Self> {
        Ok(ZstdDecompress {
            dec: Decoder::new().map_err(err)?,
            buf: vec![0u8; CHUNK_SIZE],
            frame_done: false,
            fed: false,
        })
    }
}

impl Transform for ZstdDecompress {
    fn name(&self) -> &'static str {
        "zstd"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let mut inb = InBuffer::around(&input);
        loop {
            let mut outb = OutBuffer::around(&mut self.buf[..]);
            let hint = self.dec.run(&mut inb, &mut outb).map_err(|e| {
                Error::stage(
                    "zstd",
                    format!("{e} (wrong key, or not a zstd stream: a corrupt archive)"),
                )
            })?;
            let n = outb.pos();
            if n > 0 {
                out.push(Bytes::copy_from_slice(&self.buf[..n]));
            }
            // An empty push only drains: the hint it gets back describes no new input.
            if !input.is_empty() || n > 0 {
                self.fed = true;
                self.frame_done = hint == 0;
            }
            // More output may wait while the buffer came back full.
            if inb.pos() >= input.len() && n < self.buf.len() {
                return Ok(());
            }
        }
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        self.push(Bytes::new(), out)?;
        if !self.fed || !self.frame_done {
            return Err(Error::stage(
                "zstd",
                "truncated: the stream ends inside a frame",
            ));
        }
        Ok(())
    }
    fn max_push(&self) -> usize {
        // Zeroed pages inflate ~1000:1: small slices keep one push's output bounded.
        8 << 10
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::run_to_vec;

    #[test]
    fn round_trip_cut_anywhere_and_truncation() {
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| format!("row {} {}\n", i % 1000, i % 7).into_bytes())
            .chain(std::iter::repeat_n(0u8, 5 << 20))
            .collect();
        let z = run_to_vec(&mut ZstdCompress::new(1, 2).unwrap(), &data, 777_777).unwrap();
        assert_eq!(&z[..4], &MAGIC);
        assert!(z.len() < data.len() / 4);
        for cut in [1, 4096, 1 << 20] {
            let back = run_to_vec(&mut ZstdDecompress::new().unwrap(), &z, cut).unwrap();
            assert_eq!(back, data, "cut {cut}");
        }
        // The command-line tool (scripts/setup.sh installs it) reads it.
        let out = std::process::Command::new("zstd")
            .args(["-d", "-c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                let mut stdin = c.stdin.take().unwrap();
                let z2 = z.clone();
                let t = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &z2));
                let o = c.wait_with_output();
                let _ = t.join();
                o
            });
        assert_eq!(out.unwrap().stdout, data, "zstd -d reads our output");
        for cut_at in [z.len() - 1, z.len() / 2, 3] {
            assert!(
                run_to_vec(&mut ZstdDecompress::new().unwrap(), &z[..cut_at], 4096).is_err(),
                "truncated at {cut_at}"
            );
        }
        assert!(run_to_vec(&mut ZstdDecompress::new().unwrap(), b"", 1).is_err());
        assert!(run_to_vec(&mut ZstdDecompress::new().unwrap(), b"not zstd at all", 4).is_err());
    }
}

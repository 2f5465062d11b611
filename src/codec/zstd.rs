//! zstd in both directions ([`ZstdCompress`], [`ZstdDecompress`]) on the zstd library:
//! compression runs its own worker threads (zstdmt) so both cores work; decompression reports
//! a stream that ends inside a frame as truncated.

use std::io::Write;

use bytes::Bytes;
use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

use super::{CHUNK_SIZE, Transform};
use crate::error::{Error, Result};

/// zstd's magic, the first 4 bytes of a frame.
pub const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn err(e: std::io::Error) -> Error {
    Error::stage("zstd", e.to_string())
}

/// zstd compression at `level` with `workers` threads of its own (0: in the caller's thread).
pub struct ZstdCompress {
    enc: Option<zstd::stream::write::Encoder<'static, Vec<u8>>>,
}

impl ZstdCompress {
    /// A compressor.
    pub fn new(level: i32, workers: u32) -> Result<Self> {
        let mut enc = zstd::stream::write::Encoder::new(Vec::with_capacity(2 * CHUNK_SIZE), level)
            .map_err(err)?;
        if workers > 0 {
            enc.multithread(workers).map_err(err)?;
        }
        Ok(ZstdCompress { enc: Some(enc) })
    }
}

fn take_if_full(buf: &mut Vec<u8>, min: usize, out: &mut Vec<Bytes>) {
    if buf.len() >= min.max(1) {
        let full = std::mem::replace(buf, Vec::with_capacity(2 * CHUNK_SIZE));
        out.push(Bytes::from(full));
    }
}

impl Transform for ZstdCompress {
    fn name(&self) -> &'static str {
        "zstd"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let enc = self
            .enc
            .as_mut()
            .ok_or_else(|| Error::stage("zstd", "push after finish"))?;
        enc.write_all(&input).map_err(err)?;
        take_if_full(enc.get_mut(), CHUNK_SIZE, out);
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        let enc = self
            .enc
            .take()
            .ok_or_else(|| Error::stage("zstd", "finished twice"))?;
        let mut rest = enc.finish().map_err(err)?;
        take_if_full(&mut rest, 1, out);
        Ok(())
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
                let t = std::thread::spawn(move || stdin.write_all(&z2));
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

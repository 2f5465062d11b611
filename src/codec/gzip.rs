//! gzip in both directions ([`GzipCompress`], [`GzipDecompress`]) on flate2's zlib-rs backend.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzDecoder, GzEncoder};

use super::{CHUNK_SIZE, Transform};
use crate::error::{Error, Result};

/// gzip compression (one member); with zlib-rs, `level` 2 compresses about like `gzip --fast`.
pub struct GzipCompress {
    enc: Option<GzEncoder<Vec<u8>>>,
}

impl GzipCompress {
    /// A compressor at `level` (0..=9).
    pub fn new(level: u32) -> Self {
        let buf = Vec::with_capacity(CHUNK_SIZE + 64 * 1024);
        GzipCompress {
            enc: Some(GzEncoder::new(buf, Compression::new(level))),
        }
    }
}

fn take_if_full(buf: &mut Vec<u8>, min: usize, out: &mut Vec<Bytes>) {
    if buf.len() >= min.max(1) {
        let full = std::mem::replace(buf, Vec::with_capacity(CHUNK_SIZE + 64 * 1024));
        out.push(Bytes::from(full));
    }
}

impl Transform for GzipCompress {
    fn name(&self) -> &'static str {
        "gzip"
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let enc = self
            .enc
            .as_mut()
            .ok_or_else(|| Error::stage("gzip", "push after finish"))?;
        enc.write_all(&input)
            .map_err(|e| Error::stage("gzip", e.to_string()))?;
        take_if_full(enc.get_mut(), CHUNK_SIZE, out);
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        let enc = self
            .enc
            .take()
            .ok_or_else(|| Error::stage("gzip", "finished twice"))?;
        let mut rest = enc
            .finish()
            .map_err(|e| Error::stage("gzip", e.to_string()))?;
        take_if_full(&mut rest, 1, out);
        Ok(())
    }
}

/// gzip decompression. Truncated input or trailing garbage is an error.
pub struct GzipDecompress {
    dec: Option<GzDecoder<Vec<u8>>>,
    seen: u64,
}

impl Default for GzipDecompress {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipDecompress {
    /// A decompressor.
    pub fn new() -> Self {
        GzipDecompress {
            dec: Some(GzDecoder::new(Vec::with_capacity(CHUNK_SIZE + 64 * 1024))),
            seen: 0,
        }
    }
}

/// Input handed to one gunzip push: deflate inflates at most ~1032:1, so one push produces at
/// most ~8 MiB however the data compresses.
pub const GUNZIP_MAX_PUSH: usize = 8 << 10;

impl Transform for GzipDecompress {
    fn name(&self) -> &'static str {
        "gunzip"
    }
    fn max_push(&self) -> usize {
        GUNZIP_MAX_PUSH
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let dec = self
            .dec
            .as_mut()
            .ok_or_else(|| Error::stage("gunzip", "push after finish"))?;
        let mut rest: &[u8] = &input;
        while !rest.is_empty() {
            let at_start = self.seen < 64;
            let n = dec.write(rest).map_err(|e| {
                let hint = if at_start {
                    " (wrong des3 password, or not a gzip stream)"
                } else {
                    ""
                };
                Error::format("gzip", format!("{e}{hint}"))
            })?;
            self.seen += n as u64;
            if n == 0 {
                return Err(Error::format(
                    "gzip",
                    "trailing data after the end of the gzip stream",
                ));
            }
            rest = &rest[n..];
            take_if_full(dec.get_mut(), CHUNK_SIZE, out);
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        let dec = self
            .dec
            .take()
            .ok_or_else(|| Error::stage("gunzip", "finished twice"))?;
        let mut rest = dec
            .finish()
            .map_err(|e| Error::format("gzip", format!("truncated or corrupt stream: {e}")))?;
        take_if_full(&mut rest, 1, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::run_to_vec;
    use proptest::prelude::*;

    /// Zeroed extents (as in InnoDB files) inflate ~1000:1: one stored chunk must not turn into
    /// hundreds of MiB held before the first byte is sent on.
    #[test]
    fn a_zero_bomb_chunk_is_inflated_in_bounded_batches() {
        let zeros = vec![0u8; 256 << 20];
        let z = run_to_vec(&mut GzipCompress::new(2), &zeros, 1 << 20).unwrap();
        assert!(z.len() < 1 << 20, "{}", z.len());
        let mut t = GzipDecompress::new();
        let (mut out, mut total, mut largest) = (Vec::new(), 0usize, 0usize);
        crate::codec::push_sliced(&mut t, Bytes::from(z), &mut out, &mut |out| {
            let batch: usize = out.drain(..).map(|b| b.len()).sum();
            largest = largest.max(batch);
            total += batch;
            Ok(())
        })
        .unwrap();
        t.finish(&mut out).unwrap();
        total += out.iter().map(|b| b.len()).sum::<usize>();
        assert_eq!(total, zeros.len());
        assert!(largest <= 9 << 20, "one push produced {largest} bytes");
    }

    proptest! {
        #[test]
        fn round_trip_any_cut(data in proptest::collection::vec(any::<u8>(), 0..20000), cut in 1usize..5000) {
            let z = run_to_vec(&mut GzipCompress::new(1), &data, cut).unwrap();
            let back = run_to_vec(&mut GzipDecompress::new(), &z, cut).unwrap();
            prop_assert_eq!(back, data);
        }
    }

    #[test]
    fn truncated_is_an_error() {
        let z = run_to_vec(&mut GzipCompress::new(1), &[7u8; 10000], 100).unwrap();
        for cut in [1, 10, z.len() / 2, z.len() - 1] {
            assert!(
                run_to_vec(&mut GzipDecompress::new(), &z[..cut], 7).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn gunzip_reads_gzip_fast_output() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut child = std::process::Command::new("gzip")
            .arg("--fast")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip is installed");
        let mut stdin = child.stdin.take().unwrap();
        let d2 = data.clone();
        let w = std::thread::spawn(move || stdin.write_all(&d2));
        let z = child.wait_with_output().unwrap().stdout;
        w.join().unwrap().unwrap();
        assert_eq!(
            run_to_vec(&mut GzipDecompress::new(), &z, 999).unwrap(),
            data
        );
    }
}

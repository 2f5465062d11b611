//! Codecs: byte transforms (gzip, zstd, des3, age, digests), the chain they form ([`chain`])
//! and its conf options ([`options`]), and the driver that runs each one on its own thread,
//! joined to its neighbours by bounded pipes.
//!
//! A [`Transform`] is plain synchronous code that knows nothing of async: it can be fuzzed and
//! property-tested alone. [`spawn_transform`] runs it on a blocking thread between two
//! [`Pipe`]s, so that CPU-heavy stages run concurrently (both cores work) and a slow stage
//! pushes back on its upstream (a pipe holds at most [`PIPE_CAPACITY`] chunks).

pub mod age;
pub mod chain;
pub mod des3;
pub mod digest;
pub mod gzip;
pub mod meter;
pub mod options;
pub mod sha1;
pub mod zstd;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
pub use meter::Meter;

/// Chunks a pipe holds before its writer waits.
pub const PIPE_CAPACITY: usize = 4;

/// Largest chunk a stage emits; keeps memory per pipe at `PIPE_CAPACITY * CHUNK_SIZE` or so.
pub const CHUNK_SIZE: usize = 1 << 20;

/// The sending end of a pipe.
pub type PipeTx = mpsc::Sender<Bytes>;
/// The receiving end of a pipe. End of input (`None`) is not success: the driver decides.
pub type PipeRx = mpsc::Receiver<Bytes>;

/// A bounded pipe between two stages.
pub fn pipe() -> (PipeTx, PipeRx) {
    mpsc::channel(PIPE_CAPACITY)
}

/// A synchronous byte transform: bytes in, bytes out, then a final flush.
///
/// Contract: `push` may be called any number of times with chunks cut anywhere; `finish` is
/// called once at end of input and must report truncated or invalid input as an error. The
/// output of a transform never depends on how its input was cut.
pub trait Transform: Send + 'static {
    /// The stage's name, for error messages.
    fn name(&self) -> &'static str;
    /// Consumes `input`, appending produced chunks to `out`.
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()>;
    /// Flushes the final output. Called once, at end of input.
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()>;
    /// The largest input slice the driver hands to one `push`, for transforms whose output can
    /// be far larger than their input (gunzip: zeroed InnoDB extents inflate ~1000:1), so that
    /// what one push produces, held until it is sent, stays bounded.
    fn max_push(&self) -> usize {
        usize::MAX
    }
}

/// A transform chosen at run time (a chain is a list of them).
pub type BoxedTransform = Box<dyn Transform>;

/// A stage whose codec pulls its input (its library wants a reader: age decryption): given the
/// reader of its input, it returns the reader of its output.
pub type PullStage =
    Box<dyn FnOnce(Box<dyn std::io::Read + Send>) -> Result<Box<dyn std::io::Read + Send>> + Send>;

/// One stage of a chain.
pub enum Stage {
    /// A push transform.
    Push(BoxedTransform),
    /// A pull stage and its name.
    Pull(&'static str, PullStage),
}

impl Stage {
    /// The stage's name, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Push(t) => t.name(),
            Stage::Pull(n, _) => n,
        }
    }
}

/// Runs `stages` over a whole buffer (tests, fuzzing): push transforms fed in `cut`-byte
/// pieces, pull stages read to the end.
pub fn run_stages(stages: Vec<Stage>, input: &[u8], cut: usize) -> Result<Vec<u8>> {
    let mut data = input.to_vec();
    for s in stages {
        data = match s {
            Stage::Push(mut t) => run_to_vec(&mut t, &data, cut)?,
            Stage::Pull(name, f) => {
                let mut r = f(Box::new(std::io::Cursor::new(data)))?;
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut r, &mut v)
                    .map_err(|e| Error::stage(name, e.to_string()))?;
                v
            }
        };
    }
    Ok(data)
}

/// Runs a pull stage on a blocking thread from `rx` to `tx` (the counterpart of
/// [`spawn_transform`]).
///
/// Its busy time is the time spent reading its output less the time its input reader waited
/// on the pipe.
pub fn spawn_pull(
    name: &'static str,
    stage: PullStage,
    rx: PipeRx,
    tx: PipeTx,
    meter: Arc<Meter>,
) -> JoinHandle<Result<()>> {
    tokio::task::spawn_blocking(move || {
        let input = PipeReader::new(rx);
        let waited = input.waited.clone();
        let counted = input.counted.clone();
        let mut r = stage(Box::new(input))?;
        loop {
            let mut buf = vec![0u8; CHUNK_SIZE];
            let mut n = 0;
            let started = Instant::now();
            let waited_before = waited.load(Ordering::Relaxed);
            while n < buf.len() {
                match std::io::Read::read(&mut r, &mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::stage(name, e.to_string())),
                }
            }
            let wait = waited.load(Ordering::Relaxed) - waited_before;
            meter.busy(started.elapsed().saturating_sub(Duration::from_nanos(wait)));
            meter.input(counted.swap(0, Ordering::Relaxed) as usize);
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            meter.output(n);
            tx.blocking_send(Bytes::from(buf))
                .map_err(|_| Error::PipeClosed(name))?;
        }
    })
}

impl Transform for BoxedTransform {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        (**self).push(input, out)
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        (**self).finish(out)
    }
    fn max_push(&self) -> usize {
        (**self).max_push()
    }
}

/// Pushes `chunk` into `t` in slices of at most [`Transform::max_push`] bytes, handing the
/// output of each slice to `emit` before pushing the next.
pub fn push_sliced<T: Transform>(
    t: &mut T,
    chunk: Bytes,
    out: &mut Vec<Bytes>,
    emit: &mut impl FnMut(&mut Vec<Bytes>) -> Result<()>,
) -> Result<()> {
    let step = t.max_push().max(1);
    let mut off = 0;
    while off < chunk.len() {
        let end = off.saturating_add(step).min(chunk.len());
        t.push(chunk.slice(off..end), out)?;
        emit(out)?;
        off = end;
    }
    Ok(())
}

/// Runs `t` on a blocking thread from `rx` to `tx`; returns it when its input has ended
/// (so that e.g. a digest can be read) or the first error.
///
/// When the downstream pipe is closed the stage fails with [`Error::PipeClosed`], a secondary
/// error: the stage that closed it reports the cause.
pub fn spawn_transform<T: Transform>(
    mut t: T,
    mut rx: PipeRx,
    tx: PipeTx,
    meter: Arc<Meter>,
) -> JoinHandle<Result<T>> {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let name = t.name();
        while let Some(chunk) = rx.blocking_recv() {
            meter.input(chunk.len());
            let mut working = Instant::now();
            push_sliced(&mut t, chunk, &mut out, &mut |out| {
                meter.busy(working.elapsed());
                let r = send_all(&tx, out, name, &meter);
                working = Instant::now();
                r
            })?;
            meter.busy(working.elapsed());
        }
        meter.time(|| t.finish(&mut out))?;
        send_all(&tx, &mut out, t.name(), &meter)?;
        Ok(t)
    })
}

fn send_all(tx: &PipeTx, out: &mut Vec<Bytes>, name: &'static str, meter: &Meter) -> Result<()> {
    for chunk in out.drain(..) {
        meter.output(chunk.len());
        if !chunk.is_empty() {
            tx.blocking_send(chunk)
                .map_err(|_| Error::PipeClosed(name))?;
        }
    }
    Ok(())
}

/// Runs a transform over a whole buffer, cut into `cut`-byte pieces and pushed as the driver
/// pushes them (tests, fuzzing, benches).
pub fn run_to_vec<T: Transform>(t: &mut T, input: &[u8], cut: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut produced = Vec::new();
    for piece in input.chunks(cut.max(1)) {
        push_sliced(t, Bytes::copy_from_slice(piece), &mut out, &mut |out| {
            produced.extend(out.drain(..).flat_map(|b| b.to_vec()));
            Ok(())
        })?;
    }
    t.finish(&mut out)?;
    produced.extend(out.drain(..).flat_map(|b| b.to_vec()));
    Ok(produced)
}

/// A blocking `std::io::Read` over a pipe, for synchronous consumers (untar, extraction) that
/// run on their own thread.
pub struct PipeReader {
    rx: PipeRx,
    cur: Bytes,
    /// Nanoseconds spent waiting on the pipe (a pull stage's meter takes them off its time).
    waited: Arc<AtomicU64>,
    /// Bytes received (for that meter).
    counted: Arc<AtomicU64>,
}

impl PipeReader {
    /// Reads from `rx`.
    pub fn new(rx: PipeRx) -> Self {
        PipeReader {
            rx,
            cur: Bytes::new(),
            waited: Arc::default(),
            counted: Arc::default(),
        }
    }
}

impl std::io::Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            let t = Instant::now();
            let next = self.rx.blocking_recv();
            self.waited
                .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            match next {
                Some(b) => {
                    self.counted.fetch_add(b.len() as u64, Ordering::Relaxed);
                    self.cur = b
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

//! The pipeline driver: source -> transforms -> digests -> upload (backup), and stored bytes
//! -> digests -> transforms -> consumer (restore), each transform on its own thread, joined
//! by bounded pipes, with one verdict that decides commit or abort.
//!
//! End of input is not success: a crashed source looks like a clean EOF downstream, so an
//! upload commits only when the driver has seen every stage and the source succeed. Memory is
//! the pipes' capacity plus what the source and upload hold (one segment, the parts in flight).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::task::JoinHandle;

use crate::codec::chain::{Keys, RECOGNISE_LEN, decoders};
use crate::codec::digest::{DigestReport, Digests};
use crate::codec::meter::{self, Meter, StageReport};
use crate::codec::{PipeReader, PipeRx, PipeTx, Stage, pipe, spawn_pull, spawn_transform};
use crate::error::{Error, Result};
use crate::store::{StoredObject, Upload};

async fn joined<T>(h: JoinHandle<Result<T>>, name: &'static str) -> Result<T> {
    match h.await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(Error::stage(name, "panicked")),
        Err(_) => Err(Error::stage(name, "cancelled")),
    }
}

/// Keeps the first primary error, else the first secondary one.
fn pick(acc: &mut Option<Error>, r: Result<()>) {
    if let Err(e) = r {
        match acc {
            Some(prev) if !prev.is_secondary() || e.is_secondary() => {}
            _ => *acc = Some(e),
        }
    }
}

/// A running stage.
enum Running {
    Push(JoinHandle<Result<crate::codec::BoxedTransform>>),
    Pull(JoinHandle<Result<()>>),
}

/// The running stages of a row, by name.
type Row = Vec<(&'static str, Running)>;

/// Spawns `stages` in a row from `rx`; returns their handles, the last pipe's end and their
/// meters.
fn spawn_row(stages: Vec<Stage>, mut rx: PipeRx) -> (Row, PipeRx, Vec<Arc<Meter>>) {
    let mut handles = Vec::new();
    let mut meters = Vec::new();
    for stage in stages {
        let (tx, next) = pipe();
        let name = stage.name();
        let meter = Meter::new(name);
        meters.push(meter.clone());
        let running = match stage {
            Stage::Push(t) => Running::Push(spawn_transform(t, rx, tx, meter)),
            Stage::Pull(name, f) => Running::Pull(spawn_pull(name, f, rx, tx, meter)),
        };
        handles.push((name, running));
        rx = next;
    }
    (handles, rx, meters)
}

/// Waits for every stage of a row; the first failure.
async fn join_row(handles: Row) -> Result<()> {
    let mut failure = None;
    for (name, h) in handles {
        let r = match h {
            Running::Push(h) => joined(h, name).await.map(drop),
            Running::Pull(h) => joined(h, name).await,
        };
        pick(&mut failure, r);
    }
    failure.map_or(Ok(()), Err)
}

/// What a stream was stored as.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Digests and length of the stored bytes.
    pub digests: DigestReport,
    /// The objects the upload made visible, in order.
    pub objects: Vec<StoredObject>,
    /// What each stage did, in order (the encoders, the digests, the store).
    pub stages: Vec<StageReport>,
}

/// Runs `produce` (which writes a tar stream to the pipe it is given) through `encoders` and
/// the digests into `upload`. Commits the upload when every stage and the source succeeded;
/// aborts it on any failure.
pub async fn store_stream<T, Fut>(
    produce: impl FnOnce(PipeTx) -> Fut,
    encoders: Vec<Stage>,
    mut upload: Box<dyn Upload>,
) -> Result<(T, Stored)>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let (tx0, rx0) = pipe();
    let source = tokio::spawn(crate::cancel::or_cancelled(produce(tx0)));
    let (row, rx, mut meters) = spawn_row(encoders, rx0);
    let (txd, mut rxd) = pipe();
    let digest_meter = Meter::new("sha1+sha256");
    meters.push(digest_meter.clone());
    let digests = spawn_transform(Digests::new(), rx, txd, digest_meter);
    let store_meter = Meter::new("store");
    meters.push(store_meter.clone());

    let mut sink_result = Ok(());
    loop {
        let chunk = tokio::select! {
            c = rxd.recv() => c,
            _ = crate::cancel::cancelled() => {
                sink_result = Err(Error::Interrupted);
                break;
            }
        };
        let Some(chunk) = chunk else { break };
        store_meter.input(chunk.len());
        let t = Instant::now();
        let written = upload.write(chunk).await;
        store_meter.busy(t.elapsed());
        if let Err(e) = written {
            sink_result = Err(e);
            break;
        }
    }
    drop(rxd);
    // A store that failed (a full disk, a dead S3) is the cause of whatever fails upstream
    // from now on: the source is stopped at once (it may be waiting on the backup tool, which
    // then waits on it; dropping it kills the tool's process group), and its error comes first.
    if sink_result.is_err() {
        source.abort();
    }

    let source = joined(source, "source").await;
    let row = join_row(row).await;
    let digests = joined(digests, "sha1").await;
    let mut failure = None;
    pick(&mut failure, sink_result);
    let (value, digest) = match (source, digests) {
        (Ok(v), Ok(d)) => (Some(v), Some(d.report())),
        (s, d) => {
            pick(&mut failure, s.map(drop));
            pick(&mut failure, d.map(drop));
            (None, None)
        }
    };
    pick(&mut failure, row);
    match (failure, value, digest) {
        (None, Some(v), Some(digests)) => {
            let t = Instant::now();
            let objects = upload.commit().await?;
            store_meter.busy(t.elapsed());
            store_meter.output(objects.iter().map(|o| o.size as usize).sum());
            Ok((
                v,
                Stored {
                    digests,
                    objects,
                    stages: meter::reports(&meters),
                },
            ))
        }
        (failure, _, _) => {
            let what = upload.describe();
            if let Err(e) = upload.abort().await {
                tracing::error!("could not clean up {what}: {e}");
            }
            Err(failure.unwrap_or_else(|| Error::stage("pipeline", "failed")))
        }
    }
}

/// The digests the stored bytes must have (None: not recorded, not checked).
#[derive(Clone, Debug, Default)]
pub struct Expected {
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// Read and hash the rest of the bytes when a decoder stops early, so that a checksum
    /// mismatch (the object changed after it was stored) is told apart from damage the
    /// decoders found in bytes that match their checksum. `verify` does; a restore stops at
    /// once (a wrong key would otherwise download the whole object before saying so).
    pub read_all: bool,
    /// The sums were given by the user (`restore --input - --sha1`), not recorded.
    pub given: bool,
}

impl Expected {
    /// The digests a backup records.
    pub fn recorded(entry: &crate::catalog::Entry) -> Self {
        Expected {
            sha1: entry.sha1.clone(),
            sha256: entry.sha256.clone(),
            read_all: false,
            given: false,
        }
    }
}

/// Hashes the stored bytes and passes them on to the decoders; with `read_all`, goes on
/// hashing when they stopped reading (see [`Expected::read_all`]).
fn spawn_digests(mut rx: PipeRx, tx: PipeTx, read_all: bool) -> JoinHandle<Result<Digests>> {
    tokio::task::spawn_blocking(move || {
        let mut d = Digests::new();
        let mut tx = Some(tx);
        while let Some(chunk) = rx.blocking_recv() {
            d.update(&chunk);
            if let Some(t) = &tx
                && t.blocking_send(chunk).is_err()
            {
                if !read_all {
                    return Err(Error::PipeClosed("sha1"));
                }
                tx = None;
            }
        }
        Ok(d)
    })
}

/// What a fetch found about the stored bytes.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The chain recognised from the bytes (e.g. `des3`).
    pub chain: String,
    pub digests: DigestReport,
}

/// Runs a stored backup's bytes through the digests and the decoders their header calls for
/// ([`decoders`]) into `consume` (a synchronous reader of the tar stream, on its own thread).
/// Fails if any stage fails or, when `expected_sha1` is given, the SHA-1 of the bytes differs;
/// the caller then removes what `consume` created. Nothing is consumed when the bytes are not
/// recognised.
pub async fn fetch_stream<T: Send + 'static>(
    mut input: BoxStream<'static, Result<Bytes>>,
    expected: &Expected,
    keys: &Keys,
    consume: impl FnOnce(PipeReader) -> Result<T> + Send + 'static,
) -> Result<(T, Fetched)> {
    let mut head: Vec<Bytes> = Vec::new();
    let mut head_len = 0;
    while head_len < RECOGNISE_LEN {
        match input.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                head_len += chunk.len();
                head.push(chunk);
            }
            None => break,
        }
    }
    if head_len == 0 {
        return Err(Error::format(
            "input",
            "the archive is empty (0 bytes): nothing was written to it (is this the output of \
             `backup --output -`?)",
        ));
    }
    let leading: Vec<u8> = head.iter().flat_map(|b| b.iter().copied()).collect();
    let (chain, decoders) = decoders(&leading, keys)?;
    let (tx0, rx0) = pipe();
    let fetch = tokio::spawn(crate::cancel::or_cancelled(async move {
        for chunk in head {
            tx0.send(chunk)
                .await
                .map_err(|_| Error::PipeClosed("fetch"))?;
        }
        while let Some(chunk) = input.next().await {
            tx0.send(chunk?)
                .await
                .map_err(|_| Error::PipeClosed("fetch"))?;
        }
        Ok(())
    }));
    let (txd, rxd) = pipe();
    let digests = spawn_digests(rx0, txd, expected.read_all);
    let (row, rx, _) = spawn_row(decoders, rxd);
    let sink = tokio::task::spawn_blocking(move || consume(PipeReader::new(rx)));

    let fetch = joined(fetch, "fetch").await;
    let digests = joined(digests, "sha1").await.map(|d| d.report());
    let row = join_row(row).await;
    let sink = joined(sink, "extract").await;

    let mut failure = None;
    pick(&mut failure, fetch);
    // A checksum mismatch explains any decoding error that follows it.
    if let Ok(d) = &digests {
        for (name, got, want) in [
            ("sha1", &d.sha1, &expected.sha1),
            ("sha256", &d.sha256, &expected.sha256),
        ] {
            if let Some(want) = want
                && got != want
            {
                pick(
                    &mut failure,
                    Err(Error::format(
                        name,
                        if expected.given {
                            format!(
                                "checksum mismatch: the bytes read have {got}, not the {want} \
                                 given with --{name}"
                            )
                        } else {
                            format!(
                                "checksum mismatch: stored bytes have {got}, the backup recorded \
                                 {want}"
                            )
                        },
                    )),
                );
            }
        }
    }
    let digests = match digests {
        Ok(d) => Some(d),
        Err(e) => {
            pick(&mut failure, Err(e));
            None
        }
    };
    pick(&mut failure, row);
    match (sink, digests) {
        (Ok(v), Some(d)) if failure.is_none() => Ok((v, Fetched { chain, digests: d })),
        (other, _) => {
            pick(&mut failure, other.map(drop));
            Err(failure.expect("an error was picked"))
        }
    }
}

pub mod rate;

#[cfg(test)]
mod tests;

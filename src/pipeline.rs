//! The pipeline driver: source -> gzip -> des3 -> sha1 -> sink, each CPU-heavy stage on its
//! own thread, joined by bounded pipes, and the verdict that decides commit or abort.
//!
//! End of input is not success: a crashed source looks like a clean EOF downstream, so the
//! sink commits only when the driver has seen every stage and the source succeed. Memory is the
//! pipes' capacity plus what the source and sink hold (one segment, the parts in flight).

use std::future::Future;

use tokio::task::JoinHandle;

use crate::config::KeyDerivation;
use crate::error::{Error, Result};
use crate::sink::{Sink, StoredReport};
use crate::stage::des3::Des3Decrypt;
use crate::stage::des3::Des3Encrypt;
use crate::stage::gzip::GzipCompress;
use crate::stage::gzip::GzipDecompress;
use crate::stage::sha1::Sha1Digest;
use crate::stage::{PipeReader, PipeTx, pipe, spawn_transform};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

/// Options of the store chain.
#[derive(Clone)]
pub struct ChainOptions {
    pub gzip_level: u32,
    pub password: Vec<u8>,
    pub kdf: KeyDerivation,
}

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

/// Runs `produce` (which writes a tar stream to the pipe it is given) through gzip, des3 and
/// sha1 into `sink`; commits on success, aborts on any failure.
pub async fn store_stream<T, Fut>(
    produce: impl FnOnce(PipeTx) -> Fut,
    opts: ChainOptions,
    mut sink: Box<dyn Sink>,
) -> Result<(T, StoredReport)>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let (tx0, rx0) = pipe();
    let (tx1, rx1) = pipe();
    let (tx2, rx2) = pipe();
    let (tx3, mut rx3) = pipe();
    let source = tokio::spawn(crate::cancel::or_cancelled(produce(tx0)));
    let gzip = spawn_transform(GzipCompress::new(opts.gzip_level), rx0, tx1);
    let des3 = spawn_transform(Des3Encrypt::new(&opts.password, opts.kdf), rx1, tx2);
    let sha1 = spawn_transform(Sha1Digest::new(), rx2, tx3);

    let mut sink_result = Ok(());
    loop {
        let chunk = tokio::select! {
            c = rx3.recv() => c,
            _ = crate::cancel::cancelled() => {
                sink_result = Err(Error::Interrupted);
                break;
            }
        };
        let Some(chunk) = chunk else { break };
        if let Err(e) = sink.write(chunk).await {
            sink_result = Err(e);
            break;
        }
    }
    drop(rx3);

    let source = joined(source, "source").await;
    let gzip = joined(gzip, "gzip").await.map(drop);
    let des3 = joined(des3, "des3").await.map(drop);
    let sha1 = joined(sha1, "sha1").await;

    let mut failure = None;
    let (value, digest) = match (source, sha1) {
        (Ok(v), Ok(d)) => (Some(v), Some(d)),
        (s, d) => {
            pick(&mut failure, s.map(drop));
            pick(&mut failure, d.map(drop));
            (None, None)
        }
    };
    pick(&mut failure, gzip);
    pick(&mut failure, des3);
    pick(&mut failure, sink_result);

    match (failure, value, digest) {
        (None, Some(v), Some(d)) => {
            let report = sink.commit(&d.hex(), d.len()).await?;
            Ok((v, report))
        }
        (failure, _, _) => {
            let what = sink.describe();
            if let Err(e) = sink.abort().await {
                tracing::error!("could not clean up {what}: {e}");
            }
            Err(failure.unwrap_or_else(|| Error::stage("pipeline", "failed")))
        }
    }
}

/// Runs a stored backup's bytes through sha1 -> des3 -> gunzip into `consume` (a synchronous
/// reader of the tar stream, on its own thread). Fails if any stage fails or the SHA-1 of the
/// bytes is not `expected_sha1`; the caller then removes what `consume` created.
pub async fn fetch_stream<T: Send + 'static>(
    mut input: BoxStream<'static, Result<Bytes>>,
    expected_sha1: &str,
    password: &[u8],
    kdf: KeyDerivation,
    consume: impl FnOnce(PipeReader) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx0, rx0) = pipe();
    let (tx1, rx1) = pipe();
    let (tx2, rx2) = pipe();
    let (tx3, rx3) = pipe();
    let fetch = tokio::spawn(crate::cancel::or_cancelled(async move {
        while let Some(chunk) = input.next().await {
            tx0.send(chunk?)
                .await
                .map_err(|_| Error::PipeClosed("fetch"))?;
        }
        Ok(())
    }));
    let sha1 = spawn_transform(Sha1Digest::new(), rx0, tx1);
    let des3 = spawn_transform(Des3Decrypt::new(password, kdf), rx1, tx2);
    let gunzip = spawn_transform(GzipDecompress::new(), rx2, tx3);
    let sink = tokio::task::spawn_blocking(move || consume(PipeReader::new(rx3)));

    let fetch = joined(fetch, "fetch").await;
    let sha1 = joined(sha1, "sha1").await;
    let des3 = joined(des3, "des3").await.map(drop);
    let gunzip = joined(gunzip, "gunzip").await.map(drop);
    let sink = joined(sink, "extract").await;

    let mut failure = None;
    pick(&mut failure, fetch);
    let digest_ok = match &sha1 {
        Ok(d) if d.hex() == expected_sha1 => Ok(()),
        Ok(d) => Err(Error::format(
            "sha1",
            format!(
                "checksum mismatch: stored bytes have {}, the backup recorded {expected_sha1}",
                d.hex()
            ),
        )),
        Err(_) => Ok(()),
    };
    // A checksum mismatch explains any decoding error that follows it.
    pick(&mut failure, digest_ok);
    pick(&mut failure, sha1.map(drop));
    pick(&mut failure, des3);
    pick(&mut failure, gunzip);
    match sink {
        Ok(v) if failure.is_none() => Ok(v),
        other => {
            pick(&mut failure, other.map(drop));
            Err(failure.expect("an error was picked"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::sink::memory::{MemorySink, MemorySlot};
    use crate::stage::run_to_vec;

    fn opts() -> ChainOptions {
        ChainOptions {
            gzip_level: crate::config::DEFAULT_GZIP_LEVEL,
            password: b"pw".to_vec(),
            kdf: KeyDerivation::Sha256,
        }
    }

    #[tokio::test]
    async fn commits_only_on_success() {
        let slot: MemorySlot = Arc::new(Mutex::new(None));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 97) as u8).collect();
        let d2 = data.clone();
        let (n, report) = store_stream(
            move |tx| async move {
                for c in d2.chunks(100_000) {
                    tx.send(Bytes::copy_from_slice(c))
                        .await
                        .map_err(|_| Error::PipeClosed("test"))?;
                }
                Ok(7)
            },
            opts(),
            Box::new(MemorySink::new(slot.clone())),
        )
        .await
        .unwrap();
        assert_eq!(n, 7);
        let (stored, sha1) = slot.lock().unwrap().clone().unwrap();
        assert_eq!(report.sha1, sha1);
        let mut digest = Sha1Digest::new();
        digest.update(&stored);
        assert_eq!(digest.hex(), sha1);
        let plain = run_to_vec(
            &mut Des3Decrypt::new(b"pw", KeyDerivation::Sha256),
            &stored,
            65536,
        )
        .unwrap();
        assert_eq!(
            run_to_vec(&mut GzipDecompress::new(), &plain, 65536).unwrap(),
            data
        );
    }

    #[tokio::test]
    async fn failed_source_commits_nothing() {
        let slot: MemorySlot = Arc::new(Mutex::new(None));
        let err = store_stream::<(), _>(
            move |tx| async move {
                tx.send(Bytes::from_static(b"partial"))
                    .await
                    .map_err(|_| Error::PipeClosed("test"))?;
                Err(Error::stage("source", "backup tool died"))
            },
            opts(),
            Box::new(MemorySink::new(slot.clone())),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("backup tool died"), "{err}");
        assert!(slot.lock().unwrap().is_none());
    }
}

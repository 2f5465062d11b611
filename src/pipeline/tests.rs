//! Unit tests of the pipeline: commit only on success, read-back, one verdict.

use std::io::Read;

use super::*;
use crate::codec::chain::{Chain, Cipher, Compression};
use crate::codec::des3::KeyDerivation;
use crate::store::Store;
use crate::store::memory::MemoryStore;

fn keys() -> Keys {
    Keys {
        des3_password: Some(b"pw".to_vec()),
        kdf: KeyDerivation::Sha256,
        ..Default::default()
    }
}

fn chain() -> Chain {
    Chain {
        compression: Compression::Gzip { level: 2 },
        cipher: Cipher::Des3 {
            kdf: KeyDerivation::Sha256,
        },
    }
}

#[tokio::test]
async fn commits_only_on_success_and_reads_back() {
    let store = MemoryStore::new();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 97) as u8).collect();
    let d2 = data.clone();
    let (n, stored) = store_stream(
        move |tx| async move {
            for c in d2.chunks(100_000) {
                tx.send(Bytes::copy_from_slice(c))
                    .await
                    .map_err(|_| Error::PipeClosed("test"))?;
            }
            Ok(7)
        },
        chain().encoders(&keys()).unwrap(),
        store.upload("k").await.unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(n, 7);
    let report = stored.digests;
    let info = store.head("k").await.unwrap().unwrap();
    assert_eq!(info.size, report.len);
    assert_eq!(stored.objects.len(), 1);
    assert_eq!(stored.objects[0].key, "k");
    assert_eq!(stored.objects[0].size, report.len);
    let (plain, fetched) = fetch_stream(
        store.get("k").await.unwrap(),
        &Expected {
            sha1: Some(report.sha1.clone()),
            sha256: Some(report.sha256.clone()),
            ..Default::default()
        },
        &keys(),
        |mut r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v)
                .map_err(|e| Error::io("read", "pipe", e))?;
            Ok(v)
        },
    )
    .await
    .unwrap();
    assert_eq!(plain, data);
    assert_eq!(fetched.digests.sha1, report.sha1);
    let err = fetch_stream(
        store.get("k").await.unwrap(),
        &Expected {
            sha1: None,
            sha256: Some("0".repeat(64)),
            ..Default::default()
        },
        &keys(),
        |mut r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v)
                .map_err(|e| Error::io("read", "pipe", e))?;
            Ok(v)
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

#[tokio::test]
async fn failed_source_commits_nothing() {
    let store = MemoryStore::new();
    let err = store_stream::<(), _>(
        move |tx| async move {
            tx.send(Bytes::from_static(b"partial"))
                .await
                .map_err(|_| Error::PipeClosed("test"))?;
            Err(Error::stage("source", "backup tool died"))
        },
        chain().encoders(&keys()).unwrap(),
        store.upload("k").await.unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("backup tool died"), "{err}");
    assert!(store.head("k").await.unwrap().is_none());
    assert!(store.leftovers("").await.unwrap().is_empty(), "aborted");
}

/// A byte flipped early in the stored bytes: the decoders stop at once; with `read_all`
/// the rest is still hashed and the verdict is the checksum, every time.
#[tokio::test]
async fn read_all_tells_a_changed_object_from_damage() {
    let store = MemoryStore::new();
    // Incompressible, so that the stored bytes outlast what the pipes buffer.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..8_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let (_, report) = store_stream(
        move |tx| async move {
            for c in data.chunks(100_000) {
                tx.send(Bytes::copy_from_slice(c))
                    .await
                    .map_err(|_| Error::PipeClosed("test"))?;
            }
            Ok(())
        },
        chain().encoders(&keys()).unwrap(),
        store.upload("k").await.unwrap(),
    )
    .await
    .unwrap();
    let mut stored: Vec<u8> =
        futures::TryStreamExt::try_collect::<Vec<Bytes>>(store.get("k").await.unwrap())
            .await
            .unwrap()
            .concat();
    // The first cipher block: the gzip header is garbled, decoding stops at once.
    stored[20] ^= 0xff;
    for _ in 0..5 {
        let chunks: Vec<Result<Bytes>> = stored
            .chunks(64 << 10)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let err = fetch_stream(
            futures::stream::iter(chunks).boxed(),
            &Expected {
                sha1: Some(report.digests.sha1.clone()),
                read_all: true,
                ..Default::default()
            },
            &keys(),
            |mut r| {
                std::io::copy(&mut r, &mut std::io::sink())
                    .map_err(|e| Error::io("read", "pipe", e))
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Format { format: "sha1", .. }), "{err}");
    }
}

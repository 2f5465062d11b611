//! Criterion benches: each stage alone and the whole backup and restore chains to and from
//! memory, in bytes/s.

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use mysqlbackup::codec::age::{AgeEncrypt, age_decrypt};
use mysqlbackup::codec::chain::{Chain, Cipher, Compression, Keys};
use mysqlbackup::codec::des3::{Des3Decrypt, Des3Encrypt, KeyDerivation};
use mysqlbackup::codec::digest::Digests;
use mysqlbackup::codec::gzip::{GzipCompress, GzipDecompress};
use mysqlbackup::codec::zstd::{ZstdCompress, ZstdDecompress};
use mysqlbackup::codec::{Stage, Transform, run_stages, run_to_vec};
use mysqlbackup::pipeline::{fetch_stream, store_stream};
use mysqlbackup::store::Store;
use mysqlbackup::store::memory::MemoryStore;

const SIZE: usize = 8 << 20;

/// Table-like data: compressible about as much as InnoDB pages of text rows.
fn table_like(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut x: u64 = 0x9E3779B97F4A7C15;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(
            format!("{:08x},row-{},{}\n", x as u32, x % 1000, "payload").as_bytes(),
        );
    }
    v.truncate(len);
    v
}

fn bench_stage<T: Transform>(c: &mut Criterion, name: &str, input: &[u8], make: impl Fn() -> T) {
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(10);
    g.bench_with_input(BenchmarkId::new(name, input.len()), input, |b, input| {
        b.iter(|| run_to_vec(&mut make(), input, 1 << 20).unwrap())
    });
    g.finish();
}

fn stages(c: &mut Criterion) {
    let data = table_like(SIZE);
    let gz = run_to_vec(&mut GzipCompress::new(2), &data, 1 << 20).unwrap();
    let enc = run_to_vec(
        &mut Des3Encrypt::new(b"pw", KeyDerivation::Sha256),
        &gz,
        1 << 20,
    )
    .unwrap();
    bench_stage(c, "gzip-2", &data, || GzipCompress::new(2));
    bench_stage(c, "gunzip", &gz, GzipDecompress::new);
    bench_stage(c, "des3-encrypt", &gz, || {
        Des3Encrypt::new(b"pw", KeyDerivation::Sha256)
    });
    bench_stage(c, "des3-decrypt", &enc, || {
        Des3Decrypt::new(b"pw", KeyDerivation::Sha256)
    });
    bench_stage(c, "sha1+sha256", &enc, Digests::new);

    // The modern format's stages.
    let zs = run_to_vec(&mut ZstdCompress::new(1, 2).unwrap(), &data, 1 << 20).unwrap();
    bench_stage(c, "zstd-1-2workers", &data, || {
        ZstdCompress::new(1, 2).unwrap()
    });
    bench_stage(c, "unzstd", &zs, || ZstdDecompress::new().unwrap());
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public();
    bench_stage(c, "age-encrypt", &zs, || {
        AgeEncrypt::new(std::slice::from_ref(&recipient)).unwrap()
    });
    let aged = run_to_vec(
        &mut AgeEncrypt::new(std::slice::from_ref(&recipient)).unwrap(),
        &zs,
        1 << 20,
    )
    .unwrap();
    let ids: mysqlbackup::codec::age::Identities = std::sync::Arc::new(vec![Box::new(id)]);
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Bytes(aged.len() as u64));
    g.sample_size(10);
    g.bench_with_input(
        BenchmarkId::new("age-decrypt", aged.len()),
        &aged,
        |b, input| {
            b.iter(|| {
                run_stages(
                    vec![Stage::Pull("age", age_decrypt(ids.clone()))],
                    input,
                    1 << 20,
                )
                .unwrap()
            })
        },
    );
    g.finish();
}

fn keys() -> Keys {
    Keys {
        des3_password: Some(b"pw".to_vec()),
        kdf: KeyDerivation::Sha256,
        ..Default::default()
    }
}

fn seed_chain() -> Chain {
    Chain {
        compression: Compression::Gzip {
            level: mysqlbackup::codec::options::DEFAULT_GZIP_LEVEL,
        },
        cipher: Cipher::Des3 {
            kdf: KeyDerivation::Sha256,
        },
    }
}

fn chain(c: &mut Criterion) {
    let data = Bytes::from(table_like(SIZE));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("chain");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("backup-to-memory", |b| {
        b.to_async(&rt).iter(|| {
            let data = data.clone();
            let store = MemoryStore::new();
            async move {
                store_stream(
                    move |tx| async move {
                        let mut off = 0;
                        while off < data.len() {
                            let end = (off + (1 << 20)).min(data.len());
                            tx.send(data.slice(off..end))
                                .await
                                .map_err(|_| mysqlbackup::Error::PipeClosed("bench"))?;
                            off = end;
                        }
                        Ok(())
                    },
                    seed_chain().encoders(&keys()).unwrap(),
                    store.upload("bench").await.unwrap(),
                )
                .await
                .unwrap()
            }
        })
    });
    // The restore chain: stored bytes from memory through sha1 -> des3 -> gunzip into a reader
    // that drains them (extraction into a data dir is timed end to end by bench-compare.sh).
    let store = MemoryStore::new();
    let upload = rt.block_on(store.upload("bench")).unwrap();
    let (_, report) = rt
        .block_on(store_stream(
            {
                let data = data.clone();
                move |tx| async move {
                    tx.send(data)
                        .await
                        .map_err(|_| mysqlbackup::Error::PipeClosed("bench"))?;
                    Ok(())
                }
            },
            seed_chain().encoders(&keys()).unwrap(),
            upload,
        ))
        .unwrap();
    let sha1 = report.digests.sha1;
    let stored: Vec<u8> = rt.block_on(async {
        let mut v = Vec::new();
        let mut s = store.get("bench").await.unwrap();
        while let Some(c) = s.next().await {
            v.extend_from_slice(&c.unwrap());
        }
        v
    });
    let stored = Bytes::from(stored);
    let len = data.len() as u64;
    g.bench_function("restore-from-memory", |b| {
        b.to_async(&rt).iter(|| {
            let chunks: Vec<mysqlbackup::Result<Bytes>> = (0..stored.len())
                .step_by(1 << 20)
                .map(|off| Ok(stored.slice(off..(off + (1 << 20)).min(stored.len()))))
                .collect();
            let sha1 = sha1.clone();
            async move {
                let (n, _) = fetch_stream(
                    futures::stream::iter(chunks).boxed(),
                    &mysqlbackup::pipeline::Expected {
                        sha1: Some(sha1),
                        sha256: None,
                        ..Default::default()
                    },
                    &keys(),
                    |mut r| {
                        std::io::copy(&mut r, &mut std::io::sink())
                            .map_err(|e| mysqlbackup::Error::stage("drain", e.to_string()))
                    },
                )
                .await
                .unwrap();
                assert_eq!(n, len);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, stages, chain);
criterion_main!(benches);

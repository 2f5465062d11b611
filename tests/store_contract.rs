//! The store contract (src/store/mod.rs), one suite run against every store: the local
//! directory, memory, S3 on moto, and S3 on a 3-node Garage cluster (with two cases only a
//! cluster has: a node killed mid-upload, reads with a node down). No database needed.
//! Stores are dumb byte stores: keys of any depth, small objects put and read whole,
//! leftovers reported with the key they were written for.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use mysqlbackup::store::{Store, Upload};

use common::*;

/// Bytes of `n` in a recognisable pattern.
fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn write_all(u: &mut Box<dyn Upload>, data: &[u8]) {
    for c in data.chunks(3 << 20) {
        u.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
}

async fn read_all(store: &dyn Store, key: &str) -> Vec<u8> {
    let mut s = store.get(key).await.unwrap();
    let mut v = Vec::new();
    while let Some(c) = s.next().await {
        v.extend_from_slice(&c.unwrap());
    }
    v
}

/// Puts `data` under `key` whole.
async fn put(store: &dyn Store, key: &str, data: &[u8]) {
    let mut u = store.upload(key).await.unwrap();
    write_all(&mut u, data).await;
    let objects = u.commit().await.unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(
        (objects[0].key.as_str(), objects[0].size),
        (key, data.len() as u64)
    );
}

/// The leftovers whose key starts with `prefix`.
async fn leftovers_of(store: &dyn Store, prefix: &str) -> Vec<mysqlbackup::store::Leftover> {
    let mut l = store.leftovers("").await.unwrap();
    l.retain(|l| l.key.starts_with(prefix));
    l
}

pub async fn round_trip_and_metadata(store: &dyn Store) {
    store.check().await.unwrap();
    // Over one S3 part (5 MiB in these tests) so multipart runs.
    let data = payload(9 << 20, 1);
    put(store, "2020_01_01/3309/a", &data).await;
    assert_eq!(read_all(store, "2020_01_01/3309/a").await, data);
    assert_eq!(
        sha1_bytes(&read_all(store, "2020_01_01/3309/a").await),
        sha1_bytes(&data)
    );
    let info = store.head("2020_01_01/3309/a").await.unwrap().unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert!(store.head("2020_01_01/3309/none").await.unwrap().is_none());
    // Small objects whole: put replaces, read returns them, None when absent.
    let rec = "2020_01_01/3309/a.json";
    store
        .put(rec, Bytes::from_static(b"{\"v\":1}"))
        .await
        .unwrap();
    store
        .put(rec, Bytes::from_static(b"{\"v\":2}"))
        .await
        .unwrap();
    assert_eq!(store.read(rec).await.unwrap().unwrap(), &b"{\"v\":2}"[..]);
    assert!(
        store
            .read("2020_01_01/3309/none.json")
            .await
            .unwrap()
            .is_none()
    );
    // Keys of any depth.
    let deep = "binlog/3309/h-1/g1/binlog.000001/x";
    store.put(deep, Bytes::from_static(b"deep")).await.unwrap();
    let listed: Vec<String> = store
        .list("binlog/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(listed, [deep]);
    assert_eq!(store.read(deep).await.unwrap().unwrap(), &b"deep"[..]);
    store.delete(deep).await.unwrap();
    // Keys that would escape the store are refused.
    for bad in ["../x", "a/../../x", "/etc/passwd", "a//b"] {
        assert!(
            store.put(bad, Bytes::from_static(b"x")).await.is_err(),
            "{bad}"
        );
        assert!(store.upload(bad).await.is_err(), "{bad}");
    }
}

pub async fn list_shows_complete_objects_only(store: &dyn Store) {
    put(store, "2020_01_02/3309/x", b"x").await;
    put(store, "2020_01_02/3310/y", b"y").await;
    put(store, "2020_01_03/3309/z", b"z").await;
    let mut pending = store.upload("2020_01_02/3309/pending").await.unwrap();
    pending.write(Bytes::from_static(b"not yet")).await.unwrap();
    let keys: Vec<String> = store
        .list("2020_01_02/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["2020_01_02/3309/x", "2020_01_02/3310/y"]);
    let mut days = store.list_dirs("").await.unwrap();
    days.sort();
    assert!(
        days.contains(&"2020_01_02".to_string()) && days.contains(&"2020_01_03".to_string()),
        "{days:?}"
    );
    let ports = store.list_dirs("2020_01_02/").await.unwrap();
    assert!(ports.contains(&"3309".to_string()), "{ports:?}");
    pending.abort().await.unwrap();
}

pub async fn nothing_is_visible_before_commit_and_abort_leaves_nothing(store: &dyn Store) {
    let key = "2020_02_01/3309/aborted";
    let mut u = store.upload(key).await.unwrap();
    write_all(&mut u, &payload(9 << 20, 2)).await;
    assert!(
        store.head(key).await.unwrap().is_none(),
        "visible before commit"
    );
    assert!(store.list("2020_02_01/").await.unwrap().is_empty());
    u.abort().await.unwrap();
    assert!(store.head(key).await.unwrap().is_none());
    assert!(store.list("2020_02_01/").await.unwrap().is_empty());
    assert!(
        leftovers_of(store, "2020_02_01/").await.is_empty(),
        "abort left something"
    );
}

pub async fn a_dropped_upload_leaves_nothing_visible_but_a_leftover(store: &dyn Store) {
    let key = "2020_02_02/3309/dropped";
    let mut u = store.upload(key).await.unwrap();
    write_all(&mut u, &payload(9 << 20, 3)).await;
    drop(u);
    assert!(
        store.head(key).await.unwrap().is_none(),
        "a dropped upload is visible"
    );
    assert!(store.list("2020_02_02/").await.unwrap().is_empty());
    let left = leftovers_of(store, "2020_02_02/").await;
    assert!(!left.is_empty(), "the dropped upload is found");
    assert!(
        left.iter().all(|l| l.key == key),
        "each names the key it was written for: {left:?}"
    );
    for l in &left {
        store.remove_leftover(l).await.unwrap();
    }
    assert!(leftovers_of(store, "2020_02_02/").await.is_empty());
}

pub async fn delete_and_missing_keys(store: &dyn Store) {
    put(store, "2020_03_01/3309/d", b"doomed").await;
    store.delete("2020_03_01/3309/d").await.unwrap();
    assert!(store.head("2020_03_01/3309/d").await.unwrap().is_none());
    store.delete("2020_03_01/3309/d").await.unwrap();
    assert!(store.get("2020_03_01/3309/never").await.is_err());
}

pub async fn concurrent_uploads_to_one_key(store: &dyn Store) {
    let key = "2020_04_01/3309/both";
    let (a, b) = (payload(6 << 20, 4), payload(7 << 20, 5));
    let mut ua = store.upload(key).await.unwrap();
    let Ok(mut ub) = store.upload(key).await else {
        // Refused while the first is under way: the first still commits whole.
        write_all(&mut ua, &a).await;
        ua.commit().await.unwrap();
        assert_eq!(read_all(store, key).await, a);
        return;
    };
    write_all(&mut ua, &a).await;
    write_all(&mut ub, &b).await;
    let (ra, rb) = tokio::join!(ua.commit(), ub.commit());
    // Both may succeed (the last wins), or one fail (Garage ends the other pending uploads of
    // a key when one completes): never both fail, never a mix.
    assert!(ra.is_ok() || rb.is_ok(), "{ra:?} {rb:?}");
    let got = read_all(store, key).await;
    match (ra.is_ok(), rb.is_ok()) {
        (true, false) => assert!(got == a, "the upload that succeeded"),
        (false, true) => assert!(got == b, "the upload that succeeded"),
        _ => assert!(got == a || got == b, "one whole upload, not a mix"),
    }
    let info = store.head(key).await.unwrap().unwrap();
    assert_eq!(info.size, got.len() as u64, "the size of the same upload");
    assert!(leftovers_of(store, "2020_04_01/").await.is_empty());
}

/// Every case, against one store.
macro_rules! suite {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn round_trip_and_metadata() {
                let (s, _g) = $make;
                super::round_trip_and_metadata(s.as_ref()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_shows_complete_objects_only() {
                let (s, _g) = $make;
                super::list_shows_complete_objects_only(s.as_ref()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn nothing_is_visible_before_commit_and_abort_leaves_nothing() {
                let (s, _g) = $make;
                super::nothing_is_visible_before_commit_and_abort_leaves_nothing(s.as_ref()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_dropped_upload_leaves_nothing_visible_but_a_leftover() {
                let (s, _g) = $make;
                super::a_dropped_upload_leaves_nothing_visible_but_a_leftover(s.as_ref()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn delete_and_missing_keys() {
                let (s, _g) = $make;
                super::delete_and_missing_keys(s.as_ref()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_uploads_to_one_key() {
                let (s, _g) = $make;
                super::concurrent_uploads_to_one_key(s.as_ref()).await;
            }
        }
    };
}

/// Keeps what a store needs alive for a test.
#[allow(dead_code)]
enum Guard {
    Dir(tempfile::TempDir),
    Moto(Moto),
    None,
}

fn local() -> (Arc<dyn Store>, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let store = mysqlbackup::store::local::LocalStore::new(&dir.path().join("store"));
    (Arc::new(store), Guard::Dir(dir))
}

fn memory() -> (Arc<dyn Store>, Guard) {
    (
        Arc::new(mysqlbackup::store::memory::MemoryStore::new()),
        Guard::None,
    )
}

async fn moto() -> (Arc<dyn Store>, Guard) {
    let moto = Moto::start();
    let store = moto.bucket("contract").await;
    (Arc::new(store), Guard::Moto(moto))
}

suite!(local, local());
suite!(memory, memory());
suite!(s3_moto, moto().await);

/// The local store writes a large object back to disk while it is written (a write-back every
/// 64 MiB beside the writes): it commits whole, the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_a_large_object_is_written_back_as_it_goes_and_commits_whole() {
    let (s, _g) = local();
    let data = payload(150 << 20, 9);
    put(s.as_ref(), "2020_05_01/3309/large", &data).await;
    assert_eq!(
        sha1_bytes(&read_all(s.as_ref(), "2020_05_01/3309/large").await),
        sha1_bytes(&data)
    );
    assert!(s.leftovers("").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_check_fails_when_the_directory_cannot_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let store = mysqlbackup::store::local::LocalStore::new(&file.join("store"));
    let err = store.check().await.unwrap_err().to_string();
    assert!(err.contains("local store"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_moto_check_fails_on_a_missing_bucket() {
    let moto = Moto::start();
    let store = mysqlbackup::store::s3::S3Store::new(&moto.settings("no-such-bucket")).unwrap();
    let err = store.check().await.unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
}

/// An upload listed as pending, then completed or aborted before its parts are listed (a
/// backup finishing while expire or list runs): it is gone, not an error of the listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_moto_an_upload_gone_since_it_was_listed_is_skipped() {
    let moto = Moto::start();
    let store = moto.bucket("gone").await;
    let mut u = store.upload("2021_01_01/3309/gone").await.unwrap();
    write_all(&mut u, &payload(9 << 20, 3)).await;
    drop(u);
    let pending = store.list_multipart_uploads("").await.unwrap();
    assert_eq!(pending.len(), 1, "the dropped upload is pending");
    let (key, id) = (pending[0].key.clone(), pending[0].upload_id.clone());
    // While pending, its parts list (whether or not a part got through before the drop).
    store.last_part_time(&key, &id).await.unwrap();
    store.abort_upload(&key, &id).await.unwrap();
    let err = store.last_part_time(&key, &id).await.unwrap_err();
    assert!(mysqlbackup::store::s3::is_gone(&err), "{err}");
    assert!(!mysqlbackup::store::s3::is_gone(
        &mysqlbackup::error::Error::store("x", "NoSuchUpload in a message is not an answer")
    ));
    assert!(store.leftovers("").await.unwrap().is_empty());
}

/// The suite on a 3-node Garage cluster (replication factor 3), then what only a cluster has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_garage_cluster_contract_and_node_failures() {
    let mut cluster = Garage::start(3);
    let store = cluster.bucket("contract").await;
    let s: &dyn Store = &store;
    round_trip_and_metadata(s).await;
    list_shows_complete_objects_only(s).await;
    nothing_is_visible_before_commit_and_abort_leaves_nothing(s).await;
    a_dropped_upload_leaves_nothing_visible_but_a_leftover(s).await;
    delete_and_missing_keys(s).await;
    concurrent_uploads_to_one_key(s).await;
    store.check().await.unwrap();
    // Garage checks signatures: a wrong secret is refused by the health check, named.
    let mut wrong = cluster.settings("contract");
    wrong.secret_key = mysqlbackup::config::Secret::new("not-the-secret".to_string());
    let err = mysqlbackup::store::s3::S3Store::new(&wrong)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(
        err.to_string().contains("credentials are rejected"),
        "{err}"
    );

    // A node killed mid-upload (through node 0): the upload completes whole or leaves
    // nothing visible.
    let key = "2021_01_01/3309/node-killed";
    let data = payload(20 << 20, 6);
    let mut u = store.upload(key).await.unwrap();
    write_all(&mut u, &data[..10 << 20]).await;
    cluster.kill(2);
    write_all(&mut u, &data[10 << 20..]).await;
    match u.commit().await {
        Ok(_) => assert_eq!(read_all(s, key).await, data, "complete and whole"),
        Err(e) => {
            assert!(
                store.head(key).await.unwrap().is_none(),
                "failed ({e}) yet visible"
            );
        }
    }
    // Reads with a node down: every object written before still reads back whole.
    let again = payload(9 << 20, 1);
    assert_eq!(read_all(s, "2020_01_01/3309/a").await, again);
}

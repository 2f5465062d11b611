//! An in-memory store (tests, benches): the same contract as the real stores, objects in a map.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt};

use super::{Leftover, ObjectInfo, Store, StoredObject, Upload, check_key};
use crate::error::{Error, Result};

#[derive(Default)]
struct State {
    objects: BTreeMap<String, (Bytes, SystemTime)>,
    /// Uploads neither committed nor aborted, by id.
    pending: BTreeMap<u64, (String, SystemTime)>,
    next_id: u64,
}

/// A store in memory; clones share the objects.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    max_object_size: Option<u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose objects hold at most `n` bytes (as S3's hold 10,000 parts).
    pub fn with_max_object_size(n: u64) -> Self {
        MemoryStore {
            max_object_size: Some(n),
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    fn describe(&self) -> String {
        "memory".into()
    }
    fn location(&self, key: &str) -> String {
        format!("memory:{key}")
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let bytes = self
            .lock()
            .objects
            .get(key)
            .map(|(b, _)| b.clone())
            .ok_or_else(|| Error::Refused(format!("no object at memory:{key}")))?;
        let chunks: Vec<Result<Bytes>> = bytes
            .chunks(1 << 20)
            .map(|c| Ok(bytes.slice_ref(c)))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }
    async fn read(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.lock().objects.get(key).map(|(b, _)| b.clone()))
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        Ok(self.lock().objects.get(key).map(|(b, t)| ObjectInfo {
            key: key.to_string(),
            size: b.len() as u64,
            modified: *t,
            metadata: Default::default(),
        }))
    }
    async fn scan(&self, prefix: &str) -> Result<(Vec<ObjectInfo>, Vec<Leftover>)> {
        let objects = self
            .lock()
            .objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, (b, t))| ObjectInfo {
                key: k.clone(),
                size: b.len() as u64,
                modified: *t,
                metadata: Default::default(),
            })
            .collect();
        Ok((objects, Vec::new()))
    }
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let mut dirs: Vec<String> = self
            .lock()
            .objects
            .keys()
            .filter_map(|k| {
                k.strip_prefix(prefix)?
                    .split_once('/')
                    .map(|(d, _)| d.to_string())
            })
            .collect();
        dirs.dedup();
        Ok(dirs)
    }
    fn max_object_size(&self) -> Option<u64> {
        self.max_object_size
    }
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        check_key(key)?;
        self.lock()
            .objects
            .insert(key.to_string(), (bytes, SystemTime::now()));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.lock().objects.remove(key);
        Ok(())
    }
    async fn upload(&self, key: &str) -> Result<Box<dyn Upload>> {
        check_key(key)?;
        let mut st = self.lock();
        st.next_id += 1;
        let id = st.next_id;
        st.pending.insert(id, (key.to_string(), SystemTime::now()));
        Ok(Box::new(MemoryUpload {
            store: self.clone(),
            key: key.to_string(),
            id,
            buf: BytesMut::new(),
        }))
    }
    async fn pending(&self, prefix: &str) -> Result<Vec<Leftover>> {
        Ok(self
            .lock()
            .pending
            .iter()
            .filter(|(_, (key, _))| key.starts_with(prefix))
            .map(|(id, (key, t))| Leftover {
                key: key.clone(),
                object: key.clone(),
                kind: "pending upload",
                id: Some(id.to_string()),
                modified: Some(*t),
            })
            .collect())
    }
    async fn remove_leftover(&self, leftover: &Leftover) -> Result<()> {
        if let Some(id) = leftover.id.as_deref().and_then(|i| i.parse().ok()) {
            self.lock().pending.remove(&id);
        }
        Ok(())
    }
}

/// An upload into a [`MemoryStore`]. Dropped without commit or abort, it stays a leftover
/// (as an unaborted S3 multipart upload does).
struct MemoryUpload {
    store: MemoryStore,
    key: String,
    id: u64,
    buf: BytesMut,
}

#[async_trait::async_trait]
impl Upload for MemoryUpload {
    fn describe(&self) -> String {
        format!("memory:{}", self.key)
    }
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.buf.extend_from_slice(&chunk);
        Ok(())
    }
    async fn commit(self: Box<Self>) -> Result<Vec<StoredObject>> {
        let mut st = self.store.lock();
        st.pending.remove(&self.id);
        let size = self.buf.len() as u64;
        st.objects
            .insert(self.key.clone(), (self.buf.freeze(), SystemTime::now()));
        Ok(vec![StoredObject {
            key: self.key.clone(),
            size,
        }])
    }
    async fn abort(self: Box<Self>) -> Result<()> {
        self.store.lock().pending.remove(&self.id);
        Ok(())
    }
}

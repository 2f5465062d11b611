//! An in-memory store (tests, benches): the same contract as the real stores, objects in a map.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt};

use super::{Leftover, Metadata, ObjectInfo, Store, StoredReport, Upload};
use crate::error::{Error, Result};

#[derive(Default)]
struct State {
    objects: BTreeMap<String, (Bytes, Metadata, SystemTime)>,
    /// Uploads neither committed nor aborted, by id.
    pending: BTreeMap<u64, (String, SystemTime)>,
    next_id: u64,
}

/// A store in memory; clones share the objects.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
            .map(|(b, _, _)| b.clone())
            .ok_or_else(|| Error::Refused(format!("no object at memory:{key}")))?;
        let chunks: Vec<Result<Bytes>> = bytes
            .chunks(1 << 20)
            .map(|c| Ok(bytes.slice_ref(c)))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        Ok(self.lock().objects.get(key).map(|(b, m, t)| ObjectInfo {
            key: key.to_string(),
            size: b.len() as u64,
            modified: *t,
            metadata: m.clone(),
            damaged: None,
        }))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        Ok(self
            .lock()
            .objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, (b, m, t))| ObjectInfo {
                key: k.clone(),
                size: b.len() as u64,
                modified: *t,
                metadata: m.clone(),
                damaged: None,
            })
            .collect())
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
    async fn delete(&self, key: &str) -> Result<()> {
        self.lock().objects.remove(key);
        Ok(())
    }
    async fn upload(&self, key: &str) -> Result<Box<dyn Upload>> {
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
    async fn leftovers(&self) -> Result<Vec<Leftover>> {
        Ok(self
            .lock()
            .pending
            .iter()
            .map(|(id, (key, t))| Leftover {
                key: key.clone(),
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
    async fn commit(self: Box<Self>, metadata: Metadata, size: u64) -> Result<StoredReport> {
        let sha1 = metadata.get("sha1").cloned().unwrap_or_default();
        let mut st = self.store.lock();
        st.pending.remove(&self.id);
        st.objects.insert(
            self.key.clone(),
            (self.buf.freeze(), metadata, SystemTime::now()),
        );
        Ok(StoredReport {
            location: format!("memory:{}", self.key),
            size,
            sha1,
        })
    }
    async fn abort(self: Box<Self>) -> Result<()> {
        self.store.lock().pending.remove(&self.id);
        Ok(())
    }
}

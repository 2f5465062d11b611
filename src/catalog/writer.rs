//! Writing a backup into a store: its bytes as one object, or as consecutive segments when
//! longer than one object may be ([`SegmentedUpload`]), then its record, last ([`commit`]).
//!
//! Why segments: S3 takes at most 10,000 parts per object, and a part must be held in memory
//! until it is sent (a retry sends it again). A stream of unknown length kept in one object
//! would need ever larger parts (5 TiB: 525 MiB parts, ~1.5 GiB held), so memory would grow
//! with the backup. Instead parts keep one small size and the stream moves to a new object
//! every `segment_size` bytes (at most 10,000 parts): memory is `(parts_in_flight + 1) *
//! part_size` whatever the size ([`Plan`]). Restore and verify read the segments in order;
//! by hand, `cat K K.0002 K.0003 ... | openssl ...` (README).

use std::sync::Arc;

use bytes::Bytes;

use super::names::{record_key, segment_key};
use super::record::Record;
use crate::error::{Error, Result};
use crate::store::{Store, StoredObject, Upload};

/// Most segments one backup may have (their numbers are four digits).
pub const MAX_SEGMENTS: u32 = 9_999;

/// How a backup's stream is cut and sent, and what that costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Bytes per object (the last may be shorter); `u64::MAX`: one object.
    pub segment_size: u64,
    /// Bytes per part held while it is sent (S3); 0 for a store that streams to a file.
    pub part_size: u64,
    pub parts_in_flight: usize,
}

impl Plan {
    /// Objects a stream of `total` bytes is stored as.
    pub fn segments(&self, total: u64) -> u64 {
        total.div_ceil(self.segment_size).max(1)
    }

    /// Upper bound of the bytes the upload holds at once: the part being filled and those in
    /// flight.
    pub fn held_bytes(&self) -> u64 {
        self.part_size * (self.parts_in_flight as u64 + 1)
    }
}

/// An upload of one backup's bytes as segments of at most `segment_size` bytes each: segment
/// 1 at the backup's key, the next at [`segment_key`]. Each segment is its own store upload,
/// committed when full; the commit of the whole commits the last and returns them all. An
/// abort removes every segment it wrote.
pub struct SegmentedUpload {
    store: Arc<dyn Store>,
    key: String,
    segment_size: u64,
    current: Option<Box<dyn Upload>>,
    current_len: u64,
    done: Vec<StoredObject>,
}

impl SegmentedUpload {
    /// Starts the upload of `key` in segments of `segment_size` bytes (None: as large as the
    /// store allows, else one object): the first segment's upload starts now, so a store that
    /// refuses it fails the backup before its tool runs.
    pub async fn start(
        store: Arc<dyn Store>,
        key: &str,
        segment_size: Option<u64>,
    ) -> Result<Self> {
        let mut up = Self::new(store, key, segment_size);
        up.open().await?;
        Ok(up)
    }

    /// An upload of `key` in segments of `segment_size` bytes; the first segment starts with
    /// the first write.
    pub fn new(store: Arc<dyn Store>, key: &str, segment_size: Option<u64>) -> Self {
        let segment_size = match (segment_size, store.max_object_size()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => u64::MAX,
        }
        .max(1);
        SegmentedUpload {
            store,
            key: key.to_string(),
            segment_size,
            current: None,
            current_len: 0,
            done: Vec::new(),
        }
    }

    fn next_key(&self) -> Result<String> {
        let n = self.done.len() as u32 + 1;
        if n > MAX_SEGMENTS {
            return Err(Error::store(
                self.store.location(&self.key),
                format!("the backup needs more than {MAX_SEGMENTS} segments: raise `segment_size`"),
            ));
        }
        Ok(segment_key(&self.key, n))
    }

    async fn open(&mut self) -> Result<()> {
        let key = self.next_key()?;
        self.current = Some(self.store.upload(&key).await?);
        self.current_len = 0;
        Ok(())
    }

    /// Commits the segment being written. When its commit fails, the segment's key is
    /// deleted too: a commit that took effect although it reported a failure leaves the object,
    /// and this key is this run's alone.
    async fn seal(&mut self) -> Result<()> {
        if let Some(u) = self.current.take() {
            match u.commit().await {
                Ok(objects) => self.done.extend(objects),
                Err(e) => {
                    let key = segment_key(&self.key, self.done.len() as u32 + 1);
                    let _ = self.store.delete(&key).await;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The bytes each segment holds (but the last).
    pub fn segment_size(&self) -> u64 {
        self.segment_size
    }
}

#[async_trait::async_trait]
impl Upload for SegmentedUpload {
    fn describe(&self) -> String {
        self.store.location(&self.key)
    }
    async fn write(&mut self, mut chunk: Bytes) -> Result<()> {
        while !chunk.is_empty() {
            if self.current.is_none() {
                self.open().await?;
            }
            let room = self.segment_size - self.current_len;
            let take = usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len());
            let piece = chunk.split_to(take);
            self.current
                .as_mut()
                .expect("opened above")
                .write(piece)
                .await?;
            self.current_len += take as u64;
            if self.current_len >= self.segment_size {
                self.seal().await?;
            }
            // The next segment starts with the next byte.
        }
        Ok(())
    }
    async fn commit(mut self: Box<Self>) -> Result<Vec<StoredObject>> {
        if self.current.is_none() && self.done.is_empty() {
            self.open().await?;
        }
        if let Err(e) = self.seal().await {
            discard(self.store.as_ref(), &self.done).await;
            return Err(e);
        }
        Ok(std::mem::take(&mut self.done))
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        let r = match self.current.take() {
            Some(u) => {
                let r = u.abort().await;
                // A commit that took effect although it reported a failure leaves the
                // object: this key is this run's alone, so it goes too.
                let key = segment_key(&self.key, self.done.len() as u32 + 1);
                let _ = self.store.delete(&key).await;
                r
            }
            None => Ok(()),
        };
        discard(self.store.as_ref(), &self.done).await;
        r
    }
}

/// Commits the backup `key` by writing its record: until then its objects are no backup.
/// First it checks that the store holds every object the record lists, whole (a segment
/// removed meanwhile, by someone's cleanup, makes the backup fail, not a record of a backup
/// that cannot be restored).
pub async fn commit(store: &dyn Store, key: &str, record: &Record) -> Result<()> {
    let held: std::collections::BTreeMap<String, u64> = store
        .list(key)
        .await?
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    for o in &record.objects {
        if held.get(&o.key) != Some(&o.size) {
            return Err(Error::store(
                store.location(&o.key),
                format!(
                    "the store no longer holds it whole ({} bytes stored): the backup is not \
                     committed",
                    o.size
                ),
            ));
        }
    }
    store.put(&record_key(key), record.to_bytes()).await
}

/// Removes objects of a backup that is not to be (best effort: what remains is a leftover of
/// its key, which the next backup of the instance or `expire` removes).
pub async fn discard(store: &dyn Store, objects: &[StoredObject]) {
    for o in objects {
        if let Err(e) = store.delete(&o.key).await {
            tracing::warn!("could not remove {}: {e}", store.location(&o.key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use futures::TryStreamExt;

    #[test]
    fn five_tib_fits_s3_in_bounded_memory() {
        use crate::store::s3::upload::{DEFAULT_IN_FLIGHT, DEFAULT_PART, MAX_PARTS, MIN_PART};
        let tib5 = 5u64 << 40;
        let plan = Plan {
            segment_size: DEFAULT_PART * MAX_PARTS,
            part_size: DEFAULT_PART,
            parts_in_flight: DEFAULT_IN_FLIGHT,
        };
        assert_eq!(plan.segments(tib5), 66);
        assert!(plan.segments(tib5) <= u64::from(MAX_SEGMENTS));
        assert_eq!(plan.held_bytes(), 40 << 20, "the same at 1 GiB and 5 TiB");
        assert!(plan.held_bytes() <= 128 << 20, "half the 256 MiB budget");
        // The smallest parts S3 takes still fit 5 TiB within the segment limit.
        let small = Plan {
            segment_size: MIN_PART * MAX_PARTS,
            part_size: MIN_PART,
            parts_in_flight: 1,
        };
        assert!(small.segments(tib5) <= u64::from(MAX_SEGMENTS));
        assert_eq!(plan.segments(0), 1);
    }

    async fn read_all(store: &MemoryStore, key: &str) -> Vec<u8> {
        let chunks: Vec<Bytes> = store.get(key).await.unwrap().try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn a_stream_is_cut_into_segments_that_concatenate_to_it() {
        let mem = MemoryStore::new();
        let store: Arc<dyn Store> = Arc::new(mem.clone());
        let data: Vec<u8> = (0..2500u32).map(|i| (i * 7) as u8).collect();
        let mut up: Box<dyn Upload> =
            Box::new(SegmentedUpload::new(store.clone(), "d/k", Some(1000)));
        for c in data.chunks(333) {
            up.write(Bytes::copy_from_slice(c)).await.unwrap();
        }
        let objects = up.commit().await.unwrap();
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["d/k", "d/k.0002", "d/k.0003"]);
        let sizes: Vec<u64> = objects.iter().map(|o| o.size).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        let mut joined = Vec::new();
        for k in keys {
            joined.extend(read_all(&mem, k).await);
        }
        assert_eq!(joined, data);

        // Exactly one segment's worth: no empty second segment.
        let mut up: Box<dyn Upload> =
            Box::new(SegmentedUpload::new(store.clone(), "d/e", Some(1000)));
        up.write(Bytes::from(vec![1u8; 1000])).await.unwrap();
        assert_eq!(up.commit().await.unwrap().len(), 1);
        // Nothing written: one empty object.
        let up: Box<dyn Upload> = Box::new(SegmentedUpload::new(store.clone(), "d/z", Some(1000)));
        assert_eq!(up.commit().await.unwrap()[0].size, 0);
    }

    #[tokio::test]
    async fn segments_are_as_large_as_conf_and_the_store_allow() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::with_max_object_size(1000));
        assert_eq!(
            SegmentedUpload::new(store.clone(), "k", None).segment_size(),
            1000
        );
        assert_eq!(
            SegmentedUpload::new(store.clone(), "k", Some(10)).segment_size(),
            10
        );
        assert_eq!(
            SegmentedUpload::new(store, "k", Some(5000)).segment_size(),
            1000
        );
        let unbounded: Arc<dyn Store> = Arc::new(MemoryStore::new());
        assert_eq!(
            SegmentedUpload::new(unbounded, "k", None).segment_size(),
            u64::MAX
        );
    }

    #[tokio::test]
    async fn a_record_is_not_written_for_objects_the_store_lost() {
        use crate::catalog::names::{Instance, full_key};
        use crate::catalog::record::{Kind, VERSION};
        let mem = MemoryStore::new();
        let store: Arc<dyn Store> = Arc::new(mem.clone());
        let inst = Instance {
            host: "h".into(),
            instance_id: 1,
            port: 3306,
        };
        let taken = chrono::Utc::now();
        let key = full_key("2026_01_01", &inst, taken, ".tgz.des3");
        let mut up: Box<dyn Upload> = Box::new(SegmentedUpload::new(store.clone(), &key, Some(10)));
        up.write(Bytes::from(vec![0u8; 25])).await.unwrap();
        let objects = up.commit().await.unwrap();
        let record = Record {
            version: VERSION,
            instance: inst,
            day: "2026_01_01".into(),
            taken_at: taken,
            finished_at: taken,
            kind: Kind::Full,
            chain: "gzip+des3".into(),
            size: 25,
            objects: objects.clone(),
            sha1: "0".repeat(40),
            sha256: "0".repeat(64),
            tar_bytes: None,
            data: None,
            binlog_files: Vec::new(),
            server: None,
            backup_tool: None,
            tool_version: "t".into(),
        };
        store.delete(&objects[1].key).await.unwrap();
        let err = commit(store.as_ref(), &key, &record).await.unwrap_err();
        assert!(err.to_string().contains("no longer holds"), "{err}");
        assert!(store.read(&record_key(&key)).await.unwrap().is_none());
        store
            .put(&objects[1].key, Bytes::from(vec![0u8; 10]))
            .await
            .unwrap();
        commit(store.as_ref(), &key, &record).await.unwrap();
    }

    #[tokio::test]
    async fn an_abort_removes_every_segment() {
        let mem = MemoryStore::new();
        let store: Arc<dyn Store> = Arc::new(mem.clone());
        let mut up: Box<dyn Upload> =
            Box::new(SegmentedUpload::new(store.clone(), "d/k", Some(10)));
        up.write(Bytes::from(vec![0u8; 25])).await.unwrap();
        assert_eq!(
            store.list("d/").await.unwrap().len(),
            2,
            "two segments committed"
        );
        up.abort().await.unwrap();
        assert!(store.list("d/").await.unwrap().is_empty());
        assert!(store.leftovers("").await.unwrap().is_empty());
    }
}

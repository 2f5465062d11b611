//! `verify`'s verdicts, recorded beside the backups (`verified/<backup key>.json`, written
//! through the store like any object: whole or not at all), so that `expire` can keep the
//! newest backup that verify found restorable, whatever retention says. A verdict counts only
//! for the bytes it checked: it names their SHA-1.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Store;

/// What verify found of one backup. Unknown fields of a newer version are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub version: u32,
    pub ok: bool,
    /// The check that failed.
    pub check: Option<String>,
    /// Whether it was a `--prepare` verify (the data prepared and opened, the window applied).
    pub prepare: bool,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The SHA-1 of the stored bytes it checked (as recorded for them).
    pub sha1: Option<String>,
}

/// The key of the verdict of the backup `key`.
pub fn verdict_key(key: &str) -> String {
    format!("verified/{key}.json")
}

/// Records `verdict` of the backup `key`, replacing an earlier one.
pub async fn record(store: &dyn Store, key: &str, verdict: &Recorded) -> Result<()> {
    let bytes = serde_json::to_vec(verdict).map_err(|e| Error::stage("verdict", e.to_string()))?;
    store.put(&verdict_key(key), Bytes::from(bytes)).await
}

/// The recorded verdict of the backup `key`, if any.
pub async fn read(store: &dyn Store, key: &str) -> Result<Option<Recorded>> {
    let vk = verdict_key(key);
    let Some(bytes) = store.read(&vk).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::format("verdict", format!("{}: {e}", store.location(&vk))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verdicts_round_trip_and_tolerate_newer_fields() {
        let store = crate::store::memory::MemoryStore::new();
        let key = "2026_01_01/3306/mysql-3306-h-1.tgz.des3";
        assert_eq!(read(&store, key).await.unwrap(), None);
        let v = Recorded {
            version: 1,
            ok: true,
            check: None,
            prepare: true,
            at: "2026-01-01T00:00:00Z".into(),
            sha1: Some("0".repeat(40)),
        };
        record(&store, key, &v).await.unwrap();
        assert_eq!(read(&store, key).await.unwrap(), Some(v.clone()));
        let newer = br#"{"version":2,"ok":false,"check":"tables","prepare":true,"at":"x","sha1":null,"extra":1}"#;
        store
            .put(&verdict_key(key), Bytes::from_static(newer))
            .await
            .unwrap();
        assert!(!read(&store, key).await.unwrap().unwrap().ok);
    }
}

//! Where a restore's archive comes from: stdin, or the store's backup that the selection (or
//! the point-in-time plan) names.

use std::sync::Arc;

use super::{RestoreOptions, pitr};
use crate::catalog::{Entry, KeyParts, locate};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::pipeline::Expected;

/// Where the archive's bytes come from.
pub(super) struct Source {
    pub(super) location: String,
    /// The digests they must have (none for stdin without `--sha1`).
    pub(super) expected: Expected,
    pub(super) parts: Option<KeyParts>,
    pub(super) stream: futures::stream::BoxStream<'static, Result<bytes::Bytes>>,
    /// The store and backup to remove after success (`--clean-after-restore`).
    pub(super) cleanup: Option<(std::sync::Arc<dyn crate::store::Store>, Entry)>,
    /// What is known of the archive (its record says format 2).
    pub(super) format: crate::archive::reader::ReadOptions,
    /// Its stored size, when known (not on stdin).
    pub(super) size: Option<u64>,
}

/// Opens the archive's bytes; with `--until`, the point-in-time plan and its store too.
pub(super) async fn open(
    s: &Settings,
    opts: &RestoreOptions,
    keys: &crate::codec::chain::Keys,
) -> Result<(Source, Option<(Arc<dyn crate::store::Store>, pitr::Plan)>)> {
    let mut plan = None;
    let source = if opts.stdin {
        let sha1 =
            match &opts.sha1 {
                Some(h) => Some(crate::store::parse_sha1(h).ok_or_else(|| {
                    Error::Config(format!("--sha1 takes 40 hex digits, got {h:?}"))
                })?),
                None => None,
            };
        Source {
            location: "-".into(),
            expected: Expected {
                sha1,
                given: true,
                ..Default::default()
            },
            parts: None,
            stream: crate::store::stdio::stdin(),
            cleanup: None,
            format: Default::default(),
            size: None,
        }
    } else {
        let store = crate::store::open(&s.store).await?;
        let located = match &opts.until {
            // Decided before anything is written: a gap is a refusal.
            Some(until) => {
                let p = pitr::plan(&store, s, keys, &s.instance(), &opts.selection, until).await?;
                tracing::info!(
                    "restoring to {} (GTID {}): {} from {}, then {} archived binlog files",
                    p.asked,
                    p.target,
                    p.backup.key,
                    p.from,
                    p.files.len()
                );
                let b = p.backup.clone();
                plan = Some((store.clone(), p));
                b
            }
            None => locate(store.as_ref(), &s.instance(), s.day(), &opts.selection).await?,
        };
        let cleanup = s
            .clean_after_restore
            .then(|| (store.clone(), located.clone()));
        Source {
            stream: crate::catalog::stream(store.clone(), &located).await?,
            location: located.location.clone(),
            expected: Expected::recorded(&located),
            parts: located.parts.clone(),
            format: crate::archive::reader::ReadOptions {
                format_2: located.record.is_some(),
            },
            size: Some(located.size),
            cleanup,
        }
    };
    Ok((source, plan))
}

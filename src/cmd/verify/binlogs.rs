//! `verify` of the binlog archive: every archived file of the instance streamed through its
//! checks, writing nothing: the stored digests its record holds, decryption, decompression,
//! the binlog magic, every event's CRC-32 (when the file carries them), and the size and the
//! start and end states its key names.

use std::sync::Arc;

use super::Verdict;
use crate::catalog::binlogs::{self, Archived};
use crate::catalog::{Instance, Record};
use crate::codec::chain::Keys;
use crate::error::{Error, Result};
use crate::mysql::binlog::summary::{Summary, summarize};
use crate::pipeline::{Expected, fetch_stream};
use crate::store::Store;

/// Checks one archived file.
async fn check(store: &Arc<dyn Store>, keys: &Keys, a: &Archived) -> Result<(Record, Summary)> {
    let r = binlogs::record(store.as_ref(), a)
        .await
        .map_err(|e| Error::format("metadata", crate::error::report_lines(&e).join(": ")))?;
    let expected = Expected {
        sha1: Some(r.sha1.clone()),
        sha256: Some(r.sha256.clone()),
        read_all: true,
        given: false,
    };
    let input = crate::catalog::listing::stream_objects(store.clone(), &r.objects).await?;
    let (summary, _) = fetch_stream(input, &expected, keys, |reader| {
        summarize(std::io::BufReader::with_capacity(1 << 20, reader))
    })
    .await?;
    let name = &a.name;
    if summary.size != name.size
        || summary.start.tag() != name.start
        || summary.end.tag() != name.end
    {
        return Err(Error::format(
            "binlog",
            format!(
                "{} holds {} bytes from state {} to {}, its key names {} bytes from {} to {}",
                name.file,
                summary.size,
                summary.start.tag(),
                summary.end.tag(),
                name.size,
                name.start,
                name.end
            ),
        ));
    }
    Ok((r, summary))
}

/// Verdicts of every archived binlog file of `instance`; Err only when the archive cannot be
/// listed.
pub async fn verify(
    store: &Arc<dyn Store>,
    keys: &Keys,
    instance: &Instance,
) -> Result<Vec<Verdict>> {
    let archive = binlogs::list(store.as_ref(), instance).await?;
    let mut out = Vec::new();
    for a in archive.files() {
        crate::cancel::check()?;
        tracing::info!("verifying {}", store.location(&a.key));
        let mut v = Verdict {
            data_bytes: a.name.size,
            binlog_files: vec![a.name.file.clone()],
            ..Verdict::pending(&a.key)
        };
        match check(store, keys, a).await {
            Ok((r, _)) => {
                v.ok = true;
                v.chain = Some(r.chain);
                v.sha1 = Some(r.sha1);
            }
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => {
                v.check = Some(super::check_of(&e).into());
                v.error = Some(crate::error::report_lines(&e).join(": "));
            }
        }
        out.push(v);
    }
    Ok(out)
}

//! `verify`: streams each backup through every check and writes nothing: stored checksums,
//! decryption (and authentication, with age), decompression, tar structure, every xbstream
//! chunk's CRC, the manifest (each entry's size and SHA-1, order), my.cnf present, binlog files
//! starting with the binlog magic and holding the position the manifest names. `--prepare`
//! goes further in a scratch dir: extract, `mariabackup --prepare`, a private read-only server,
//! `CHECK TABLE` on every InnoDB table; then it removes it all.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

mod binlogs;
mod prepare;

use crate::archive::reader::{self, Layout, Summary, Visitor};
use crate::catalog::{Entry, Selection, locate};
use crate::codec::chain::{Keys, check_of_stage};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::binlog::MAGIC;
use crate::pipeline::{Expected, fetch_stream};
use crate::store::Store;

/// What `verify` is asked.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    pub key: Option<String>,
    /// Every backup of the port.
    pub all: bool,
    pub prepare: bool,
    /// Where `--prepare` extracts (default: under backup_base).
    pub scratch: Option<PathBuf>,
    /// The archived binlog files of this instance (alone; with `all`, besides the backups).
    pub binlogs: bool,
}

/// One backup's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub key: String,
    pub ok: bool,
    /// The check that failed: checksum, decryption, decompression, tar, xbstream, manifest,
    /// archive, binlog, metadata, keys, store, read; with `--prepare` also scratch, extract,
    /// prepare, tables.
    pub check: Option<String>,
    pub error: Option<String>,
    pub chain: Option<String>,
    pub sha1: Option<String>,
    pub data_files: u64,
    pub data_bytes: u64,
    pub binlog_files: Vec<String>,
    /// Tables `CHECK TABLE` passed (`--prepare`).
    pub tables_checked: Option<u64>,
}

impl Verdict {
    /// The verdict on `key` before any check ran: not ok, nothing counted.
    pub fn pending(key: &str) -> Self {
        Verdict {
            key: key.to_string(),
            ok: false,
            check: None,
            error: None,
            chain: None,
            sha1: None,
            data_files: 0,
            data_bytes: 0,
            binlog_files: Vec::new(),
            tables_checked: None,
        }
    }
}

/// What `verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub backups: Vec<Verdict>,
}

impl VerifyReport {
    /// True when a backup failed a check.
    pub fn failed(&self) -> bool {
        self.backups.iter().any(|b| !b.ok)
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.backups {
            if b.ok {
                write!(
                    f,
                    "ok: {} ({}; {} data files, {} bytes; {})",
                    b.key,
                    b.chain.as_deref().unwrap_or("?"),
                    b.data_files,
                    b.data_bytes,
                    if b.binlog_files.is_empty() {
                        "no binlog".to_string()
                    } else {
                        format!("binlog {}", b.binlog_files.join(","))
                    }
                )?;
                if let Some(t) = b.tables_checked {
                    write!(f, "; prepared, {t} InnoDB tables checked")?;
                }
                writeln!(f)?;
            } else {
                writeln!(
                    f,
                    "FAILED: {}: check {}: {}",
                    b.key,
                    b.check.as_deref().unwrap_or("?"),
                    b.error.as_deref().unwrap_or("")
                )?;
            }
        }
        let bad = self.backups.iter().filter(|b| !b.ok).count();
        write!(f, "{} verified, {bad} failed", self.backups.len() - bad)
    }
}

/// The check an error belongs to (by its kind and stage, never its words).
fn check_of(e: &Error) -> &'static str {
    match e {
        Error::Format { format, .. } | Error::Stage { stage: format, .. } => check_of_stage(format)
            .unwrap_or(match *format {
                "tar" => "tar",
                "xbstream" => "xbstream",
                "manifest" => "manifest",
                "binlog" => "binlog",
                "metadata" => "metadata",
                _ => "archive",
            }),
        Error::Config(_) => "keys",
        Error::Store { .. } => "store",
        _ => "read",
    }
}

/// A visitor that writes nothing and checks what the reader does not: binlog magic and sizes.
#[derive(Default)]
struct Checker {
    files: u64,
    bytes: u64,
    binlog_sizes: BTreeMap<String, u64>,
    current: Option<(String, Vec<u8>, u64)>,
}

impl Visitor for Checker {
    fn start(&mut self, _: Layout, _: Option<&[u8]>, _: Option<u16>) -> Result<()> {
        Ok(())
    }
    fn file_start(&mut self, _: &str, _: bool) -> Result<()> {
        self.files += 1;
        Ok(())
    }
    fn file_data(&mut self, _: &str, _: u64, data: &[u8]) -> Result<()> {
        self.bytes += data.len() as u64;
        Ok(())
    }
    fn file_hole(&mut self, _: &str, _: u64, _: u64) -> Result<()> {
        Ok(())
    }
    fn file_end(&mut self, _: &str) -> Result<()> {
        Ok(())
    }
    fn dir(&mut self, _: &str) -> Result<()> {
        Ok(())
    }
    fn binlog_start(&mut self, name: &str) -> Result<()> {
        self.current = Some((name.to_string(), Vec::new(), 0));
        Ok(())
    }
    fn binlog_data(&mut self, data: &[u8]) -> Result<()> {
        if let Some((_, head, size)) = &mut self.current {
            if head.len() < 4 {
                head.extend_from_slice(&data[..data.len().min(4 - head.len())]);
            }
            *size += data.len() as u64;
        }
        Ok(())
    }
    fn binlog_end(&mut self, name: &str) -> Result<()> {
        let (_, head, size) = self.current.take().unwrap_or_default();
        if head != MAGIC {
            return Err(Error::format(
                "binlog",
                format!("{name} does not start with the binlog magic"),
            ));
        }
        self.binlog_sizes.insert(name.to_string(), size);
        Ok(())
    }
}

impl Checker {
    /// The checks that need the whole archive.
    fn finish(&self, s: &Summary) -> Result<()> {
        if s.my_cnf.is_none() {
            return Err(Error::format("archive", "it holds no my.cnf"));
        }
        let Some(m) = &s.manifest else {
            return Ok(()); // the original tool's layout has none
        };
        let mut listed = m.binlog_files.clone();
        crate::mysql::binlog::sort_names(&mut listed);
        if listed != s.binlog_files {
            return Err(Error::format(
                "manifest",
                format!(
                    "it lists binlog files {:?}, the archive holds {:?}",
                    m.binlog_files, s.binlog_files
                ),
            ));
        }
        match &m.data_binlog {
            Some(c) => match self.binlog_sizes.get(&c.file) {
                Some(&size) if c.position >= 4 && c.position <= size => Ok(()),
                Some(&size) => Err(Error::format(
                    "binlog",
                    format!(
                        "the data stops at {}:{} but that file has {size} bytes",
                        c.file, c.position
                    ),
                )),
                None => Err(Error::format(
                    "binlog",
                    format!(
                        "the data stops in {}, which the archive does not hold",
                        c.file
                    ),
                )),
            },
            None if !s.binlog_files.is_empty() => Err(Error::format(
                "manifest",
                "it holds a binlog but no binlog coordinates of the data",
            )),
            None => Ok(()),
        }
    }
}

/// Streams the backup through every check; returns the summary and what the checker counted.
async fn check_stream(
    store: Arc<dyn Store>,
    entry: &Entry,
    keys: &Keys,
    rate: Option<u64>,
) -> Result<(Summary, Checker, String, String)> {
    if let Some(why) = &entry.damaged {
        return Err(Error::format(
            "metadata",
            format!("what it records cannot be read: {why}"),
        ));
    }
    let expected = Expected {
        read_all: true,
        ..Expected::recorded(entry)
    };
    if expected.sha1.is_none() {
        return Err(Error::format(
            "sha1",
            "no SHA-1 recorded (record, x-amz-meta-sha1 or .sha1 sidecar): not a complete backup",
        ));
    }
    let progress = crate::progress::Progress::start("verify", Some(entry.size));
    let input = crate::progress::counted(
        crate::pipeline::rate::limited(crate::catalog::stream(store, entry).await?, rate),
        progress.clone(),
    );
    let format = reader::ReadOptions {
        format_2: entry.record.is_some(),
    };
    let ((summary, checker), fetched) = fetch_stream(input, &expected, keys, move |r| {
        let mut c = Checker::default();
        let s = reader::read_with(r, &mut c, format)?;
        c.finish(&s)?;
        Ok((s, c))
    })
    .await?;
    progress.finish();
    // The chain as recorded (e.g. `gzip+des3`); the bytes only tell the cipher.
    let chain = if entry.chain == "unknown" {
        fetched.chain
    } else {
        entry.chain.clone()
    };
    Ok((summary, checker, chain, fetched.digests.sha1))
}

/// Verifies the backups `opts` names; the report says which failed and why.
pub async fn verify(s: &Settings, opts: &VerifyOptions) -> Result<VerifyReport> {
    let store = crate::store::open(&s.store).await?;
    let keys = s.codec.keys(false)?;
    let wanted: Vec<Entry> = if opts.binlogs && !opts.all {
        Vec::new()
    } else if opts.all {
        let all = crate::catalog::backups(store.as_ref(), Some(s.port), None).await?;
        if all.is_empty() {
            return Err(Error::Refused(format!(
                "no backup of port {} in {}",
                s.port,
                store.describe()
            )));
        }
        all
    } else {
        let sel = Selection {
            key: opts.key.clone(),
            ..Default::default()
        };
        vec![locate(store.as_ref(), &s.instance(), s.day(), &sel).await?]
    };
    let mut backups = Vec::new();
    for entry in wanted {
        let key = entry.key.clone();
        tracing::info!("verifying {}", store.location(&key));
        let mut v = Verdict::pending(&key);
        match check_stream(store.clone(), &entry, &keys, s.rate_limit).await {
            Ok((summary, c, chain, sha1)) => {
                v.ok = true;
                v.chain = Some(chain);
                v.sha1 = Some(sha1);
                v.data_files = c.files;
                v.data_bytes = c.bytes;
                v.binlog_files = summary.binlog_files;
                if opts.prepare {
                    match prepare::prepared_check(s, store.clone(), &entry, &keys, opts).await {
                        Ok(n) => v.tables_checked = Some(n),
                        Err((_, Error::Interrupted)) => return Err(Error::Interrupted),
                        Err((check, e)) => {
                            v.ok = false;
                            v.check = Some(check.into());
                            v.error = Some(crate::error::report_lines(&e).join(": "));
                        }
                    }
                }
            }
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => {
                v.check = Some(check_of(&e).into());
                v.error = Some(crate::error::report_lines(&e).join(": "));
            }
        }
        // The verdict, for expire to keep the newest backup found restorable.
        let recorded = crate::catalog::verdicts::Recorded {
            version: 1,
            ok: v.ok,
            check: v.check.clone(),
            prepare: opts.prepare,
            at: chrono::Utc::now().to_rfc3339(),
            sha1: v.sha1.clone(),
        };
        if let Err(e) = crate::catalog::verdicts::record(store.as_ref(), &key, &recorded).await {
            // No older verdict may stand for this one (it may have been good).
            let old = crate::catalog::verdicts::verdict_key(&key);
            let removed = store.delete(&old).await;
            tracing::warn!(
                "could not record the verdict of {key}: {e}{}",
                if removed.is_err() {
                    "; an older verdict may remain"
                } else {
                    ""
                }
            );
        }
        backups.push(v);
    }
    if opts.binlogs || opts.all {
        let verdicts = binlogs::verify(&store, &keys, &s.instance()).await?;
        if opts.binlogs && !opts.all && verdicts.is_empty() {
            return Err(Error::Refused(format!(
                "no archived binlog of {} in {}",
                s.instance(),
                store.describe()
            )));
        }
        backups.extend(verdicts);
    }
    Ok(VerifyReport { backups })
}

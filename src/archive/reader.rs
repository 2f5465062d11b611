//! The archive reader: a pure parser (no runtime, no files) that turns a decoded tar stream
//! into events for a [`Visitor`] and checks everything the archive says about itself. Restore's
//! unpacker writes the events to disk; a verifier can count them; the fuzzer feeds it bytes.
//!
//! Two layouts are accepted:
//! - ours (`my.cnf`, `data.xbstream.*` segments, `binlog/*`, manifest): the segments are parsed
//!   as one xbstream (every chunk's CRC-32 checked; chunks of one sending in order without
//!   overlap; a file sent again after its end replaces the earlier copy, as `mbstream -x`
//!   does), every entry's size and SHA-1 is checked against the manifest, which comes last;
//! - the original tool's (`mysql-{port}-backup/`, a prepared data dir with its my.cnf, and
//!   `mysql-{port}-binlog/`).
//!
//! Only regular files (and directories in the original layout) are accepted; every path must
//! be a plain relative path (no `..`, no absolute path); binlog entries must be binlog file
//! names or the index; whatever follows the end-of-archive blocks must be zero padding.

use std::io::Read;

use crate::archive::layout::{self, BINLOG_DIR, MANIFEST, MY_CNF};
use crate::archive::manifest::Manifest;
use crate::archive::xbstream::{Parser, check_path};
use crate::codec::sha1::Sha1Digest;
use crate::error::{Error, Result};
use entry_log::{EntryLog, check_manifest};
use sendings::Sendings;

/// The archive layout found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// mysqlbackup's streaming layout.
    Streaming,
    /// The Python tool's layout: a prepared data dir and a binlog dir.
    Original,
}

/// What the reader reports, in order. Every call may fail, which stops the reading.
pub trait Visitor {
    /// The layout is known (first entry), with the backup's my.cnf when the layout starts
    /// with it and the port an original-layout archive names. Called once, before the rest.
    fn start(&mut self, layout: Layout, my_cnf: Option<&[u8]>, port: Option<u16>) -> Result<()>;
    /// A data file begins; `again` when it was complete before (the new copy replaces it).
    fn file_start(&mut self, path: &str, again: bool) -> Result<()>;
    /// Bytes of a data file at `offset` (in order within a sending, never overlapping).
    fn file_data(&mut self, path: &str, offset: u64, data: &[u8]) -> Result<()>;
    /// A hole of a data file: `len` zero bytes at `offset`, not sent (in order with the data
    /// of its sending, never overlapping it); the file is at least `offset + len` long.
    fn file_hole(&mut self, path: &str, offset: u64, len: u64) -> Result<()>;
    /// A data file is complete.
    fn file_end(&mut self, path: &str) -> Result<()>;
    /// A directory of the data (original layout).
    fn dir(&mut self, path: &str) -> Result<()>;
    /// A binlog file begins.
    fn binlog_start(&mut self, name: &str) -> Result<()>;
    /// Bytes of the binlog file begun last.
    fn binlog_data(&mut self, data: &[u8]) -> Result<()>;
    /// The binlog file begun last is complete.
    fn binlog_end(&mut self, name: &str) -> Result<()>;
}

/// What an archive held, once read whole and checked.
#[derive(Debug)]
pub struct Summary {
    pub layout: Layout,
    pub my_cnf: Option<Vec<u8>>,
    pub manifest: Option<Manifest>,
    /// Binlog file names, in the server's order.
    pub binlog_files: Vec<String>,
    /// The binlog index's name and bytes (never written as is: it could name any file).
    pub binlog_index: Option<(String, Vec<u8>)>,
    /// Bytes of all entries.
    pub bytes: u64,
    /// Data files sent again after their end (the later copy counts).
    pub resent: Vec<String>,
}

const MAX_SMALL_ENTRY: u64 = 64 << 20;

fn tar_err(e: std::io::Error) -> Error {
    Error::format("tar", e.to_string())
}

/// Binlog files are `<basename>.<number>`; other files beside them (`.index`, `.state`) are not.
pub fn is_binlog_file(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(base, n)| {
        !base.is_empty() && n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Reads a small entry whole.
fn read_small(e: &mut impl Read, name: &str, size: u64) -> Result<Vec<u8>> {
    if size > MAX_SMALL_ENTRY {
        return Err(Error::format(
            "archive",
            format!("{name} is implausibly large ({size} bytes)"),
        ));
    }
    let mut v = Vec::with_capacity(size as usize);
    e.read_to_end(&mut v).map_err(tar_err)?;
    Ok(v)
}

/// Feeds an entry's bytes to `each` in pieces; returns their SHA-1.
fn pieces(e: &mut impl Read, each: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<Sha1Digest> {
    pieces_hashed(e, true, each)
}

/// As [`pieces`]; the SHA-1 only when `sha1` (else an empty digest).
fn pieces_hashed(
    e: &mut impl Read,
    sha1: bool,
    each: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<Sha1Digest> {
    let mut d = Sha1Digest::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = e.read(&mut buf).map_err(tar_err)?;
        if n == 0 {
            return Ok(d);
        }
        if sha1 {
            d.update(&buf[..n]);
        }
        each(&buf[..n])?;
    }
}

/// What the caller knows of an archive before reading it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Its manifest is format 2 (its backup has a record, which only writers of format 2
    /// write): the data segments are not SHA-1'd one by one, as only format 1 lists them so.
    pub format_2: bool,
}

/// Reads a whole tar stream, reporting to `visitor`, and checks it (see the module doc).
pub fn read<R: Read>(reader: R, visitor: &mut dyn Visitor) -> Result<Summary> {
    read_with(reader, visitor, ReadOptions::default())
}

/// As [`read`], with what the caller knows of the archive.
pub fn read_with<R: Read>(
    reader: R,
    visitor: &mut dyn Visitor,
    opts: ReadOptions,
) -> Result<Summary> {
    let mut ar = tar::Archive::new(reader);
    let mut layout: Option<Layout> = None;
    let mut orig_backup = String::new();
    let mut orig_binlog = String::new();
    let mut s = Summary {
        layout: Layout::Streaming,
        my_cnf: None,
        manifest: None,
        binlog_files: Vec::new(),
        binlog_index: None,
        bytes: 0,
        resent: Vec::new(),
    };
    let mut parser = Parser::new();
    let mut sendings = Sendings::default();
    let mut next_segment = 0u64;
    let mut digests = EntryLog::default();

    for entry in ar.entries().map_err(tar_err)? {
        let mut e = entry.map_err(tar_err)?;
        let kind = e.header().entry_type();
        let raw_path = e.path().map_err(tar_err)?.to_string_lossy().into_owned();
        let path = raw_path.trim_end_matches('/').to_string();
        check_path(&path)
            .map_err(|_| Error::format("tar", format!("refusing entry path {raw_path:?}")))?;
        let size = e.header().size().map_err(tar_err)?;
        s.bytes += size;
        if s.manifest.is_some() {
            return Err(Error::format(
                "archive",
                format!("entry {path:?} after the manifest"),
            ));
        }
        let first = layout.is_none();
        let now = *layout.get_or_insert_with(|| match original_port(&path) {
            Some(p) => {
                orig_backup = format!("mysql-{p}-backup/");
                orig_binlog = format!("mysql-{p}-binlog/");
                Layout::Original
            }
            None => Layout::Streaming,
        });
        let is_dir = kind.is_dir();
        if !(kind.is_file() || (is_dir && now == Layout::Original)) {
            return Err(Error::format(
                "tar",
                format!("refusing {path:?}: entry type {kind:?} (only regular files are restored)"),
            ));
        }
        match now {
            Layout::Streaming if first => {
                if path != MY_CNF {
                    return Err(Error::format(
                        "archive",
                        format!(
                            "unknown layout: first entry is {path:?}, expected my.cnf or mysql-PORT-backup/"
                        ),
                    ));
                }
                let cnf = read_small(&mut e, MY_CNF, size)?;
                let mut d = Sha1Digest::new();
                d.update(&cnf);
                digests.entry(&path, size, Some(&d.hex()), false);
                visitor.start(Layout::Streaming, Some(&cnf), None)?;
                s.my_cnf = Some(cnf);
            }
            Layout::Streaming => {
                if let Some(n) = layout::segment_number(&path) {
                    if n != next_segment {
                        return Err(Error::format(
                            "archive",
                            format!("segment {n} out of order (expected {next_segment})"),
                        ));
                    }
                    next_segment += 1;
                    let data = &mut digests.data;
                    let d = pieces_hashed(&mut e, !opts.format_2, &mut |b| {
                        data.update(b);
                        parser.feed(b, &mut |ev| sendings.on(ev, visitor))
                    })?;
                    digests.data_size += size;
                    let sha1 = (!opts.format_2).then(|| d.hex());
                    digests.entry(&path, size, sha1.as_deref(), true);
                } else if let Some(name) = path.strip_prefix(BINLOG_DIR) {
                    if name.contains('/') {
                        return Err(Error::format(
                            "archive",
                            format!("nested binlog path {path:?}"),
                        ));
                    }
                    let d = binlog_entry(&mut e, name, size, &mut s, visitor)?;
                    digests.entry(&path, size, Some(&d.hex()), false);
                } else if path == MANIFEST {
                    let m = Manifest::parse(&read_small(&mut e, MANIFEST, size)?)?;
                    check_manifest(&m, &digests)?;
                    s.manifest = Some(m);
                } else {
                    return Err(Error::format(
                        "archive",
                        format!("unexpected entry {path:?}"),
                    ));
                }
            }
            Layout::Original => {
                if first {
                    visitor.start(Layout::Original, None, original_port(&path))?;
                }
                if path == orig_backup.trim_end_matches('/')
                    || path == orig_binlog.trim_end_matches('/')
                {
                    continue;
                } else if let Some(rel) = path.strip_prefix(&orig_backup) {
                    if is_dir {
                        visitor.dir(rel)?;
                    } else if rel == "my.cnf" {
                        // Restore writes the instance's my.cnf (its paths rewritten) itself.
                        s.my_cnf = Some(read_small(&mut e, "my.cnf", size)?);
                    } else {
                        visitor.file_start(rel, false)?;
                        let mut at = 0u64;
                        pieces(&mut e, &mut |b| {
                            visitor.file_data(rel, at, b)?;
                            at += b.len() as u64;
                            Ok(())
                        })?;
                        visitor.file_end(rel)?;
                    }
                } else if let Some(rel) = path.strip_prefix(&orig_binlog) {
                    if is_dir || rel.contains('/') {
                        return Err(Error::format(
                            "archive",
                            format!("unexpected {path:?} in the binlog dir"),
                        ));
                    }
                    if rel.ends_with(".index") || is_binlog_file(rel) {
                        binlog_entry(&mut e, rel, size, &mut s, visitor)?;
                    } else {
                        tracing::warn!("skipping {path:?}: not a binlog file");
                    }
                } else {
                    return Err(Error::format(
                        "archive",
                        format!("unexpected entry {path:?} in an original-layout archive"),
                    ));
                }
            }
        }
    }
    // Whatever follows the end-of-archive blocks must be zero padding.
    let mut rest = ar.into_inner();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rest.read(&mut buf).map_err(tar_err)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(Error::format(
                "tar",
                "trailing data after the end of the archive",
            ));
        }
    }
    s.layout = layout.ok_or_else(|| Error::format("archive", "empty archive"))?;
    if s.layout == Layout::Streaming {
        parser.finish()?;
        if s.manifest.is_none() {
            return Err(Error::format(
                "archive",
                "the archive ends before its manifest: truncated",
            ));
        }
        if next_segment == 0 {
            return Err(Error::format(
                "archive",
                "the archive holds no data segment",
            ));
        }
    }
    crate::mysql::binlog::sort_names(&mut s.binlog_files);
    s.resent = sendings.resent;
    Ok(s)
}

/// A binlog file or the index.
fn binlog_entry(
    e: &mut impl Read,
    name: &str,
    size: u64,
    s: &mut Summary,
    visitor: &mut dyn Visitor,
) -> Result<Sha1Digest> {
    check_path(name)?;
    if name.ends_with(".index") {
        let text = read_small(e, name, size)?;
        let mut d = Sha1Digest::new();
        d.update(&text);
        s.binlog_index = Some((name.to_string(), text));
        return Ok(d);
    }
    if !is_binlog_file(name) {
        return Err(Error::format(
            "archive",
            format!("{name:?} is not a binlog file name"),
        ));
    }
    visitor.binlog_start(name)?;
    let d = pieces(e, &mut |b| visitor.binlog_data(b))?;
    visitor.binlog_end(name)?;
    s.binlog_files.push(name.to_string());
    Ok(d)
}

/// The port of an original-layout entry (`mysql-{port}-backup/...` or `mysql-{port}-binlog/...`).
fn original_port(path: &str) -> Option<u16> {
    let top = path.split('/').next()?;
    let rest = top.strip_prefix("mysql-")?;
    let digits = rest
        .strip_suffix("-backup")
        .or_else(|| rest.strip_suffix("-binlog"))?;
    digits.parse().ok()
}

mod entry_log;
mod sendings;
#[cfg(test)]
mod tests;

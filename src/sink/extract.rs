//! Extraction: one tar stream in, many files out, straight into the data dir (no archive or
//! extracted copy on disk). Plain synchronous code reading any `std::io::Read`.
//!
//! Two layouts are accepted:
//! - ours (`my.cnf`, `data.xbstream.*` segments, `binlog/*`, manifest): the segments are parsed
//!   as one xbstream (every chunk's CRC-32 checked) and written into the data dir; binlog files
//!   go to the binlog dir; every entry's SHA-1 is checked against the manifest;
//! - the original tool's (`mysql-{port}-backup/` a prepared data dir, `mysql-{port}-binlog/`).
//!
//! Only regular files (and directories in the original layout) are accepted; every path must be
//! a plain relative path (no `..`, no absolute path); files are created with `create_new`, so
//! nothing existing is overwritten.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::archive::layout::{self, BINLOG_DIR, MANIFEST, MY_CNF};
use crate::archive::manifest::Manifest;
use crate::archive::xbstream::{Event, Parser, check_path};
use crate::error::{Error, Result};
use crate::mysql::mycnf::MyCnf;
use crate::stage::sha1::Sha1Digest;

/// Where the data and the binlog go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    pub data_dir: PathBuf,
    /// None: the binlog entries are read and checked, not written (`restore --data-only`).
    pub binlog_dir: Option<PathBuf>,
}

/// The archive layout found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// mysqlbackup's streaming layout.
    Streaming,
    /// The Python tool's layout: a prepared data dir and a binlog dir.
    Original,
}

/// What extraction produced.
#[derive(Debug)]
pub struct ExtractReport {
    pub layout: Layout,
    pub targets: Targets,
    pub my_cnf: Option<Vec<u8>>,
    pub manifest: Option<Manifest>,
    /// Binlog file names written to the binlog dir (index excluded).
    pub binlog_files: Vec<String>,
    pub binlog_index: Option<String>,
    pub bytes: u64,
}

const MAX_SMALL_ENTRY: u64 = 64 << 20;

fn tar_err(e: std::io::Error) -> Error {
    Error::format("tar", e.to_string())
}

/// Writes xbstream payloads into a directory.
struct XbWriter {
    root: PathBuf,
    /// Open files and the end of the last payload written to each.
    open: HashMap<String, (File, u64)>,
    done: HashSet<String>,
    /// Files sent again after their end-of-file chunk.
    resent: Vec<String>,
}

impl XbWriter {
    fn file(&mut self, path: &str, offset: u64) -> Result<&mut (File, u64)> {
        if self.done.contains(path) {
            // mariabackup sends a file again when it changed during the copy (an Aria table
            // created mid-backup: its .frm twice); mbstream then writes the file anew. A new
            // sending starts at offset 0; anything else is not a sending.
            if offset != 0 {
                return Err(Error::format(
                    "xbstream",
                    format!("{path:?} continues at offset {offset} after its end-of-file chunk"),
                ));
            }
            let full = self.root.join(path);
            let f = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&full)
                .map_err(|e| Error::io("open", &full, e))?;
            self.done.remove(path);
            self.resent.push(path.to_string());
            self.open.insert(path.to_string(), (f, 0));
        }
        if !self.open.contains_key(path) {
            let full = self.root.join(path);
            if let Some(dir) = full.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            }
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&full)
                .map_err(|e| Error::io("create", &full, e))?;
            self.open.insert(path.to_string(), (f, 0));
        }
        Ok(self.open.get_mut(path).expect("inserted"))
    }

    fn on(&mut self, ev: Event<'_>) -> Result<()> {
        match ev {
            Event::Data { path, offset, data } => {
                let full = self.root.join(path);
                let (file, end) = self.file(path, offset)?;
                // Chunks of one sending come in order; one that goes back is a duplicate or an
                // overlap, which mbstream would silently apply.
                if offset < *end {
                    return Err(Error::format(
                        "xbstream",
                        format!(
                            "duplicate or overlapping chunk of {path:?} at offset {offset} (already written up to {end})"
                        ),
                    ));
                }
                *end = offset + data.len() as u64;
                file.write_all_at(data, offset)
                    .map_err(|e| Error::io("write", full, e))
            }
            Event::ChunkDone { .. } => Ok(()),
            Event::EndOfFile { path } => {
                let at = self.open.get(path).map_or(0, |(_, end)| *end);
                self.file(path, at)?;
                self.open.remove(path);
                self.done.insert(path.to_string());
                Ok(())
            }
        }
    }
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

/// Copies an entry into a new file, returning its SHA-1.
fn copy_new(e: &mut impl Read, dest: &Path) -> Result<Sha1Digest> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|err| Error::io("create directory", dir, err))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|err| Error::io("create", dest, err))?;
    let mut digest = Sha1Digest::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = e.read(&mut buf).map_err(tar_err)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        f.write_all(&buf[..n])
            .map_err(|err| Error::io("write", dest, err))?;
    }
    Ok(digest)
}

/// The binlog index for the files restored: never the archive's lines (a forged index could
/// name any file, which the server would open and a PURGE delete), only the files extracted,
/// in the server's order, as `./name` beside the data or as absolute paths in `binlog_dir`.
fn make_index(files: &[String], binlog_dir: &Path, data_dir: &Path, archived: &[u8]) -> String {
    let absolute = binlog_dir != data_dir || archived.first() == Some(&b'/');
    files
        .iter()
        .map(|f| {
            if absolute {
                format!("{}\n", binlog_dir.join(f).display())
            } else {
                format!("./{f}\n")
            }
        })
        .collect()
}

/// Copies an entry into a new file under `dir` (or checks it when `dir` is None), returning
/// its SHA-1.
fn copy_or_check(e: &mut impl Read, dir: Option<&Path>, name: &str) -> Result<Sha1Digest> {
    match dir {
        Some(d) => copy_new(e, &d.join(name)),
        None => {
            let mut digest = Sha1Digest::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = e.read(&mut buf).map_err(tar_err)?;
                if n == 0 {
                    return Ok(digest);
                }
                digest.update(&buf[..n]);
            }
        }
    }
}

/// Extracts a tar stream. `place` is called once, with the backup's my.cnf when the layout
/// starts with one, and must create (or check) the target dirs.
pub fn extract<R: Read>(
    reader: R,
    port: u16,
    place: &mut dyn FnMut(Option<&MyCnf>) -> Result<Targets>,
) -> Result<ExtractReport> {
    let mut ar = tar::Archive::new(reader);
    let mut orig_backup = String::new();
    let mut orig_binlog = String::new();
    let mut layout: Option<Layout> = None;
    let mut targets: Option<Targets> = None;
    let mut my_cnf = None;
    let mut manifest = None;
    let mut parser = Parser::new();
    let mut xb: Option<XbWriter> = None;
    let mut next_segment = 0u64;
    let mut digests: Vec<(String, u64, String)> = Vec::new();
    let mut binlog_files = Vec::new();
    let mut binlog_index = None;
    let mut bytes = 0u64;

    for entry in ar.entries().map_err(tar_err)? {
        let mut e = entry.map_err(tar_err)?;
        let kind = e.header().entry_type();
        let raw_path = e.path().map_err(tar_err)?.to_string_lossy().into_owned();
        let path = raw_path.trim_end_matches('/').to_string();
        check_path(&path)
            .map_err(|_| Error::format("tar", format!("refusing entry path {raw_path:?}")))?;
        let size = e.header().size().map_err(tar_err)?;
        bytes += size;
        if manifest.is_some() {
            return Err(Error::format(
                "archive",
                format!("entry {path:?} after the manifest"),
            ));
        }
        if layout.is_none() {
            layout = Some(match original_port(&path) {
                Some(theirs) => {
                    if port != 0 && theirs != port {
                        return Err(other_port(theirs, port));
                    }
                    orig_backup = format!("mysql-{theirs}-backup/");
                    orig_binlog = format!("mysql-{theirs}-binlog/");
                    Layout::Original
                }
                None => Layout::Streaming,
            });
        }
        let layout_now = layout.expect("set");
        let is_dir = kind.is_dir();
        if !(kind.is_file() || (is_dir && layout_now == Layout::Original)) {
            return Err(Error::format(
                "tar",
                format!("refusing {path:?}: entry type {kind:?} (only regular files are restored)"),
            ));
        }

        match layout_now {
            Layout::Streaming => {
                if targets.is_none() {
                    if path != MY_CNF {
                        return Err(Error::format(
                            "archive",
                            format!(
                                "unknown layout: first entry is {path:?}, expected my.cnf or mysql-{port}-backup/"
                            ),
                        ));
                    }
                    let cnf = read_small(&mut e, MY_CNF, size)?;
                    check_port(&cnf, port)?;
                    let mut d = Sha1Digest::new();
                    d.update(&cnf);
                    digests.push((path.clone(), size, d.hex()));
                    let t = place(Some(&MyCnf::parse(&String::from_utf8_lossy(&cnf))))?;
                    xb = Some(XbWriter {
                        root: t.data_dir.clone(),
                        open: HashMap::new(),
                        done: HashSet::new(),
                        resent: Vec::new(),
                    });
                    targets = Some(t);
                    my_cnf = Some(cnf);
                    continue;
                }
                let t = targets.as_ref().expect("placed");
                if let Some(n) = layout::segment_number(&path) {
                    if n != next_segment {
                        return Err(Error::format(
                            "archive",
                            format!("segment {n} out of order (expected {next_segment})"),
                        ));
                    }
                    next_segment += 1;
                    let w = xb.as_mut().expect("placed");
                    let mut d = Sha1Digest::new();
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        let k = e.read(&mut buf).map_err(tar_err)?;
                        if k == 0 {
                            break;
                        }
                        d.update(&buf[..k]);
                        parser.feed(&buf[..k], &mut |ev| w.on(ev))?;
                    }
                    digests.push((path, size, d.hex()));
                } else if let Some(name) = path.strip_prefix(BINLOG_DIR) {
                    check_path(name)?;
                    if name.contains('/') {
                        return Err(Error::format(
                            "archive",
                            format!("nested binlog path {path:?}"),
                        ));
                    }
                    if name.ends_with(".index") {
                        let text = read_small(&mut e, &path, size)?;
                        let mut d = Sha1Digest::new();
                        d.update(&text);
                        digests.push((path.clone(), size, d.hex()));
                        binlog_index = Some((name.to_string(), text));
                    } else if is_binlog_file(name) {
                        let d = copy_or_check(&mut e, t.binlog_dir.as_deref(), name)?;
                        digests.push((path.clone(), size, d.hex()));
                        binlog_files.push(name.to_string());
                    } else {
                        return Err(Error::format(
                            "archive",
                            format!("{path:?} is not a binlog file name"),
                        ));
                    }
                } else if path == MANIFEST {
                    let m = Manifest::parse(&read_small(&mut e, MANIFEST, size)?)?;
                    check_manifest(&m, &digests)?;
                    if port != 0 && m.port != port {
                        return Err(other_port(m.port, port));
                    }
                    manifest = Some(m);
                } else {
                    return Err(Error::format(
                        "archive",
                        format!("unexpected entry {path:?}"),
                    ));
                }
            }
            Layout::Original => {
                if targets.is_none() {
                    targets = Some(place(None)?);
                }
                let t = targets.as_ref().expect("placed");
                let (root, rel) = if let Some(rel) = path.strip_prefix(&orig_backup) {
                    (Some(&t.data_dir), rel)
                } else if let Some(rel) = path.strip_prefix(&orig_binlog) {
                    (None, rel)
                } else if path == orig_backup.trim_end_matches('/')
                    || path == orig_binlog.trim_end_matches('/')
                {
                    continue;
                } else {
                    return Err(Error::format(
                        "archive",
                        format!("unexpected entry {path:?} in an original-layout archive"),
                    ));
                };
                let Some(data_dir) = root else {
                    // The binlog dir of the original layout: flat, binlog files and the index.
                    if is_dir || rel.contains('/') {
                        return Err(Error::format(
                            "archive",
                            format!("unexpected {path:?} in the binlog dir"),
                        ));
                    }
                    if rel.ends_with(".index") {
                        binlog_index = Some((rel.to_string(), read_small(&mut e, &path, size)?));
                    } else if is_binlog_file(rel) {
                        copy_or_check(&mut e, t.binlog_dir.as_deref(), rel)?;
                        binlog_files.push(rel.to_string());
                    } else {
                        tracing::warn!("skipping {path:?}: not a binlog file");
                    }
                    continue;
                };
                let dest = data_dir.join(rel);
                if is_dir {
                    std::fs::create_dir_all(&dest)
                        .map_err(|err| Error::io("create directory", &dest, err))?;
                    continue;
                }
                if rel == "my.cnf" {
                    // Restore writes the instance's my.cnf (its paths rewritten) itself.
                    my_cnf = Some(read_small(&mut e, "my.cnf", size)?);
                    continue;
                }
                copy_new(&mut e, &dest)?;
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
    let targets = targets.ok_or_else(|| Error::format("archive", "empty archive"))?;
    if layout == Some(Layout::Streaming) {
        parser.finish()?;
        if manifest.is_none() {
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
    crate::mysql::binlog::sort_names(&mut binlog_files);
    let mut index_name = None;
    if let (Some(dir), Some((name, text))) = (&targets.binlog_dir, &binlog_index) {
        let dest = dir.join(name);
        let index = make_index(&binlog_files, dir, &targets.data_dir, text);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|err| Error::io("create", &dest, err))?;
        f.write_all(index.as_bytes())
            .map_err(|err| Error::io("write", &dest, err))?;
        index_name = Some(name.clone());
    }
    if let Some(w) = &xb
        && !w.resent.is_empty()
    {
        tracing::info!(
            "the backup tool sent {} again (changed during the copy); the later copy is restored",
            w.resent.join(", ")
        );
    }
    Ok(ExtractReport {
        layout: layout.expect("set"),
        targets,
        my_cnf,
        manifest,
        binlog_files,
        binlog_index: index_name,
        bytes,
    })
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

fn other_port(theirs: u16, ours: u16) -> Error {
    Error::Refused(format!(
        "the backup is of port {theirs}, not {ours}: pass --allow-other-port to restore it anyway"
    ))
}

/// Refuses a backup whose my.cnf names another port (port 0: any port is fine).
fn check_port(cnf: &[u8], port: u16) -> Result<()> {
    let theirs = MyCnf::parse(&String::from_utf8_lossy(cnf))
        .get("port")
        .and_then(|p| p.parse::<u16>().ok());
    match theirs {
        Some(p) if port != 0 && p != port => Err(other_port(p, port)),
        _ => Ok(()),
    }
}

/// Binlog files are `<basename>.<number>`; other files beside them (`.index`, `.state`) are not.
fn is_binlog_file(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(base, n)| {
        !base.is_empty() && n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn check_manifest(m: &Manifest, seen: &[(String, u64, String)]) -> Result<()> {
    if m.entries.len() != seen.len() {
        return Err(Error::format(
            "manifest",
            format!(
                "lists {} entries, the archive holds {}",
                m.entries.len(),
                seen.len()
            ),
        ));
    }
    for (rec, (name, size, sha1)) in m.entries.iter().zip(seen) {
        if &rec.name != name || rec.size != *size || &rec.sha1 != sha1 {
            return Err(Error::format(
                "manifest",
                format!("entry {name} does not match the manifest (size or SHA-1)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

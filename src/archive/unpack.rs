//! Restore's unpacker: writes what the archive reader reports straight into the target dirs
//! (no archive or extracted copy on disk), creating every file new, and applies restore's
//! port policy before anything is written.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::archive::reader::{self, Layout, Summary, Visitor};
use crate::error::{Error, Result};
use crate::mysql::mycnf::MyCnf;

/// Where the data and the binlog go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    pub data_dir: PathBuf,
    /// None: the binlog is read and checked, not written (`restore --data-only`).
    pub binlog_dir: Option<PathBuf>,
}

/// What placing the targets needs to know: layout and the backup's my.cnf.
pub type Place<'a> = dyn FnMut(Layout, Option<&[u8]>) -> Result<Targets> + 'a;

/// Writes reader events into the targets `place` gives at the start.
struct Unpacker<'a> {
    place: &'a mut Place<'a>,
    /// 0: any port; else the backup must be of this port.
    port: u16,
    targets: Option<Targets>,
    files: HashMap<String, File>,
    binlog: Option<(PathBuf, File)>,
}

fn other_port(theirs: u16, ours: u16) -> Error {
    Error::Refused(format!(
        "the backup is of port {theirs}, not {ours}: pass --allow-other-port to restore it anyway"
    ))
}

impl Unpacker<'_> {
    fn targets(&self) -> &Targets {
        self.targets.as_ref().expect("started")
    }
}

impl Visitor for Unpacker<'_> {
    fn start(&mut self, layout: Layout, my_cnf: Option<&[u8]>, port: Option<u16>) -> Result<()> {
        let theirs =
            port.or_else(|| my_cnf.and_then(|c| MyCnf::parse(&String::from_utf8_lossy(c)).port()));
        if let Some(p) = theirs
            && self.port != 0
            && p != self.port
        {
            return Err(other_port(p, self.port));
        }
        self.targets = Some((self.place)(layout, my_cnf)?);
        Ok(())
    }
    fn file_start(&mut self, path: &str, again: bool) -> Result<()> {
        let full = self.targets().data_dir.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        }
        // A file sent again is the one this restore created before: it is replaced.
        let f = if again {
            OpenOptions::new().write(true).truncate(true).open(&full)
        } else {
            OpenOptions::new().write(true).create_new(true).open(&full)
        }
        .map_err(|e| Error::io("create", &full, e))?;
        self.files.insert(path.to_string(), f);
        Ok(())
    }
    fn file_data(&mut self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        let f = self.files.get(path).expect("started");
        f.write_all_at(data, offset)
            .map_err(|e| Error::io("write", self.targets().data_dir.join(path), e))
    }
    fn file_hole(&mut self, path: &str, offset: u64, len: u64) -> Result<()> {
        // The bytes of a hole were never written in this sending (the file was created or
        // truncated at its start): the file only has to reach its end, sparse where the file
        // system allows.
        let f = self.files.get(path).expect("started");
        let io = |e: std::io::Error| Error::io("extend", self.targets().data_dir.join(path), e);
        let size = f.metadata().map_err(io)?.len();
        if size < offset + len {
            f.set_len(offset + len).map_err(io)?;
        }
        Ok(())
    }
    fn file_end(&mut self, path: &str) -> Result<()> {
        self.files.remove(path);
        Ok(())
    }
    fn dir(&mut self, path: &str) -> Result<()> {
        let full = self.targets().data_dir.join(path);
        std::fs::create_dir_all(&full).map_err(|e| Error::io("create directory", &full, e))
    }
    fn binlog_start(&mut self, name: &str) -> Result<()> {
        if let Some(dir) = self.targets().binlog_dir.clone() {
            let path = dir.join(name);
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::io("create", &path, e))?;
            self.binlog = Some((path, f));
        }
        Ok(())
    }
    fn binlog_data(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.binlog {
            Some((path, f)) => f.write_all(data).map_err(|e| Error::io("write", &*path, e)),
            None => Ok(()),
        }
    }
    fn binlog_end(&mut self, _name: &str) -> Result<()> {
        self.binlog = None;
        Ok(())
    }
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

/// Reads a decoded tar stream and writes it into the targets `place` returns (called once,
/// before anything is written, after the port check: `port` 0 accepts any). Writes the binlog
/// index last. Returns what the archive held and the targets.
pub fn unpack<R: Read>(
    reader: R,
    port: u16,
    opts: reader::ReadOptions,
    place: &mut Place<'_>,
) -> Result<(Summary, Targets)> {
    let mut u = Unpacker {
        place,
        port,
        targets: None,
        files: HashMap::new(),
        binlog: None,
    };
    let summary = reader::read_with(reader, &mut u, opts)?;
    let targets = u
        .targets
        .take()
        .ok_or_else(|| Error::format("archive", "empty archive"))?;
    if let Some(m) = &summary.manifest
        && port != 0
        && m.port != port
    {
        return Err(other_port(m.port, port));
    }
    if let (Some(dir), Some((name, text))) = (&targets.binlog_dir, &summary.binlog_index) {
        let dest = dir.join(name);
        let index = make_index(&summary.binlog_files, dir, &targets.data_dir, text);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|err| Error::io("create", &dest, err))?;
        f.write_all(index.as_bytes())
            .map_err(|err| Error::io("write", &dest, err))?;
    }
    if !summary.resent.is_empty() {
        tracing::info!(
            "the backup tool sent {} again (changed during the copy); the later copy is restored",
            summary.resent.join(", ")
        );
    }
    Ok((summary, targets))
}

#[cfg(test)]
mod tests;

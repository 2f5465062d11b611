//! The entries read before the manifest ([`EntryLog`]) and their check against it
//! ([`check_manifest`]).

use crate::archive::manifest::Manifest;
use crate::codec::sha1::Sha1Digest;
use crate::error::{Error, Result};

/// What the entries before the manifest were, in constant memory whatever their number:
/// a running SHA-1 over each entry's name, size and SHA-1 (all entries, as format 1 lists
/// them, unless the segments were not SHA-1'd; and without the data segments, as format 2
/// does), and the data segments' count, size and running CRC-32 of their content.
#[derive(Default)]
pub(super) struct EntryLog {
    all: Sha1Digest,
    all_count: u64,
    /// False when a segment was read without its SHA-1
    /// ([`ReadOptions::format_2`](super::ReadOptions::format_2)).
    all_unknown: bool,
    files: Sha1Digest,
    files_count: u64,
    pub(super) data: crc32fast::Hasher,
    pub(super) data_size: u64,
    segments: u64,
}

/// One entry's line in an [`EntryLog`] digest.
fn entry_line(name: &str, size: u64, sha1: &str) -> String {
    format!("{name}\0{size}\0{sha1}\n")
}

impl EntryLog {
    pub(super) fn entry(&mut self, name: &str, size: u64, sha1: Option<&str>, segment: bool) {
        match sha1 {
            Some(h) => {
                let line = entry_line(name, size, h);
                self.all.update(line.as_bytes());
                if !segment {
                    self.files.update(line.as_bytes());
                }
            }
            None => self.all_unknown = true,
        }
        self.all_count += 1;
        if segment {
            self.segments += 1;
        } else {
            self.files_count += 1;
        }
    }

    fn data_crc32(&self) -> String {
        format!("{:08x}", self.data.clone().finalize())
    }
}

pub(super) fn check_manifest(m: &Manifest, seen: &EntryLog) -> Result<()> {
    let mismatch = |what: String| Err(Error::format("manifest", what));
    let mut listed = Sha1Digest::new();
    for e in &m.entries {
        listed.update(entry_line(&e.name, e.size, &e.sha1).as_bytes());
    }
    let (count, digest) = match &m.data_stream {
        None if seen.all_unknown => {
            return mismatch(
                "format 1, but its backup's record says format 2 (a record beside another \
                 archive?)"
                    .into(),
            );
        }
        None => (seen.all_count, &seen.all),
        Some(d) => {
            let crc = seen.data_crc32();
            if d.segments != seen.segments || d.size != seen.data_size || d.crc32 != crc {
                return mismatch(format!(
                    "the data stream does not match the manifest ({} segments, {} bytes, CRC-32 \
                     {} listed; {} segments, {} bytes, CRC-32 {crc} held)",
                    d.segments, d.size, d.crc32, seen.segments, seen.data_size
                ));
            }
            (seen.files_count, &seen.files)
        }
    };
    if m.entries.len() as u64 != count {
        return mismatch(format!(
            "lists {} entries, the archive holds {count}",
            m.entries.len()
        ));
    }
    if listed.hex() != digest.hex() {
        return mismatch("an entry does not match the manifest (name, size or SHA-1)".into());
    }
    Ok(())
}

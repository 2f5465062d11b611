//! Which data files of an xbstream are being sent, and where each sending stands: chunks of one
//! sending (their data and holes) in order without overlap, a file sent again after its end
//! replacing the earlier copy.

use std::collections::{HashMap, HashSet};

use super::Visitor;
use crate::archive::xbstream::Event;
use crate::error::{Error, Result};

/// Which data files are being sent, and where each sending stands.
#[derive(Default)]
pub struct Sendings {
    /// Files being sent and the end of the last bytes of each.
    open: HashMap<String, u64>,
    done: HashSet<String>,
    pub resent: Vec<String>,
}

impl Sendings {
    pub fn on(&mut self, ev: Event<'_>, v: &mut dyn Visitor) -> Result<()> {
        match ev {
            Event::Data { path, offset, data } => {
                // Chunks of one sending come in order; one that goes back is a duplicate or an
                // overlap, which mbstream would silently apply.
                self.advance(path, offset, data.len() as u64, v, |end| {
                    format!(
                        "duplicate or overlapping chunk of {path:?} at offset {offset} (already written up to {end})"
                    )
                })?;
                v.file_data(path, offset, data)
            }
            Event::Hole { path, offset, len } => {
                self.advance(path, offset, len, v, |end| {
                    format!(
                        "hole of {path:?} at offset {offset} overlaps bytes written up to {end}"
                    )
                })?;
                v.file_hole(path, offset, len)
            }
            Event::ChunkDone { .. } => Ok(()),
            Event::EndOfFile { path } => {
                let at = self.open.get(path).copied().unwrap_or(0);
                self.begin(path, at, v)?;
                self.open.remove(path);
                self.done.insert(path.to_string());
                v.file_end(path)
            }
        }
    }

    /// Moves the sending of `path` past `len` bytes (data or hole) at `offset`, which must not
    /// lie before what it already covers (`overlap(end)` says why).
    fn advance(
        &mut self,
        path: &str,
        offset: u64,
        len: u64,
        v: &mut dyn Visitor,
        overlap: impl FnOnce(u64) -> String,
    ) -> Result<()> {
        self.begin(path, offset, v)?;
        let end = self.open.get_mut(path).expect("begun");
        if offset < *end {
            return Err(Error::format("xbstream", overlap(*end)));
        }
        *end = offset + len;
        Ok(())
    }

    /// Opens `path` unless a sending of it is under way. mariabackup sends a file again when it
    /// changed during the copy (an Aria table created mid-backup: its .frm twice); a new
    /// sending starts at offset 0.
    fn begin(&mut self, path: &str, offset: u64, v: &mut dyn Visitor) -> Result<()> {
        if self.open.contains_key(path) {
            return Ok(());
        }
        let again = self.done.remove(path);
        if again {
            if offset != 0 {
                return Err(Error::format(
                    "xbstream",
                    format!("{path:?} continues at offset {offset} after its end-of-file chunk"),
                ));
            }
            self.resent.push(path.to_string());
        }
        self.open.insert(path.to_string(), 0);
        v.file_start(path, again)
    }
}

//! The archive: its layout (tar of my.cnf, xbstream segments, binlog, manifest), the xbstream
//! format, the manifest, the backup tool's own files under both generations' names ([`marks`]), the writer that packs a backup ([`writer`]), the pure reader that
//! turns an archive back into checked events ([`reader`]), and the unpacker that writes those
//! events into a data dir ([`unpack`]).

pub mod layout;
pub mod manifest;
pub mod marks;
pub mod reader;
pub mod tar;
pub mod unpack;
pub mod writer;
pub mod xbstream;

//! The archive: its layout (tar of my.cnf, xbstream segments, binlog, manifest), the xbstream
//! format, the manifest, the writer that packs a backup ([`writer`]) and the pure reader that
//! turns an archive back into checked events ([`reader`]).

pub mod layout;
pub mod manifest;
pub mod reader;
pub mod tar;
pub mod writer;
pub mod xbstream;

//! The archive: its layout (tar of my.cnf, xbstream segments, binlog, manifest), the xbstream
//! format and the manifest.

pub mod layout;
pub mod manifest;
pub mod tar;
pub mod xbstream;

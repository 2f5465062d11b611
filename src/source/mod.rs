//! Sources: the backup tool's stream and the files around it, packed into one tar stream.

pub mod backup;
pub mod backup_tool;
pub mod fetch;

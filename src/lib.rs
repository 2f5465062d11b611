//! mysqlbackup: streaming backup and restore of MariaDB/MySQL instances through S3-compatible
//! storage. See README.md and the module docs.

pub mod archive;
pub mod backup;
pub mod cancel;
pub mod catchup;
pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod fuzzing;
pub mod lock;
pub mod mysql;
pub mod naming;
pub mod pipeline;
pub mod procfs;
pub mod restore;
pub mod sink;
pub mod source;
pub mod stage;
pub mod store;

pub use error::{Error, Result};

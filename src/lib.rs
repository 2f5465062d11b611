//! mysqlbackup: streaming backup and restore of MariaDB/MySQL instances through S3-compatible
//! storage. See README.md and the module docs.

pub mod config;
pub mod error;
pub mod archive;
pub mod mysql;
pub mod naming;
pub mod sink;
pub mod stage;
pub mod store;

pub use error::{Error, Result};

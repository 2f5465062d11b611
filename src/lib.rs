//! mysqlbackup: streaming backup and restore of MariaDB/MySQL instances through S3-compatible
//! storage. See README.md ("How the code is laid out") and the module docs.

pub mod archive;
pub mod cancel;
pub mod catalog;
pub mod cli;
pub mod cmd;
pub mod codec;
pub mod config;
pub mod error;
pub mod fuzzing;
pub mod lock;
pub mod metrics;
pub mod mysql;
pub mod pipeline;
pub mod procfs;
pub mod progress;
pub mod secret;
pub mod store;

pub use error::{Error, Result};

//! conf.yaml as written ([`ConfFile`]) and the command-line overrides ([`Overrides`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::codec::options::{CompressionName, EncryptionName};

use super::{KeyDerivation, ReplicationConfig, Secret};
use crate::error::{Error, Result};

/// conf.yaml as written by the operator. See `conf.example.yaml` for every key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfFile {
    pub mysql_base: Option<PathBuf>,
    pub host: Option<String>,
    pub data_base: Option<PathBuf>,
    pub backup_base: Option<PathBuf>,
    pub port: Option<u16>,
    pub instance_id: Option<u32>,
    pub sql_test_insert: Option<String>,
    pub sql_test_get_2: Option<String>,
    pub s3_host: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_access_key: Option<Secret>,
    pub s3_secret_key: Option<Secret>,
    pub s3_scheme: Option<String>,
    pub s3_region: Option<String>,
    pub s3_credentials_file: Option<PathBuf>,
    pub date_str: Option<String>,
    pub clean_after_restore: Option<bool>,
    pub root_password: Option<Secret>,
    pub conf_base: Option<PathBuf>,
    pub replication: Option<ReplicationConfig>,
    pub data_dir: Option<PathBuf>,
    pub binlog_dir: Option<PathBuf>,
    pub my_cnf: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub mysql_user: Option<String>,
    pub des3_key_file: Option<PathBuf>,
    pub key_derivation: Option<KeyDerivation>,
    pub gzip_level: Option<u32>,
    pub compression: Option<CompressionName>,
    pub compression_level: Option<i32>,
    pub compression_threads: Option<u32>,
    pub encryption: Option<EncryptionName>,
    pub age_recipients: Option<Vec<String>>,
    pub age_identity_file: Option<PathBuf>,
    pub backup_tool: Option<PathBuf>,
    pub backup_tool_tmpdir: Option<PathBuf>,
    pub temp_server_id: Option<u64>,
    pub server_options: Option<Vec<String>>,
    pub server_user: Option<String>,
    pub retention: Option<Retention>,
    pub s3_part_size: Option<ByteSize>,
    pub s3_parts_in_flight: Option<usize>,
    pub segment_size: Option<ByteSize>,
    pub timezone: Option<String>,
    pub metrics_file: Option<PathBuf>,
    pub rate_limit: Option<ByteSize>,
}

impl ConfFile {
    /// Parses conf.yaml text; unknown keys are an error naming the key.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(ConfFile::default());
        }
        serde_norway::from_str(text).map_err(|e| Error::Config(explain(&e.to_string())))
    }

    /// Reads and parses a conf file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            // A conf that is not there is a wrong command line, not a failed operation.
            std::io::ErrorKind::NotFound => Error::Config(format!(
                "no conf file at {}: give its path with --conf-path",
                path.display()
            )),
            _ => Error::io("read", path, e),
        })?;
        Self::parse(&text).map_err(|e| Error::Config(format!("conf {}: {e}", path.display())))
    }
}

/// The YAML parser's message in conf words: an unknown key gets the nearest known one instead
/// of the list of all, a number out of range its range.
fn explain(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, tail)) = rest.split_once('`')
    {
        let known = tail
            .split_once("expected one of ")
            .map(|(_, list)| list)
            .unwrap_or_default();
        let keys: Vec<&str> = known
            .split(", ")
            .map(|k| k.trim_matches(|c: char| c == '`' || c.is_whitespace()))
            .map(|k| k.split('`').next().unwrap_or(k))
            .filter(|k| !k.is_empty())
            .collect();
        let at = message
            .rfind(" at line ")
            .map(|i| format!(" ({})", message[i + 1..].trim()))
            .unwrap_or_default();
        let nearest = keys
            .iter()
            .map(|k| (strsim::damerau_levenshtein(key, k), *k))
            .min()
            .filter(|(d, _)| *d <= 3.max(key.len() / 3));
        return match nearest {
            Some((_, k)) => format!("unknown key `{key}`{at}: did you mean `{k}`?"),
            None => format!("unknown key `{key}`{at}: every key is in conf.example.yaml"),
        };
    }
    let ranges = [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535 (a port: 1 to 65535)"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number from 0"),
        ("i32", "a whole number"),
        ("usize", "a whole number from 0"),
    ];
    let mut out = message.to_string();
    for (ty, words) in ranges {
        out = out.replace(&format!("expected {ty}"), &format!("expected {words}"));
    }
    out
}

/// A number of bytes, written as an integer or with a unit: `16MiB`, `1GiB`, `512KiB`, `64MB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `16MiB`, `1 GiB`, `1000000`, `64MB`, `2T` (units of 1024 with an `i`, of 1000
    /// without; a bare `K`/`M`/`G`/`T` counts in 1024s).
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| Error::Config(format!("not a size: {text:?} (e.g. 16MiB)")))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "t" | "tib" => 1 << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => {
                return Err(Error::Config(format!(
                    "not a size: {text:?} (units: KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
                )));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| Error::Config(format!("size too large: {text:?}")))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// conf `retention`: what `expire` keeps when no flag says (see its doc).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep the newest N backups of each instance.
    pub keep_last: Option<usize>,
    /// Keep the backups taken in the last D days (by when they were taken, not the day they
    /// are filed under).
    pub keep_days: Option<u32>,
}

/// Condition for `--when`: the command runs only when it holds, else exits 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// Run only when the instance's data dir does not exist.
    #[value(name = "no-data-dir")]
    NoDataDir,
    /// Run only when the instance is not running.
    Stopped,
}

/// Command-line overrides: each replaces the conf value of the same name.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Conf overrides (each replaces the conf key of its name)")]
pub struct Overrides {
    /// Base dir of the MySQL/MariaDB install (bin/, sbin/ under it).
    #[arg(long, global = true)]
    pub mysql_base: Option<PathBuf>,
    /// This host's name or ip: identity in the backup's name.
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Base dir of instance data dirs, e.g. /data1.
    #[arg(long, global = true)]
    pub data_base: Option<PathBuf>,
    /// Base dir of local backup files (the local store when no S3 is configured).
    #[arg(long, global = true)]
    pub backup_base: Option<PathBuf>,
    /// Port of the instance.
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// Id of the instance, unique in its replication group.
    #[arg(long, global = true)]
    pub instance_id: Option<u32>,
    /// Day of the backup to write or restore, e.g. 2017_01_01; default today (local time).
    #[arg(long, global = true)]
    pub date_str: Option<String>,
    /// S3-compatible host (host or host:port).
    #[arg(long, global = true)]
    pub s3_host: Option<String>,
    /// S3 bucket.
    #[arg(long, global = true)]
    pub s3_bucket: Option<String>,
    /// S3 access key.
    #[arg(long, global = true, hide_env_values = true)]
    pub s3_access_key: Option<String>,
    /// S3 secret key.
    #[arg(long, global = true, hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// Remove backup files left on local disk once restore succeeds.
    #[arg(long, global = true)]
    pub clean_after_restore: bool,
    /// Most bytes per second read from the backup tool (backup) or the store (restore,
    /// verify), e.g. 50MiB (conf `rate_limit`; default no limit).
    #[arg(long, global = true, value_name = "BYTES")]
    pub rate_limit: Option<String>,
    /// Run only when this condition holds; otherwise exit 0.
    #[arg(long, global = true, value_enum)]
    pub when: Option<When>,
}

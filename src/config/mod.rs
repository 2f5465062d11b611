//! conf.yaml ([`ConfFile`]), command-line overrides ([`Overrides`]) and the resolved
//! [`Settings`] every command runs on.
//!
//! The YAML types are separate from the runtime type: [`Settings::resolve`] applies the
//! overrides (a flag replaces the conf value), checks required keys and derives the defaults of
//! mission.md section 2. Unknown conf keys are an error naming the key.

use std::path::{Path, PathBuf};

mod file;

use crate::codec::chain::Chain;
pub use crate::codec::des3::KeyDerivation;
pub use crate::codec::options::ChainOptions;
use crate::codec::options::RawChain;
use crate::error::{Error, Result};
pub use crate::mysql::replication::{PeerConfig, ReplicationConfig};
pub use crate::secret::Secret;
pub use crate::store::StoreConfig;
pub use crate::store::s3::options::{RawS3, S3Settings};
pub use file::{ByteSize, ConfFile, Overrides, Retention, When};

/// Environment variables that may hold S3 credentials: removed from the environment of every
/// child (backup tool, servers), which needs none of them.
pub const SECRET_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Everything a command needs, resolved from conf + overrides + derived defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    pub mysql_base: PathBuf,
    pub host: String,
    pub data_base: PathBuf,
    pub backup_base: PathBuf,
    pub port: u16,
    pub instance_id: u32,
    pub date_str: String,
    /// True when the date came from `--date-str` or conf (restore then looks at that day
    /// only; otherwise at the newest backup of any day).
    pub date_explicit: bool,
    pub clean_after_restore: bool,
    pub when: Option<When>,
    pub conf_base: PathBuf,
    pub data_dir: PathBuf,
    /// Where the binlog lives: conf `binlog_dir`, else the data dir. Restore puts the
    /// archive's binlog here, whatever the backup's my.cnf says.
    pub binlog_dir: PathBuf,
    pub my_cnf: PathBuf,
    /// Socket from conf; else read from my.cnf; else `{data_dir}/mysql.sock`.
    pub socket: Option<PathBuf>,
    pub mysql_user: String,
    pub root_password: Option<Secret>,
    /// The codec chain's options (owned by `codec::options`).
    pub codec: ChainOptions,
    pub backup_tool: Option<PathBuf>,
    pub backup_tool_tmpdir: Option<PathBuf>,
    /// `{instance_id}00{port}` or conf `temp_server_id`; checked by
    /// [`Settings::checked_temp_server_id`] where it is used.
    pub temp_server_id: u64,
    pub temp_server_id_from_conf: bool,
    /// The OS user a restore, run as root, hands the restored dirs to and whose temporary
    /// server runs as (conf `server_user`, default `mysql`); never a user an archive names.
    pub server_user: String,
    /// Extra options for the temporary servers restore and catchup_binlog start (conf
    /// `server_options`, e.g. a key management plugin), added to the generated configuration.
    pub server_options: Vec<String>,
    /// Where backups go: S3 when an S3 account is configured, else the local store under
    /// `backup_base`.
    pub store: StoreConfig,
    /// Most bytes one stored object holds (conf `segment_size`; None: as many as the store
    /// allows); a longer backup is stored as consecutive segments.
    pub segment_size: Option<u64>,
    /// The zone `restore --until` reads a time without offset in (conf `timezone`, an IANA
    /// name; None: the host's).
    pub timezone: Option<String>,
    /// Where to write Prometheus metrics after every command (conf `metrics_file`, a `.prom`
    /// file in node_exporter's textfile collector dir).
    pub metrics_file: Option<PathBuf>,
    /// Most bytes per second read from the backup tool or the store (`--rate-limit`, conf
    /// `rate_limit`).
    pub rate_limit: Option<u64>,
    pub replication: ReplicationConfig,
    pub sql_test_insert: Option<String>,
    pub sql_test_get_2: Option<String>,
    pub retention: Retention,
}

fn required<T>(value: Option<T>, key: &str, conf_path: Option<&Path>) -> Result<T> {
    value.ok_or_else(|| {
        let flag = key.replace('_', "-");
        Error::Config(match conf_path {
            Some(p) => format!(
                "`{key}` is required: {} does not set it (add `{key}: ...`, see \
                 conf.example.yaml) and no --{flag} was given",
                p.display()
            ),
            None => format!(
                "`{key}` is required: no --conf-path was given, so pass --{flag}, or a conf file \
                 with `{key}:` (see conf.example.yaml)"
            ),
        })
    })
}

impl Settings {
    /// Applies `overrides` over `conf` and derives defaults. `conf_path` is the conf file's
    /// path, whose directory is the default `conf_base`. S3 credentials missing from flags may
    /// come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    pub fn resolve(
        conf: ConfFile,
        overrides: &Overrides,
        conf_path: Option<&Path>,
    ) -> Result<Self> {
        Self::resolve_with_env(conf, overrides, conf_path, &|k| std::env::var(k).ok())
    }

    /// As [`Settings::resolve`], with the environment given as a function.
    pub fn resolve_with_env(
        conf: ConfFile,
        overrides: &Overrides,
        conf_path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let o = overrides.clone();
        let s3 = crate::store::s3::options::resolve(
            RawS3 {
                host: o.s3_host.clone().or(conf.s3_host.clone()),
                bucket: o.s3_bucket.clone().or(conf.s3_bucket.clone()),
                flag_access_key: o.s3_access_key.clone().map(Secret::new),
                flag_secret_key: o.s3_secret_key.clone().map(Secret::new),
                conf_access_key: conf.s3_access_key.clone(),
                conf_secret_key: conf.s3_secret_key.clone(),
                scheme: conf.s3_scheme.clone(),
                region: conf.s3_region.clone(),
                credentials_file: conf.s3_credentials_file.clone(),
                part_size: conf.s3_part_size.map(|b| b.0),
                parts_in_flight: conf.s3_parts_in_flight,
            },
            env,
        )?;
        let port = required(o.port.or(conf.port), "port", conf_path)?;
        if port == 0 {
            return Err(Error::Config("`port` must be 1..=65535, got 0".into()));
        }
        let instance_id = required(o.instance_id.or(conf.instance_id), "instance_id", conf_path)?;
        let data_base = required(o.data_base.or(conf.data_base), "data_base", conf_path)?;
        let date_explicit = o.date_str.is_some() || conf.date_str.is_some();
        let date_str = match o.date_str.or(conf.date_str) {
            Some(d) => crate::catalog::names::validate_day(d)?,
            None => chrono::Local::now().format("%Y_%m_%d").to_string(),
        };
        let conf_base = conf.conf_base.clone().unwrap_or_else(|| {
            conf_path
                .and_then(Path::parent)
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .unwrap_or(Path::new("."))
                .to_path_buf()
        });
        let data_dir = conf
            .data_dir
            .unwrap_or_else(|| data_base.join(format!("mysql-{port}")));
        let backup_base = required(o.backup_base.or(conf.backup_base), "backup_base", conf_path)?;
        let host = validate_host(required(o.host.or(conf.host), "host", conf_path)?)?;
        for (key, dir) in [
            ("data_dir", Some(&data_dir)),
            ("binlog_dir", conf.binlog_dir.as_ref()),
            ("backup_base", Some(&backup_base)),
            ("socket", conf.socket.as_ref()),
            ("my_cnf", conf.my_cnf.as_ref()),
        ] {
            if let Some(d) = dir
                && (!d.is_absolute()
                    || d.components().any(|c| c == std::path::Component::ParentDir))
            {
                return Err(Error::Config(format!(
                    "`{key}` must be an absolute path without `..`, got {}",
                    d.display()
                )));
            }
        }
        let binlog_dir = conf.binlog_dir.unwrap_or_else(|| data_dir.clone());
        let my_cnf = conf.my_cnf.unwrap_or_else(|| data_dir.join("my.cnf"));
        let codec = crate::codec::options::resolve(RawChain {
            compression: conf.compression,
            compression_level: conf.compression_level,
            compression_threads: conf.compression_threads,
            gzip_level: conf.gzip_level,
            encryption: conf.encryption,
            key_derivation: conf.key_derivation,
            des3_key_file: conf
                .des3_key_file
                .clone()
                .unwrap_or_else(|| conf_base.join("des3_password")),
            age_recipients: conf.age_recipients.clone(),
            age_identity_file: conf.age_identity_file.clone(),
        })?;
        let segment_size = conf.segment_size.map(|b| b.0);
        if let Some(n) = segment_size
            && n < 1 << 20
        {
            return Err(Error::Config(format!(
                "`segment_size` must be at least 1MiB, got {n} bytes"
            )));
        }
        let store = match s3 {
            Some(s3) => StoreConfig::S3(s3),
            None => StoreConfig::Local {
                root: backup_base.clone(),
            },
        };
        let temp_server_id = match conf.temp_server_id {
            Some(id) => id,
            None => format!("{instance_id}00{port}").parse().unwrap_or(u64::MAX),
        };
        Ok(Settings {
            mysql_base: required(o.mysql_base.or(conf.mysql_base), "mysql_base", conf_path)?,
            host,
            backup_base,
            data_base,
            port,
            instance_id,
            date_str,
            date_explicit,
            clean_after_restore: o.clean_after_restore || conf.clean_after_restore.unwrap_or(false),
            when: o.when,
            conf_base,
            data_dir,
            binlog_dir,
            my_cnf,
            socket: conf.socket,
            mysql_user: conf.mysql_user.unwrap_or_else(|| "root".into()),
            root_password: conf.root_password,
            codec,
            backup_tool: conf.backup_tool,
            backup_tool_tmpdir: conf.backup_tool_tmpdir,
            temp_server_id,
            temp_server_id_from_conf: conf.temp_server_id.is_some(),
            server_options: conf.server_options.unwrap_or_default(),
            server_user: conf.server_user.unwrap_or_else(|| "mysql".into()),
            store,
            segment_size,
            timezone: match conf.timezone {
                Some(z) if z.parse::<chrono_tz::Tz>().is_err() => {
                    return Err(Error::Config(format!(
                        "`timezone`: {z:?} is no IANA time zone (e.g. Europe/Berlin, UTC)"
                    )));
                }
                z => z,
            },
            metrics_file: conf.metrics_file,
            rate_limit: match (&o.rate_limit, conf.rate_limit) {
                (Some(t), _) => Some(
                    ByteSize::parse(t)
                        .map_err(|e| Error::Config(format!("--rate-limit: {e}")))?
                        .0,
                ),
                (None, c) => c.map(|b| b.0),
            }
            .filter(|&r| r > 0),
            replication: conf.replication.unwrap_or_default(),
            sql_test_insert: conf.sql_test_insert,
            sql_test_get_2: conf.sql_test_get_2,
            retention: conf.retention.unwrap_or_default(),
        })
    }

    /// The temporary server-id, checked: a server clamps a larger one to 2^32-1 (two
    /// instances would share it), and it must differ from every peer's. Only catch-up uses it,
    /// so only catch-up checks it.
    pub fn checked_temp_server_id(&self) -> Result<u64> {
        let id = self.temp_server_id;
        if !(1..=u64::from(u32::MAX)).contains(&id) {
            return Err(Error::Config(format!(
                "temporary server-id {} ({}) is not in 1..=4294967295: set `temp_server_id`",
                if id == u64::MAX {
                    format!("{}00{}", self.instance_id, self.port)
                } else {
                    id.to_string()
                },
                if self.temp_server_id_from_conf {
                    "`temp_server_id`"
                } else {
                    "`{instance_id}00{port}`"
                }
            )));
        }
        if let Some(peer) = self
            .replication
            .source
            .iter()
            .find(|p| u64::from(p.id) == id)
        {
            return Err(Error::Config(format!(
                "temporary server-id {id} is the server-id of peer {}:{}: set `temp_server_id`",
                peer.host, peer.port
            )));
        }
        Ok(id)
    }

    /// The codec chain backups are written with.
    pub fn chain(&self) -> Chain {
        self.codec.chain()
    }

    /// The instance conf names.
    pub fn instance(&self) -> crate::catalog::Instance {
        crate::catalog::Instance {
            host: self.host.clone(),
            instance_id: self.instance_id,
            port: self.port,
        }
    }

    /// The S3 account, when backups go to S3.
    pub fn s3(&self) -> Option<&S3Settings> {
        match &self.store {
            StoreConfig::S3(s3) => Some(s3),
            StoreConfig::Local { .. } => None,
        }
    }

    /// The day `--date-str` (or conf `date_str`) names, if any: restore and verify then look
    /// at that day's backups only.
    pub fn day(&self) -> Option<&str> {
        self.date_explicit.then_some(self.date_str.as_str())
    }
}

/// Checks `host`, a part of every backup's key: letters, digits and `.`, `-`, `_`, `:` (a
/// name, an IPv4 or IPv6 address), not empty, starting with a letter or digit, and read back
/// the same from a key (a `/` would move the backup where list, verify, expire and restore
/// never look).
pub fn validate_host(host: String) -> Result<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    let fine = host
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && host.len() <= 253
        && host.chars().all(allowed)
        && crate::catalog::parse_key(&crate::catalog::names::full_key(
            "2000_01_01",
            &crate::catalog::Instance {
                host: host.clone(),
                instance_id: 1,
                port: 1,
            },
            chrono::DateTime::UNIX_EPOCH,
            crate::codec::chain::SUFFIXES[0],
        ))
        .is_some_and(|k| k.host.as_deref() == Some(host.as_str()));
    if fine {
        Ok(host)
    } else {
        Err(Error::Config(format!(
            "`host` must be a host name or address (letters, digits, `.`, `-`, `_`, `:`; \
             starting with a letter or digit): it names every backup, got {host:?}"
        )))
    }
}

#[cfg(test)]
mod tests;

//! conf.yaml ([`ConfFile`]), command-line overrides ([`Overrides`]) and the resolved
//! [`Settings`] every command runs on.
//!
//! The YAML types are separate from the runtime type: [`Settings::resolve`] applies the
//! overrides (a flag replaces the conf value), checks required keys and derives the defaults of
//! mission.md section 2. Unknown conf keys are an error naming the key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::codec::chain::{Chain, Cipher, Compression};
pub use crate::codec::des3::KeyDerivation;
use crate::error::{Error, Result};
pub use crate::mysql::replication::{PeerConfig, ReplicationConfig};
pub use crate::store::s3::options::{RawS3, S3Settings};

/// A secret string: never printed, in `Debug` or `Display`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Environment variables that may hold S3 credentials: removed from the environment of every
/// child (backup tool, servers), which needs none of them.
pub const SECRET_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

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
    pub backup_tool: Option<PathBuf>,
    pub backup_tool_tmpdir: Option<PathBuf>,
    pub temp_server_id: Option<u64>,
    pub server_options: Option<Vec<String>>,
}

impl ConfFile {
    /// Parses conf.yaml text; unknown keys are an error naming the key.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(ConfFile::default());
        }
        serde_norway::from_str(text).map_err(|e| Error::Config(e.to_string()))
    }

    /// Reads and parses a conf file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }
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
    /// Run only when this condition holds; otherwise exit 0.
    #[arg(long, global = true, value_enum)]
    pub when: Option<When>,
}

/// gzip level when the config names none (see `Settings::gzip_level`).
pub const DEFAULT_GZIP_LEVEL: u32 = 2;

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
    pub des3_key_file: PathBuf,
    pub key_derivation: KeyDerivation,
    pub gzip_level: u32,
    pub backup_tool: Option<PathBuf>,
    pub backup_tool_tmpdir: Option<PathBuf>,
    /// `{instance_id}00{port}` or conf `temp_server_id`; checked by
    /// [`Settings::checked_temp_server_id`] where it is used.
    pub temp_server_id: u64,
    pub temp_server_id_from_conf: bool,
    /// Extra options for the temporary servers restore and catchup_binlog start (conf
    /// `server_options`, e.g. a key management plugin), added to the generated configuration.
    pub server_options: Vec<String>,
    pub s3: Option<S3Settings>,
    pub replication: ReplicationConfig,
    pub sql_test_insert: Option<String>,
    pub sql_test_get_2: Option<String>,
}

fn required<T>(value: Option<T>, key: &str) -> Result<T> {
    value.ok_or_else(|| {
        Error::Config(format!(
            "`{key}` is required (in conf.yaml or as --{})",
            key.replace('_', "-")
        ))
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
                flag_access_key: o.s3_access_key.clone().map(Secret),
                flag_secret_key: o.s3_secret_key.clone().map(Secret),
                conf_access_key: conf.s3_access_key.clone(),
                conf_secret_key: conf.s3_secret_key.clone(),
                scheme: conf.s3_scheme.clone(),
                region: conf.s3_region.clone(),
                credentials_file: conf.s3_credentials_file.clone(),
            },
            env,
        )?;
        let port = required(o.port.or(conf.port), "port")?;
        let instance_id = required(o.instance_id.or(conf.instance_id), "instance_id")?;
        let data_base = required(o.data_base.or(conf.data_base), "data_base")?;
        let date_explicit = o.date_str.is_some() || conf.date_str.is_some();
        let date_str = match o.date_str.or(conf.date_str) {
            Some(d) => validate_date_str(d)?,
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
        for (key, dir) in [
            ("data_dir", Some(&data_dir)),
            ("binlog_dir", conf.binlog_dir.as_ref()),
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
        // zlib-rs level 1 is a quicker strategy that stores ~35% more than `gzip --fast`; level 2
        // compresses like `gzip --fast` (sysbench xbstream: 0.100 vs 0.107 of the input, 420 MiB/s)
        // and leaves des3, the slowest stage, fewer bytes to encrypt.
        let gzip_level = conf.gzip_level.unwrap_or(DEFAULT_GZIP_LEVEL);
        if gzip_level > 9 {
            return Err(Error::Config(format!(
                "`gzip_level` must be 0..=9, got {gzip_level}"
            )));
        }
        let temp_server_id = match conf.temp_server_id {
            Some(id) => id,
            None => format!("{instance_id}00{port}").parse().unwrap_or(u64::MAX),
        };
        Ok(Settings {
            mysql_base: required(o.mysql_base.or(conf.mysql_base), "mysql_base")?,
            host: required(o.host.or(conf.host), "host")?,
            backup_base: required(o.backup_base.or(conf.backup_base), "backup_base")?,
            data_base,
            port,
            instance_id,
            date_str,
            date_explicit,
            clean_after_restore: o.clean_after_restore || conf.clean_after_restore.unwrap_or(false),
            when: o.when,
            des3_key_file: conf
                .des3_key_file
                .unwrap_or_else(|| conf_base.join("des3_password")),
            conf_base,
            data_dir,
            binlog_dir,
            my_cnf,
            socket: conf.socket,
            mysql_user: conf.mysql_user.unwrap_or_else(|| "root".into()),
            root_password: conf.root_password,
            key_derivation: conf.key_derivation.unwrap_or_default(),
            gzip_level,
            backup_tool: conf.backup_tool,
            backup_tool_tmpdir: conf.backup_tool_tmpdir,
            temp_server_id,
            temp_server_id_from_conf: conf.temp_server_id.is_some(),
            server_options: conf.server_options.unwrap_or_default(),
            s3,
            replication: conf.replication.unwrap_or_default(),
            sql_test_insert: conf.sql_test_insert,
            sql_test_get_2: conf.sql_test_get_2,
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
        Chain {
            compression: Compression::Gzip {
                level: self.gzip_level,
            },
            cipher: Cipher::Des3 {
                kdf: self.key_derivation,
            },
        }
    }

    /// The backup's object key / relative path (mission.md section 3).
    pub fn backup_key(&self) -> String {
        crate::catalog::backup_key(
            &self.date_str,
            self.port,
            &self.host,
            self.instance_id,
            self.chain().suffix(),
        )
    }
}

/// Checks the `YYYY_MM_DD` form of `--date-str`.
pub fn validate_date_str(d: String) -> Result<String> {
    chrono::NaiveDate::parse_from_str(&d, "%Y_%m_%d")
        .map(|_| d.clone())
        .map_err(|_| Error::Config(format!("date_str must look like 2017_01_01, got {d:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "mysql_base: /usr\nhost: h1\ndata_base: /data1\nbackup_base: /data1/backup\nport: 3309\ninstance_id: 1\n";

    /// Settings from conf text alone (no overrides, no conf path).
    fn resolve(text: &str) -> Result<Settings> {
        resolve_env(text, &[])
    }

    /// As [`resolve`] with exactly `vars` in the environment.
    fn resolve_env(text: &str, vars: &[(&str, &str)]) -> Result<Settings> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve_with_env(
            ConfFile::parse(text)?,
            &Overrides::default(),
            None,
            &move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
        )
    }

    #[test]
    fn derives_defaults() {
        let conf = ConfFile::parse(BASE).unwrap();
        let s = Settings::resolve_with_env(
            conf,
            &Overrides::default(),
            Some(Path::new("/etc/mb/conf.yaml")),
            &|_| None,
        )
        .unwrap();
        assert_eq!(s.data_dir, Path::new("/data1/mysql-3309"));
        assert_eq!(s.my_cnf, Path::new("/data1/mysql-3309/my.cnf"));
        assert_eq!(s.temp_server_id, 1003309);
        assert_eq!(s.des3_key_file, Path::new("/etc/mb/des3_password"));
        assert_eq!(s.gzip_level, DEFAULT_GZIP_LEVEL);
        assert!(s.s3.is_none());
        assert_eq!(s.date_str.len(), 10);
    }

    #[test]
    fn temporary_server_id_must_fit_and_differ_from_peers() {
        // Only catch-up uses it: the settings resolve, the check fails.
        let too_big = format!("{BASE}instance_id: 5000\n").replace("instance_id: 1\n", "");
        let err = resolve(&too_big)
            .unwrap()
            .checked_temp_server_id()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("5000003309") && err.contains("temp_server_id"),
            "{err}"
        );
        let huge = format!("{BASE}instance_id: 4000000000\n").replace("instance_id: 1\n", "");
        let err = resolve(&huge)
            .unwrap()
            .checked_temp_server_id()
            .unwrap_err();
        assert!(err.to_string().contains("4000000000003309"), "{err}");
        let clash =
            format!("{BASE}replication:\n  source:\n    - {{host: h9, port: 3309, id: 1003309}}\n");
        let err = resolve(&clash)
            .unwrap()
            .checked_temp_server_id()
            .unwrap_err()
            .to_string();
        assert!(err.contains("peer h9:3309"), "{err}");
        let s = resolve(&format!("{BASE}temp_server_id: 4294967295\n")).unwrap();
        assert_eq!(s.checked_temp_server_id().unwrap(), 4294967295);
    }

    #[test]
    fn s3_credentials_from_flags_environment_conf_or_file() {
        let s3 = format!("{BASE}s3_host: h\ns3_bucket: b\n");
        let err = resolve(&s3).unwrap_err().to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
        let env = [
            ("AWS_ACCESS_KEY_ID", "AKENV"),
            ("AWS_SECRET_ACCESS_KEY", "SKENV"),
        ];
        let got = resolve_env(&s3, &env).unwrap().s3.unwrap();
        assert_eq!(
            (got.access_key.expose(), got.secret_key.expose()),
            ("AKENV", "SKENV")
        );
        // The environment wins over conf keys.
        let with_conf = format!("{s3}s3_access_key: AKCONF\ns3_secret_key: SKCONF\n");
        let got = resolve_env(&with_conf, &env).unwrap().s3.unwrap();
        assert_eq!(got.secret_key.expose(), "SKENV");
        let got = resolve(&with_conf).unwrap().s3.unwrap();
        assert_eq!(got.secret_key.expose(), "SKCONF");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        std::fs::write(
            &file,
            "[other]\naws_access_key_id = AKOTHER\n[default]\naws_access_key_id = AKFILE\naws_secret_access_key=SKFILE\n",
        )
        .unwrap();
        let from_file = format!("{s3}s3_credentials_file: {}\n", file.display());
        let got = resolve(&from_file).unwrap().s3.unwrap();
        assert_eq!(
            (got.access_key.expose(), got.secret_key.expose()),
            ("AKFILE", "SKFILE")
        );
    }

    #[test]
    fn target_dirs_must_be_absolute() {
        let err = resolve(&format!("{BASE}binlog_dir: ../x\n")).unwrap_err();
        assert!(err.to_string().contains("binlog_dir"), "{err}");
        let s = resolve(&format!("{BASE}binlog_dir: /data1/binlog-3309\n")).unwrap();
        assert_eq!(s.binlog_dir, Path::new("/data1/binlog-3309"));
        assert_eq!(
            resolve(BASE).unwrap().binlog_dir,
            Path::new("/data1/mysql-3309")
        );
    }

    #[test]
    fn overrides_win_over_conf() {
        let conf = ConfFile::parse(BASE).unwrap();
        let o = Overrides {
            port: Some(3310),
            host: Some("h2".into()),
            date_str: Some("2017_01_01".into()),
            instance_id: Some(7),
            s3_host: Some("127.0.0.1:9000".into()),
            s3_bucket: Some("b".into()),
            s3_access_key: Some("ak".into()),
            s3_secret_key: Some("sk".into()),
            ..Default::default()
        };
        let s = Settings::resolve_with_env(conf, &o, None, &|_| None).unwrap();
        assert_eq!(s.port, 3310);
        assert_eq!(s.host, "h2");
        assert_eq!(s.data_dir, Path::new("/data1/mysql-3310"));
        assert_eq!(s.temp_server_id, 7003310);
        assert_eq!(s.backup_key(), "2017_01_01/3310/mysql-3310-h2-7.tgz.des3");
        let s3 = s.s3.unwrap();
        assert_eq!(s3.endpoint(), "http://127.0.0.1:9000");
        assert_eq!(s3.secret_key.expose(), "sk");
        assert_eq!(s.des3_key_file, Path::new("./des3_password"));
    }

    #[test]
    fn the_example_conf_parses_and_names_only_real_keys() {
        let text = include_str!("../conf.example.yaml");
        resolve(text).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# ")?.split_once(':'))
            .map(|(k, _)| k)
            .filter(|k| {
                !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
            .collect();
        assert!(keys.len() > 20, "{keys:?}");
        for k in keys {
            ConfFile::parse(&format!("{k}:\n")).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let err = ConfFile::parse(&format!("{BASE}s3_hots: x\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3_hots"), "{err}");
    }

    #[test]
    fn missing_required_is_named() {
        let err = resolve("host: h\n").unwrap_err().to_string();
        assert!(err.contains("`port`"), "{err}");
    }

    #[test]
    fn partial_s3_is_an_error() {
        let err = resolve(&format!("{BASE}s3_host: s3.example\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3_bucket"), "{err}");
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = resolve(&format!(
            "{BASE}s3_host: h\ns3_bucket: b\ns3_access_key: AKSECRET1\ns3_secret_key: SKSECRET2\nroot_password: RPSECRET3\n"
        ))
        .unwrap();
        let shown = format!("{s:?}");
        for secret in ["AKSECRET1", "SKSECRET2", "RPSECRET3"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
    }

    #[test]
    fn bad_date_rejected() {
        assert!(validate_date_str("2017-01-01".into()).is_err());
        assert!(validate_date_str("2017_13_01".into()).is_err());
        assert_eq!(
            validate_date_str("2017_01_31".into()).unwrap(),
            "2017_01_31"
        );
    }

    #[test]
    fn original_seed_conf_parses() {
        let text = r#"
mysql_base: /usr/local/mysql-5.7.13
host: 127.0.0.1
data_base: /data1
backup_base: /data1/backup
port: 3309
instance_id: 1
sql_test_insert: 'insert into `xp2`.`heartbeat` (`key`, `value`, `ts`) values ("test-backup", "{v}", "{v}")'
sql_test_get_2: 'select `value` from `xp2`.`heartbeat` order by `_id` desc limit 2'
s3_host : "s3.amazonaws.com"
s3_bucket : "mysql-backup"
s3_access_key : "143728432789"
s3_secret_key : "jfkdslfjdsklfjdsklfdjkls"
replication:
  user: repl
  password: pw
  source:
    - {host: 10.0.0.2, port: 3309, id: 2}
"#;
        let s = resolve(text).unwrap();
        assert_eq!(s.replication.source.len(), 1);
        assert_eq!(s.s3.unwrap().host, "s3.amazonaws.com");
    }
}

//! A test's conf.yaml, built from typed values ([`Conf`]), with its key file and local store.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::mariadb::Mariadb;
use super::s3::Moto;

pub const DES3_PASSWORD: &str = "des3-password-for-tests";

/// Replication peers (port, server id), password, catch-up timeout in seconds.
pub type Replication = (Vec<(u16, u32)>, String, u64);

/// The conf of one test instance beyond what [`Workspace::new`] derives from its server.
#[derive(Clone, Debug, Default)]
pub struct Conf {
    pub backup_tool: Option<PathBuf>,
    pub date_str: Option<String>,
    pub mysql_base: Option<PathBuf>,
    /// S3 on a moto port: bucket, and whether the keys are in conf (else: the environment).
    pub s3: Option<(u16, String, bool)>,
    /// Replication: peers (port, server id), password, catch-up timeout in seconds.
    pub replication: Option<Replication>,
    pub data_dir: Option<PathBuf>,
    pub binlog_dir: Option<PathBuf>,
    pub my_cnf: Option<PathBuf>,
    pub backup_base: Option<PathBuf>,
    /// SQL user and password.
    pub user: Option<(String, String)>,
    /// `sql_test_insert` and `sql_test_get_2`.
    pub sql_test: Option<(String, String)>,
    /// zstd + age to this recipient, opened with this identity file.
    pub modern: Option<(String, PathBuf)>,
    /// `replication.catchup_require: all`.
    pub catchup_require_all: bool,
    /// conf `server_options`.
    pub server_options: Vec<String>,
    /// Further conf lines, as written (e.g. `segment_size: 1MiB`).
    pub lines: Vec<String>,
}

impl Conf {
    /// A further conf line, as written.
    pub fn line(mut self, l: &str) -> Self {
        self.lines.push(l.to_string());
        self
    }
    pub fn tool(mut self, p: &Path) -> Self {
        self.backup_tool = Some(p.to_path_buf());
        self
    }
    pub fn date(mut self, d: &str) -> Self {
        self.date_str = Some(d.to_string());
        self
    }
    pub fn mysql_base(mut self, p: &Path) -> Self {
        self.mysql_base = Some(p.to_path_buf());
        self
    }
    pub fn s3(mut self, moto: &Moto, bucket: &str) -> Self {
        self.s3 = Some((moto.port, bucket.to_string(), true));
        self
    }
    /// S3 without keys in conf (they come from the environment).
    pub fn s3_without_keys(mut self, moto: &Moto, bucket: &str) -> Self {
        self.s3 = Some((moto.port, bucket.to_string(), false));
        self
    }
    pub fn replication(mut self, peers: &[(u16, u32)], password: &str, timeout: u64) -> Self {
        self.replication = Some((peers.to_vec(), password.to_string(), timeout));
        self
    }
    pub fn data_dir(mut self, p: &Path) -> Self {
        self.data_dir = Some(p.to_path_buf());
        self
    }
    pub fn binlog_dir(mut self, p: &Path) -> Self {
        self.binlog_dir = Some(p.to_path_buf());
        self
    }
    pub fn my_cnf(mut self, p: &Path) -> Self {
        self.my_cnf = Some(p.to_path_buf());
        self
    }
    pub fn backup_base(mut self, p: &Path) -> Self {
        self.backup_base = Some(p.to_path_buf());
        self
    }
    pub fn user(mut self, user: &str, password: &str) -> Self {
        self.user = Some((user.to_string(), password.to_string()));
        self
    }
    /// The modern format: zstd + age to `recipient`; `identity` opens it.
    pub fn modern(mut self, recipient: &str, identity: &Path) -> Self {
        self.modern = Some((recipient.to_string(), identity.to_path_buf()));
        self
    }
    pub fn server_options(mut self, options: &[&str]) -> Self {
        self.server_options = options.iter().map(|o| o.to_string()).collect();
        self
    }
    pub fn catchup_require_all(mut self) -> Self {
        self.catchup_require_all = true;
        self
    }
    pub fn sql_test(mut self, insert: &str, get: &str) -> Self {
        self.sql_test = Some((insert.to_string(), get.to_string()));
        self
    }

    /// The YAML lines of these values (strings single-quoted).
    fn yaml(&self) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let p = |p: &Path| q(&p.display().to_string());
        let mut y = String::new();
        let mut line = |k: &str, v: String| y.push_str(&format!("{k}: {v}\n"));
        if let Some(t) = &self.backup_tool {
            line("backup_tool", p(t));
        }
        if let Some(d) = &self.date_str {
            line("date_str", q(d));
        }
        if let Some(m) = &self.mysql_base {
            line("mysql_base", p(m));
        }
        if let Some((port, bucket, keys)) = &self.s3 {
            line("s3_host", q(&format!("127.0.0.1:{port}")));
            line("s3_bucket", q(bucket));
            if *keys {
                line("s3_access_key", q("AKIAEXAMPLEKEY"));
                line("s3_secret_key", q("s3-secret-never-shown"));
            }
        }
        for (k, v) in [
            ("data_dir", &self.data_dir),
            ("binlog_dir", &self.binlog_dir),
            ("my_cnf", &self.my_cnf),
        ] {
            if let Some(v) = v {
                line(k, p(v));
            }
        }
        if let Some((u, pw)) = &self.user {
            line("mysql_user", q(u));
            line("root_password", q(pw));
        }
        if let Some((r, id)) = &self.modern {
            line("compression", q("zstd"));
            line("encryption", q("age"));
            line("age_recipients", format!("[{}]", q(r)));
            line("age_identity_file", p(id));
        }
        if !self.server_options.is_empty() {
            let list: Vec<String> = self.server_options.iter().map(|o| q(o)).collect();
            line("server_options", format!("[{}]", list.join(", ")));
        }
        for l in &self.lines {
            let (k, v) = l.split_once(':').expect("a conf line is `key: value`");
            line(k, v.trim().to_string());
        }
        if let Some((i, g)) = &self.sql_test {
            line("sql_test_insert", q(i));
            line("sql_test_get_2", q(g));
        }
        if let Some((peers, pw, timeout)) = &self.replication {
            y.push_str(&format!(
                "replication:\n  user: repl\n  password: {}\n  connect_retry: 1\n  catchup_timeout: {timeout}\n  source:{}\n",
                q(pw),
                if peers.is_empty() { " []" } else { "" }
            ));
            for (port, id) in peers {
                y.push_str(&format!(
                    "    - {{host: 127.0.0.1, port: {port}, id: {id}}}\n"
                ));
            }
            if self.catchup_require_all {
                y.push_str("  catchup_require: all\n");
            }
        }
        y
    }
}

/// A conf.yaml, key file and backup_base for one instance.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub backup_base: PathBuf,
    pub tool_tmp: PathBuf,
    pub key_file: PathBuf,
    /// What the conf holds beyond the instance's own values.
    pub values: Conf,
    base: String,
    default_backup_base: PathBuf,
}

impl Workspace {
    /// Writes conf.yaml for `db` as instance `instance_id`, with `conf`.
    pub fn new(db: &Mariadb, instance_id: u32, conf: Conf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let default_backup_base = dir.path().join("backup");
        let backup_base = conf
            .backup_base
            .clone()
            .unwrap_or_else(|| default_backup_base.clone());
        let tool_tmp = dir.path().join("tool-tmp");
        std::fs::create_dir_all(&backup_base).unwrap();
        std::fs::create_dir_all(&tool_tmp).unwrap();
        let key_file = dir.path().join("des3_password");
        std::fs::write(&key_file, format!("{DES3_PASSWORD}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let base = format!(
            "host: testhost\ndata_base: {}\nport: {}\ninstance_id: {instance_id}\nbackup_tool_tmpdir: {}\n",
            db.data_base().display(),
            db.port,
            tool_tmp.display()
        );
        let conf_path = dir.path().join("conf.yaml");
        let ws = Workspace {
            dir,
            conf: conf_path,
            backup_base,
            tool_tmp,
            key_file,
            values: conf,
            base,
            default_backup_base,
        };
        ws.write(&ws.conf, &ws.values);
        ws
    }

    fn write(&self, path: &Path, conf: &Conf) {
        let mysql_base = if conf.mysql_base.is_some() {
            String::new()
        } else {
            "mysql_base: /usr\n".into()
        };
        let backup_base = conf
            .backup_base
            .as_ref()
            .unwrap_or(&self.default_backup_base);
        std::fs::write(
            path,
            format!(
                "{mysql_base}backup_base: '{}'\n{}{}",
                backup_base.display(),
                self.base,
                conf.yaml()
            ),
        )
        .unwrap();
    }

    /// A second conf file of this workspace named `name`, with `change` applied to its values;
    /// returns its path.
    pub fn variant(&self, name: &str, change: impl FnOnce(Conf) -> Conf) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.yaml"));
        self.write(&path, &change(self.values.clone()));
        path
    }

    /// A `mysqlbackup --conf-path conf.yaml ARGS` command.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_with(&self.conf, args)
    }

    /// A `mysqlbackup --conf-path CONF ARGS` command (CONF: e.g. a [`Workspace::variant`]).
    pub fn cmd_with(&self, conf: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--conf-path").arg(conf).args(args);
        // Children that fall back to $TMPDIR (mariabackup --prepare) get a private one.
        c.env("TMPDIR", &self.tool_tmp);
        c
    }
}

/// The mysqlbackup binary under test: this build's, or `$MYSQLBACKUP_BIN` (to show that a
/// regression test fails on an older build).
pub fn bin() -> PathBuf {
    std::env::var_os("MYSQLBACKUP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mysqlbackup")))
}

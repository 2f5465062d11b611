//! Private MariaDB servers for tests: installed in a temp dir, on a free port, with a my.cnf,
//! stopped on drop; a writer that inserts until stopped; replication accounts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, require, wait_for_or};

/// A private MariaDB server.
pub struct Mariadb {
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub port: u16,
    pub server_id: u32,
    /// The OS user the server runs as (`user=` in its my.cnf).
    pub os_user: String,
    extra_cnf: String,
    /// Where `mariadb-install-db` and `mariadbd` come from: another release's (see
    /// [`Mariadb::start_release`]), or PATH.
    release_bin: Option<PathBuf>,
    child: Option<Child>,
}

impl Mariadb {
    /// `{data_base}/mysql-{port}` as the data dir, with a my.cnf in it, running.
    pub fn start(server_id: u32) -> Self {
        Self::start_as(server_id, "root")
    }

    /// As [`Mariadb::start`], with the server running as OS user `os_user` (`user=` in
    /// my.cnf; the data dir and tmpdir are owned by it, their parent opened to it).
    pub fn start_as(server_id: u32, os_user: &str) -> Self {
        Self::start_with(server_id, os_user, "")
    }

    /// As [`Mariadb::start_as`], with `extra_cnf` lines appended to `[mysqld]` (later lines
    /// win, e.g. `log-slave-updates=0`).
    pub fn start_with(server_id: u32, os_user: &str, extra_cnf: &str) -> Self {
        Self::start_hooked(server_id, os_user, extra_cnf, |_| {})
    }

    /// As [`Mariadb::start_with`]; `extra_cnf` may use `{d}` for the data dir and `{base}` for
    /// the dir above it (the instance's private temp dir), and `hook`
    /// runs on the installed data dir before the server first starts (e.g. to move its redo
    /// log where `extra_cnf` says).
    pub fn start_hooked(
        server_id: u32,
        os_user: &str,
        extra_cnf: &str,
        hook: impl FnOnce(&Path),
    ) -> Self {
        Self::install(None, server_id, os_user, extra_cnf, hook)
    }

    /// As [`Mariadb::start`], with the server programs (`mariadb-install-db`, `mariadbd`) of
    /// `bin`: another MariaDB release (e.g. [`mariadb11`]'s).
    pub fn start_release(server_id: u32, bin: &Path) -> Self {
        Self::install(Some(bin.to_path_buf()), server_id, "root", "", |_| {})
    }

    fn program(release_bin: Option<&Path>, name: &str) -> PathBuf {
        match release_bin {
            Some(b) => b.join(name),
            None => require(name),
        }
    }

    fn install(
        release_bin: Option<PathBuf>,
        server_id: u32,
        os_user: &str,
        extra_cnf: &str,
        hook: impl FnOnce(&Path),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let port = free_port();
        let data_dir = dir.path().join(format!("mysql-{port}"));
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let chown = |p: &Path| {
            let st = Command::new("chown")
                .args(["-R", &format!("{os_user}:")])
                .arg(p)
                .status()
                .unwrap();
            assert!(st.success(), "chown {} to {os_user}", p.display());
        };
        if os_user != "root" {
            chown(&tmp);
        }
        let out = Command::new(Self::program(release_bin.as_deref(), "mariadb-install-db"))
            .args([
                "--no-defaults",
                &format!("--user={os_user}"),
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ])
            .arg(format!("--datadir={}", data_dir.display()))
            // Its own tmpdir: a starting server deletes `#sql` files it finds in its tmpdir,
            // so servers sharing /tmp break each other's bootstrap.
            .arg(format!("--tmpdir={}", tmp.display()))
            .env("TMPDIR", &tmp)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        hook(&data_dir);
        if os_user != "root" {
            chown(&data_dir);
        }
        let extra_cnf = extra_cnf
            .replace("{d}", &data_dir.display().to_string())
            .replace("{base}", &dir.path().display().to_string());
        let mut m = Mariadb {
            dir,
            data_dir,
            port,
            server_id,
            os_user: os_user.to_string(),
            extra_cnf,
            release_bin,
            child: None,
        };
        m.write_my_cnf();
        m.start_server();
        m
    }

    /// The server's own tmpdir (MariaDB removes other servers' `#sql` files from a shared one
    /// at startup).
    pub fn tmp_dir(&self) -> PathBuf {
        let t = self.dir.path().join("tmp");
        std::fs::create_dir_all(&t).unwrap();
        t
    }

    /// The instance's my.cnf.
    pub fn my_cnf(&self) -> PathBuf {
        self.data_dir.join("my.cnf")
    }

    /// The directory that plays `data_base`.
    pub fn data_base(&self) -> PathBuf {
        self.data_dir.parent().unwrap().to_path_buf()
    }

    pub fn socket(&self) -> PathBuf {
        self.data_dir.join("mysql.sock")
    }

    fn write_my_cnf(&self) {
        let d = self.data_dir.display();
        std::fs::write(
            self.my_cnf(),
            format!(
                "[mysqld]\nuser={}\ndatadir={d}\nport={}\nbind-address=127.0.0.1\nsocket={d}/mysql.sock\npid-file={d}/mysql.pid\nlog-error={d}/error.log\nserver-id={}\nlog-bin={d}/binlog\nlog-slave-updates\ngtid-strict-mode=1\ngtid-domain-id={}\nbinlog-format=ROW\ninnodb-buffer-pool-size=64M\ntmpdir={}\n{}",
                self.os_user,
                self.port,
                self.server_id,
                self.server_id,
                self.tmp_dir().display(),
                self.extra_cnf
            ),
        )
        .unwrap();
    }

    fn start_server(&mut self) {
        let child = Command::new(Self::program(self.release_bin.as_deref(), "mariadbd"))
            .arg(format!("--defaults-file={}", self.my_cnf().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let sock = self.socket();
        let err = self.data_dir.join("error.log");
        let start = Instant::now();
        loop {
            let ok = Command::new(require("mariadb"))
                .args(["--no-defaults", "-uroot", "-e", "select 1"])
                .arg(format!("--socket={}", sock.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success();
            if ok {
                break;
            }
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().unwrap()) {
                panic!(
                    "mariadbd exited ({status}): {}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "mariadbd not ready in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs SQL, returns tab-separated output without headers.
    pub fn sql(&self, q: &str) -> String {
        let out = Command::new(require("mariadb"))
            .args(["--no-defaults", "-uroot", "-N", "-B", "-e", q])
            .arg(format!("--socket={}", self.socket().display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sql {q}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Replication state and the tail of the error log, for a failing test's message.
    pub fn diagnose(&self) -> String {
        let slaves = Command::new(require("mariadb"))
            .args([
                "--no-defaults",
                "-uroot",
                "-e",
                "SHOW ALL SLAVES STATUS\\G SELECT @@gtid_binlog_pos, @@gtid_slave_pos; SHOW PROCESSLIST",
            ])
            .arg(format!("--socket={}", self.socket().display()))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let log = std::fs::read_to_string(self.data_dir.join("error.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "--- port {} slaves:\n{slaves}\n--- port {} error.log tail:\n{}",
            self.port,
            self.port,
            tail.join("\n")
        )
    }

    /// Stops the server (SIGTERM, then SIGKILL after 60 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while c.try_wait().unwrap().is_none() {
                if start.elapsed() > Duration::from_secs(60) {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Kills the server with SIGKILL (a crash: no clean shutdown).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on its data dir, with the my.cnf found there (e.g. the one a
    /// restore wrote).
    pub fn restart(&mut self) {
        self.stop();
        self.start_server();
    }

    /// Stops the server and starts it again on `port`, with its my.cnf rewritten for it (one
    /// port's instances, of which only one runs at a time on a test host).
    pub fn restart_on_port(&mut self, port: u16) {
        self.stop();
        self.port = port;
        self.write_my_cnf();
        self.start_server();
    }

    /// Stops the server and moves its data dir away (the instance "dies"); returns where.
    pub fn kill_and_move_away(&mut self) -> PathBuf {
        self.stop();
        let away = (1..)
            .map(|n| self.dir.path().join(format!("dead-data-{n}")))
            .find(|p| !p.exists())
            .unwrap();
        std::fs::rename(&self.data_dir, &away).unwrap();
        away
    }

    /// The sequence number of this server's own domain (= its server id) in
    /// `@@gtid_binlog_pos` (0 when empty).
    pub fn gtid_seq(&self) -> u64 {
        let pos = self.sql("SELECT @@gtid_binlog_pos");
        let domain = format!("{}-", self.server_id);
        pos.split(',')
            .find(|g| g.starts_with(&domain))
            .and_then(|g| g.rsplit('-').next())
            .map(|n| n.parse().unwrap())
            .unwrap_or(0)
    }

    /// Starts a server on an existing (e.g. prepared) data dir, with a fresh my.cnf.
    pub fn start_on(data_dir: &Path, server_id: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut m = Mariadb {
            dir,
            data_dir: data_dir.to_path_buf(),
            port,
            server_id,
            os_user: "root".into(),
            extra_cnf: String::new(),
            release_bin: None,
            child: None,
        };
        m.write_my_cnf();
        m.start_server();
        m
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A writer that inserts rows continuously through one `mariadb` client until stopped.
pub struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Writer {
    /// Inserts into `table` (which must have an auto-increment id and a `v` column).
    pub fn start(db: &Mariadb, table: &str) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut child = Command::new(require("mariadb"))
            .args(["--no-defaults", "-uroot"])
            .arg(format!("--socket={}", db.socket().display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let s = stop.clone();
        let table = table.to_string();
        let thread = std::thread::spawn(move || {
            let mut stdin = child.stdin.take().unwrap();
            let mut n = 0u64;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                writeln!(stdin, "INSERT INTO {table}(v) VALUES (REPEAT('w', 200));").unwrap();
                n += 1;
                if n.is_multiple_of(20) {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            drop(stdin);
            let _ = child.wait();
            n
        });
        Writer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns how many inserts were sent.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Creates the replication account `repl`@`127.0.0.1` with `password` on `db`, not logged
/// (each instance gets its own): REPLICATION SLAVE, and SLAVE MONITOR for catch-up to read
/// what the peer has received. The password is quoted for the server's sql_mode.
pub fn repl_user(db: &Mariadb, password: &str) {
    let nbe = db
        .sql("SELECT @@GLOBAL.sql_mode")
        .contains("NO_BACKSLASH_ESCAPES");
    let mut quoted = password.replace('\'', "''");
    if !nbe {
        quoted = quoted.replace('\\', "\\\\");
    }
    db.sql(&format!(
        "SET sql_log_bin = 0; CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '{quoted}'; \
         GRANT REPLICATION SLAVE, SLAVE MONITOR ON *.* TO 'repl'@'127.0.0.1';"
    ));
}

/// Rows of `app.t` whose `v` is `v`.
pub fn has(db: &Mariadb, v: &str) -> u64 {
    db.sql(&format!("SELECT COUNT(*) FROM app.t WHERE v = '{v}'"))
        .parse()
        .unwrap()
}

/// Waits (60 s at most) until `app.t` on `db` has exactly one row `v`; on timeout the panic
/// carries the server's replication state and error log.
pub fn wait_has(db: &Mariadb, v: &str) {
    wait_has_or(db, v, &[]);
}

/// As [`wait_has`]; on timeout the panic also carries the state of `others` (the peers).
pub fn wait_has_or(db: &Mariadb, v: &str, others: &[&Mariadb]) {
    wait_for_or(
        &format!("{v} on port {}", db.port),
        Duration::from_secs(60),
        || {
            db.sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'app' AND table_name = 't'")
                == "1"
                && has(db, v) == 1
        },
        || {
            let mut d = db.diagnose();
            for o in others {
                d.push_str(&o.diagnose());
            }
            d
        },
    );
}

/// The real MariaDB 11.8 that `scripts/setup-mariadb11.sh` (run by the test command) installs:
/// its basedir, whose `bin/` holds `mariadbd`, `mariadb-backup`, `mariadb-binlog`, ... (conf
/// `mysql_base`). Fails loudly when it is missing (the README's test command installs it).
pub fn mariadb11() -> PathBuf {
    let dir = std::env::var_os("MARIADB11_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/mysqlbackup-test/mariadb-11"));
    let base = dir.join("usr");
    assert!(
        base.join("bin/mariadbd").exists() && dir.join(".setup-ok-v1").exists(),
        "no MariaDB 11 under {}: run scripts/setup-mariadb11.sh (scripts/test.sh does)",
        dir.display()
    );
    base
}

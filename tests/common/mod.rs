//! Test harness: private MariaDB instances and a private S3 server (moto) per test, on free
//! ports in temp dirs, stopped on drop. Every wait is bounded.
//!
//! The README's test command (scripts/test.sh) installs MariaDB, mariabackup and moto; when
//! they are missing these helpers fail loudly rather than skip.

#![allow(dead_code)]

pub mod forge;
pub mod proxy;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mysqlbackup::config::{S3Settings, Secret};
use mysqlbackup::store::s3::S3Store;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `cond` up to `timeout`, polling.
pub fn wait_for(what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
    wait_for_or(what, timeout, cond, String::new);
}

/// As [`wait_for`]; on timeout the panic message carries `diagnose()` (e.g. server state).
pub fn wait_for_or(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> bool,
    diagnose: impl Fn() -> String,
) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() >= timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                diagnose()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn require(bin: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(bin);
        if p.is_file() {
            return p;
        }
    }
    panic!("{bin} is not installed: run scripts/test.sh, which installs it");
}

/// A private MariaDB server.
pub struct Mariadb {
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub port: u16,
    pub server_id: u32,
    /// The OS user the server runs as (`user=` in its my.cnf).
    pub os_user: String,
    extra_cnf: String,
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

    /// As [`Mariadb::start_with`]; `extra_cnf` may use `{d}` for the data dir, and `hook`
    /// runs on the installed data dir before the server first starts (e.g. to move its redo
    /// log where `extra_cnf` says).
    pub fn start_hooked(
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
        let out = Command::new(require("mariadb-install-db"))
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
        let extra_cnf = extra_cnf.replace("{d}", &data_dir.display().to_string());
        let mut m = Mariadb {
            dir,
            data_dir,
            port,
            server_id,
            os_user: os_user.to_string(),
            extra_cnf,
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
        let child = Command::new(require("mariadbd"))
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
            .args(["--no-defaults", "-uroot", "-e", "SHOW ALL SLAVES STATUS\\G"])
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

/// Asserts that a mysqlbackup run succeeded (printing its stderr if not); returns the stderr.
pub fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "mysqlbackup failed: {}\n{err}",
        out.status
    );
    err
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

/// A private moto S3 server.
pub struct Moto {
    pub port: u16,
    child: Child,
}

/// Where moto_server is: `$MOTO_SERVER`, else the repo's `.venv` (made by scripts/setup.sh).
pub fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        p.is_file(),
        "{} missing: run scripts/test.sh, which installs moto",
        p.display()
    );
    p
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(moto_server_path())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("moto_server", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Moto { port, child }
    }

    pub fn settings(&self, bucket: &str) -> S3Settings {
        S3Settings {
            host: format!("127.0.0.1:{}", self.port),
            bucket: bucket.into(),
            access_key: Secret::new("AKIAEXAMPLEKEY"),
            secret_key: Secret::new("s3-secret-never-shown"),
            scheme: "http".into(),
            region: "us-east-1".into(),
        }
    }

    /// A client for `bucket`, created.
    pub async fn bucket(&self, bucket: &str) -> S3Store {
        let store = S3Store::new(&self.settings(bucket)).unwrap();
        store.create_bucket().await.unwrap();
        store
    }

    /// Kills the server now (fault tests).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A conf.yaml, key file and backup_base for one instance.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub backup_base: PathBuf,
    pub tool_tmp: PathBuf,
    pub key_file: PathBuf,
}

pub const DES3_PASSWORD: &str = "des3-password-for-tests";

impl Workspace {
    /// Writes conf.yaml for `db` with `extra` lines appended.
    pub fn new(db: &Mariadb, instance_id: u32, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backup_base = dir.path().join("backup");
        let tool_tmp = dir.path().join("tool-tmp");
        std::fs::create_dir_all(&backup_base).unwrap();
        std::fs::create_dir_all(&tool_tmp).unwrap();
        let key_file = dir.path().join("des3_password");
        std::fs::write(&key_file, format!("{DES3_PASSWORD}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let conf = dir.path().join("conf.yaml");
        std::fs::write(
            &conf,
            format!(
                "mysql_base: /usr\nhost: testhost\ndata_base: {}\nbackup_base: {}\nport: {}\ninstance_id: {instance_id}\nbackup_tool_tmpdir: {}\n{extra}",
                db.data_base().display(),
                backup_base.display(),
                db.port,
                tool_tmp.display()
            ),
        )
        .unwrap();
        Workspace {
            dir,
            conf,
            backup_base,
            tool_tmp,
            key_file,
        }
    }

    /// conf lines for an S3 bucket on `moto`.
    pub fn s3_lines(moto: &Moto, bucket: &str) -> String {
        format!(
            "s3_host: 127.0.0.1:{}\ns3_bucket: {bucket}\ns3_access_key: AKIAEXAMPLEKEY\ns3_secret_key: s3-secret-never-shown\n",
            moto.port
        )
    }

    /// A `mysqlbackup --conf-path conf.yaml ARGS` command.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--conf-path").arg(&self.conf).args(args);
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

/// Creates the replication account `repl`@`127.0.0.1` with `password` on `db`, not logged
/// (each instance gets its own). The password is quoted for the server's sql_mode.
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
         GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
    ));
}

/// conf `replication` lines: `repl` with `password` (YAML single-quoted), the given peers
/// (`host:port` is 127.0.0.1 and the port given, id the server id), a timeout.
pub fn repl_lines(peers: &[(u16, u32)], password: &str, timeout: u64) -> String {
    let mut s = format!(
        "replication:\n  user: repl\n  password: '{}'\n  connect_retry: 1\n  catchup_timeout: {timeout}\n  source:\n",
        password.replace('\'', "''")
    );
    for (port, id) in peers {
        s.push_str(&format!(
            "    - {{host: 127.0.0.1, port: {port}, id: {id}}}\n"
        ));
    }
    s
}

/// Pids of processes whose command line contains every one of `parts`.
pub fn pids_with(parts: &[&str]) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if parts.iter().all(|p| cmd.contains(p)) {
            out.push(pid);
        }
    }
    out
}

/// Writes an executable bash script with `body` at `path`; returns the path.
pub fn script(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, format!("#!/bin/bash\n{body}\n")).unwrap();
    Command::new("chmod").arg("+x").arg(path).status().unwrap();
    path.to_path_buf()
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
    wait_for_or(
        &format!("{v} on port {}", db.port),
        Duration::from_secs(60),
        || {
            db.sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'app' AND table_name = 't'")
                == "1"
                && has(db, v) == 1
        },
        || db.diagnose(),
    );
}

/// Recursively lists files under `dir` (empty when it does not exist).
pub fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(list_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Unpacks a stored backup with the standard tools only (openssl, tar, mbstream,
/// mariabackup --prepare) into `out`; returns the prepared data dir.
pub fn unpack_with_standard_tools(archive: &Path, key_file: &Path, out: &Path) -> PathBuf {
    std::fs::create_dir_all(out).unwrap();
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; openssl des3 -d -pass file:{} < {} | tar -xz -C {}",
            key_file.display(),
            archive.display(),
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "openssl des3 -d | tar -xz failed");
    let data = out.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; cat {}/data.xbstream.* | mbstream -x -C {}",
            out.display(),
            data.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "mbstream -x failed");
    let prep = Command::new(require("mariabackup"))
        .arg("--prepare")
        .arg(format!("--target-dir={}", data.display()))
        .output()
        .unwrap();
    assert!(
        prep.status.success(),
        "mariabackup --prepare: {}",
        String::from_utf8_lossy(&prep.stderr)
    );
    data
}

/// SHA-1 hex of a file.
pub fn sha1_file(path: &Path) -> String {
    sha1_bytes(&std::fs::read(path).unwrap())
}

/// SHA-1 hex of bytes.
pub fn sha1_bytes(bytes: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(bytes))
}

/// A backup tool that runs the real mariabackup, then runs `sql` on `db` before exiting with
/// its status: the events of `sql` land in the binlog after the data backup but before the
/// binlog is read, deterministically.
pub fn tool_then_sql(dir: &Path, db: &Mariadb, sql: &str) -> PathBuf {
    let p = dir.join("backup-tool-then-sql.sh");
    std::fs::write(
        &p,
        format!(
            "#!/bin/bash\n{} \"$@\"\nrc=$?\ncase \" $* \" in *\" --backup \"*) {} --no-defaults -uroot --socket={} -e \"{}\" || exit 99;; esac\nexit $rc\n",
            require("mariabackup").display(),
            require("mariadb").display(),
            db.socket().display(),
            sql.replace('"', "\\\"")
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    p
}

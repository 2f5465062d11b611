//! Restore never touches what it did not create: a copy beside a live instance, forged
//! archives, quoting under NO_BACKSLASH_ESCAPES, secrets off argv, on real MariaDB.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; \
         INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM seq_1_to_500;",
    );
}

fn count(db: &Mariadb, filter: &str) -> u64 {
    db.sql(&format!("SELECT COUNT(*) FROM app.t {filter}"))
        .parse()
        .unwrap()
}

/// Every path under `dir` with its size, sorted (a fingerprint of what a dir holds).
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut v: Vec<(PathBuf, u64)> = list_files(dir)
        .into_iter()
        .map(|p| {
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            (p, len)
        })
        .collect();
    v.sort();
    v
}

fn binlog_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("binlog."))
        .collect();
    v.sort();
    v
}

/// A server on a restored copy, started the way an operator would: its restored my.cnf, with
/// only port and socket given on the command line.
struct Copy {
    child: std::process::Child,
    socket: PathBuf,
}

impl Copy {
    fn start(data_dir: &Path) -> Self {
        let socket = data_dir.join("copy-test.sock");
        let child = Command::new(require("mariadbd"))
            .arg(format!(
                "--defaults-file={}",
                data_dir.join("my.cnf").display()
            ))
            .arg(format!("--port={}", free_port()))
            .arg(format!("--socket={}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let c = Copy { child, socket };
        wait_for("the copy to start", Duration::from_secs(60), || {
            c.sql("SELECT 1").is_some()
        });
        c
    }

    fn sql(&self, q: &str) -> Option<String> {
        let out = Command::new(require("mariadb"))
            .args(["--no-defaults", "-uroot", "-N", "-B", "-e", q])
            .arg(format!("--socket={}", self.socket.display()))
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Acceptance 1: an original with absolute log-bin, redo log home and log-error inside its own
/// dir runs under a writer while a backup of it is restored to another data dir and port.
#[test]
fn a_copy_beside_the_running_original_touches_nothing_of_it() {
    let mut db = Mariadb::start_hooked(1, "root", "innodb_log_group_home_dir={d}/redo\n", |d| {
        std::fs::create_dir(d.join("redo")).unwrap();
        std::fs::rename(d.join("ib_logfile0"), d.join("redo/ib_logfile0")).unwrap();
    });
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().date("2023_03_03"));
    let key = backup_key(&ws, &[]);
    assert!(is_key(&key, db.port, "2023_03_03", 1, ".tgz.des3"), "{key}");
    let binlogs = binlog_names(&db.data_dir);
    let log_before = std::fs::read_to_string(db.data_dir.join("error.log")).unwrap();

    let writer = Writer::start(&db, "app.t");
    std::thread::sleep(Duration::from_millis(300));
    let place = tempfile::tempdir().unwrap();
    // The restored copy belongs to the server user (mysql), who must reach it.
    std::fs::set_permissions(
        place.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let copy = place.path().join("copy");
    let cws = Workspace::new(&db, 1, Conf::default().data_dir(&copy));
    let copy_port = free_port().to_string();
    let backup_base = ws.backup_base.display().to_string();
    let report = ok(&cws
        .cmd(&[
            "restore",
            "--port",
            &copy_port,
            "--backup-base",
            &backup_base,
            "--allow-other-port",
            "--backup-key",
            &key,
        ])
        .output()
        .unwrap());
    let sent = writer.stop();
    assert!(sent > 0);
    for rewritten in ["innodb_log_group_home_dir", "log_bin", "log_error", "port"] {
        assert!(
            report.contains(&format!("my.cnf rewritten: [mysqld] {rewritten}")),
            "{rewritten}: {report}"
        );
    }

    // The original: nothing of the restore in its error log or binlog dir; after a crash it
    // recovers with every row (the temporary server never ran recovery on its redo log).
    let log_after = std::fs::read_to_string(db.data_dir.join("error.log")).unwrap();
    let added = &log_after[log_before.len()..];
    assert!(
        !added.contains("ready for connections") && !added.contains(&copy.display().to_string()),
        "the original's error log got: {added}"
    );
    assert_eq!(
        binlog_names(&db.data_dir),
        binlogs,
        "no binlog file added or removed"
    );
    let rows = count(&db, "");
    assert_eq!(rows, 500 + sent);

    // The copy, started while the original runs: its own files only, and the backup's rows.
    assert!(copy.join("redo/ib_logfile0").is_file());
    let cnf = mysqlbackup::mysql::mycnf::MyCnf::load(&copy.join("my.cnf")).unwrap();
    let original_dirs = [db.data_dir.clone(), db.tmp_dir()];
    for e in cnf.entries() {
        if let Some(v) = e.value.as_deref() {
            assert!(
                !original_dirs
                    .iter()
                    .any(|d| v.starts_with(&*d.to_string_lossy())),
                "the copy's {} = {v} points at the original",
                e.key
            );
        }
    }
    assert_eq!(
        cnf.get("tmpdir"),
        Some(copy.join("#tmp").display().to_string().as_str())
    );
    let c = Copy::start(&copy);
    let (n, max) = c
        .sql("SELECT COUNT(*), MAX(id) FROM app.t")
        .unwrap()
        .split_once('\t')
        .map(|(a, b)| (a.parse::<u64>().unwrap(), b.to_string()))
        .unwrap();
    assert!(n >= 500);
    assert_eq!(
        n,
        count(&db, &format!("WHERE id <= {max}")),
        "the copy holds the backup's rows"
    );
    drop(c);

    // The original, killed with kill -9: it recovers every row (no temporary server ever ran
    // recovery on its redo log).
    db.kill9();
    db.restart();
    assert_eq!(count(&db, ""), rows, "every row after the crash");
}

/// Acceptance 2: forged my.cnf options (log-bin in an outside dir, init-file,
/// plugin-load-add) are neutralised; a checksum mismatch leaves nothing anywhere; a binlog
/// dir that holds anything is refused.
#[test]
fn forged_archives_write_nothing_outside_and_run_nothing() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().date("2024_04_04"));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    db.kill_and_move_away();
    let good = local_backup(&ws.backup_base, db.port, "2024_04_04", 1, ".tgz.des3");
    // Planted as a backup of the scheme before records (a .sha1 sidecar).
    let forged = ws.backup_base.join(format!(
        "2024_04_05/{0}/mysql-{0}-testhost-1.tgz.des3",
        db.port
    ));
    let outside = tempfile::tempdir().unwrap();
    let o = outside.path();
    std::fs::write(o.join("keep.txt"), "operator's file").unwrap();
    std::fs::write(
        o.join("init.sql"),
        format!(
            "CREATE DATABASE pwned_init;\nSELECT 'ran' INTO OUTFILE '{}/init-ran';\n",
            o.display()
        ),
    )
    .unwrap();
    let before = snapshot(o);
    common::forge::forge(&good, &ws.key_file, &forged, |d| {
        let cnf = std::fs::read_to_string(d.join("my.cnf")).unwrap();
        std::fs::write(
            d.join("my.cnf"),
            format!(
                "{cnf}[mysqld]\nlog-bin={0}/x\nlog-bin-index={0}/x.index\ninit-file={0}/init.sql\n\
                 plugin-load-add=server_audit.so\nserver_audit_logging=ON\n\
                 server_audit_file_path={0}/audit.log\n",
                o.display()
            ),
        )
        .unwrap();
    });
    let report = ok(&ws
        .cmd(&["restore", "--date-str", "2024_04_05"])
        .output()
        .unwrap());
    assert_eq!(snapshot(o), before, "nothing written outside the targets");
    assert!(
        !db.data_dir.join("pwned_init").exists(),
        "init-file did not run"
    );
    assert!(
        report.contains("init_file"),
        "named in the report: {report}"
    );
    let cnf = mysqlbackup::mysql::mycnf::MyCnf::load(&db.my_cnf()).unwrap();
    assert_eq!(
        cnf.get("log_bin"),
        Some(db.data_dir.join("binlog").display().to_string().as_str())
    );
    assert!(
        !binlog_names(&db.data_dir).is_empty(),
        "the binlog is in the data dir"
    );
    assert_eq!(cnf.get("init_file"), None, "commented out");
    assert_eq!(cnf.get("plugin_load_add"), None, "commented out");
    // Nothing of it runs when the restored instance starts either.
    db.restart();
    assert_eq!(has(&db, "seed-500"), 1);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'pwned_init'"),
        "0"
    );
    db.stop();
    assert_eq!(snapshot(o), before, "nothing written outside at its start");

    // A checksum mismatch: nothing anywhere.
    std::fs::remove_dir_all(&db.data_dir).unwrap();
    let side = forged.with_file_name(format!(
        "{}.sha1",
        forged.file_name().unwrap().to_string_lossy()
    ));
    let text = std::fs::read_to_string(&side).unwrap();
    std::fs::write(&side, format!("{}{}", "0".repeat(40), &text[40..])).unwrap();
    let out = ws
        .cmd(&["restore", "--date-str", "2024_04_05"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    assert!(!db.data_dir.exists(), "no half-built data dir");
    assert_eq!(snapshot(o), before);

    // A binlog dir that holds anything is refused before anything is written.
    let refused = Workspace::new(&db, 1, Conf::default().date("2024_04_04").binlog_dir(o));
    let base = ws.backup_base.display().to_string();
    let out = refused
        .cmd(&["restore", "--backup-base", &base])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("binlog dir"), "{err}");
    assert!(!db.data_dir.exists());
    assert_eq!(snapshot(o), before);
}

/// Acceptance 3: a replication password with `'` and `\` on servers with
/// NO_BACKSLASH_ESCAPES works for setup_replication and catch-up, and is never shown.
#[test]
fn replication_passwords_with_quotes_and_backslashes_under_no_backslash_escapes() {
    const PW: &str = "q'uo\\te\"s";
    let mut db1 = Mariadb::start_with(1, "root", "sql-mode=NO_BACKSLASH_ESCAPES\n");
    let db2 = Mariadb::start_with(2, "root", "sql-mode=NO_BACKSLASH_ESCAPES\n");
    repl_user(&db1, PW);
    repl_user(&db2, PW);
    let ws1 = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[(db2.port, 2)], PW, 120),
    );
    let ws2 = Workspace::new(
        &db2,
        2,
        Conf::default().replication(&[(db1.port, 1)], PW, 120),
    );
    for ws in [&ws1, &ws2] {
        let out = ok(&ws.cmd(&["setup_replication"]).output().unwrap());
        assert!(out.contains("io=Yes sql=Yes"), "{out}");
        assert!(!out.contains(PW));
    }
    seed(&db1);
    wait_has(&db2, "seed-500");
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    db1.sql("INSERT INTO app.t(v) VALUES ('event-B')");
    wait_has(&db2, "event-B");
    db1.kill_and_move_away();
    ok(&ws1.cmd(&["restore"]).output().unwrap());
    let out = ok(&ws1.cmd(&["catchup_binlog"]).output().unwrap());
    assert!(!out.contains(PW));
    db1.restart();
    assert_eq!(has(&db1, "event-B"), 1);
}

/// Acceptance 4: S3 credentials from the environment; the secret is in no process's argv
/// (nor the backup tool's environment) during a backup; `--s3-secret-key` warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_credentials_from_the_environment_stay_out_of_argv() {
    const SECRET: &str = "env-secret-4481";
    let db = Mariadb::start(1);
    seed(&db);
    let moto = Moto::start();
    let store = moto.bucket("envcreds").await;
    let scratch = tempfile::tempdir().unwrap();
    let tool = script(
        &scratch.path().join("slow-tool.sh"),
        &format!("{} \"$@\"\nsleep 2.75", require("mariabackup").display()),
    );
    let ws = Workspace::new(
        &db,
        1,
        Conf::default()
            .tool(&tool)
            .s3_without_keys(&moto, "envcreds")
            .date("2026_01_01"),
    );
    let mut cmd = ws.cmd(&["backup"]);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let start = Instant::now();
    let mut watched = false;
    while start.elapsed() < Duration::from_secs(60) {
        assert!(
            pids_with(&[SECRET]).is_empty(),
            "the secret in a command line"
        );
        for pid in pids_with(&["mariabackup", "--backup"]) {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&env).contains(SECRET),
                "the secret in the backup tool's environment"
            );
            watched = true;
        }
        if watched && !pids_with(&["sleep", "2.75"]).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(watched, "watched the backup tool run");
    let out = child.wait_with_output().unwrap();
    let err = ok(&out);
    assert!(!err.contains(SECRET));
    let key = reported_key(&out);
    assert!(is_key(&key, db.port, "2026_01_01", 1, ".tgz.des3"), "{key}");
    assert!(
        store.head_object(&key).await.unwrap().is_some(),
        "{key} stored"
    );

    let out = ws
        .cmd(&[
            "backup",
            "--s3-access-key",
            "AKIAFLAG",
            "--s3-secret-key",
            "flag-secret",
        ])
        .output()
        .unwrap();
    let err = ok(&out);
    assert!(err.contains("visible to every user"), "{err}");
    assert!(!err.contains("flag-secret"));
}

/// The small ones: backup does not use (so does not check) the temporary server-id; a failed
/// backup leaves no empty date/port dirs; a sidecar in upper-case hex is accepted.
#[test]
fn small_ones_temp_id_failed_backup_dirs_and_sidecar_case() {
    let mut db = Mariadb::start(1);
    seed(&db);
    // instance 5000 on this port makes {instance_id}00{port} larger than a server-id can be.
    let ws = Workspace::new(&db, 5000, Conf::default().date("2025_05_05"));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    let err =
        String::from_utf8_lossy(&ws.cmd(&["catchup_binlog"]).output().unwrap().stderr).into_owned();
    assert!(
        err.contains("temp_server_id"),
        "catch-up refuses it clearly: {err}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let failing = script(&scratch.path().join("fail.sh"), "echo broken >&2\nexit 3");
    let conf = ws.variant("failing", |c| c.date("2025_05_06").tool(&failing));
    let out = ws.cmd_with(&conf, &["backup"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        !ws.backup_base.join("2025_05_06").exists(),
        "a failed backup leaves no date dir"
    );

    // The backup made into one of the scheme before records, whose `.sha1` sidecar (the
    // commit mark then) is in upper-case hex, as `sha1sum` accepts.
    let timed = local_backup(&ws.backup_base, db.port, "2025_05_05", 5000, ".tgz.des3");
    let sha1 = recorded_sha1(&timed);
    let archive = ws.backup_base.join(format!(
        "2025_05_05/{0}/mysql-{0}-testhost-5000.tgz.des3",
        db.port
    ));
    std::fs::rename(&timed, &archive).unwrap();
    std::fs::remove_file(format!("{}.json", timed.display())).unwrap();
    let name = archive.file_name().unwrap().to_string_lossy().to_string();
    let side = PathBuf::from(format!("{}.sha1", archive.display()));
    std::fs::write(&side, format!("{}  {name}\n", sha1.to_uppercase())).unwrap();
    db.kill_and_move_away();
    ok(&ws.cmd(&["restore"]).output().unwrap());
    db.restart();
    assert_eq!(count(&db, ""), 500);
}

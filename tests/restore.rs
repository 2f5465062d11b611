//! Restore acceptance tests on real MariaDB: from S3 and the local store under a writer, the
//! original tool's archive layout, and every refusal.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn seed(db: &Mariadb) {
    db.sql(
        "SET SESSION max_recursive_iterations = 1000000; CREATE DATABASE app; \
         CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; \
         INSERT INTO app.t(v) SELECT REPEAT('a', 100) FROM (WITH RECURSIVE s(n) AS \
         (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) SELECT n FROM s) x;",
    );
}

fn count(db: &Mariadb) -> u64 {
    db.sql("SELECT COUNT(*) FROM app.t").parse().unwrap()
}

/// Backup under a writer with a deterministic event between data and binlog backup, the
/// instance dies, restore rebuilds it: every transaction of the backed-up binlog is there
/// exactly once (row count = rows before the writer + transactions since, by GTID).
fn backup_die_restore(s3: Option<&Moto>) {
    let mut db = Mariadb::start(1);
    seed(&db);
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.t(v) VALUES ('event-A')",
    );
    let mut conf = Conf::default().tool(&tool);
    if let Some(m) = s3 {
        conf = conf.s3(m, "restore");
    }
    let ws = Workspace::new(&db, 1, conf);
    let (s0, rows0) = (db.gtid_seq(), count(&db));
    let writer = Writer::start(&db, "app.t");
    std::thread::sleep(Duration::from_millis(200));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    writer.stop();
    db.kill_and_move_away();

    let report = ok(&ws.cmd(&["restore"]).output().unwrap());
    assert!(report.contains("binlog applied from"), "{report}");
    db.restart();
    let end = db.gtid_seq();
    assert!(
        end > s0,
        "the backup's binlog holds the writer's transactions"
    );
    assert_eq!(
        count(&db),
        rows0 + (end - s0),
        "each transaction of the binlog restored exactly once"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.t WHERE v = 'event-A'"),
        "1",
        "event A came back through binlog apply"
    );
    // The restored instance goes on writing binlog after the restored files.
    db.sql("INSERT INTO app.t(v) VALUES ('after restore')");
    assert_eq!(db.gtid_seq(), end + 1);
}

#[test]
fn restore_from_local_store_under_a_writer() {
    backup_die_restore(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_from_s3_under_a_writer() {
    let moto = Moto::start();
    moto.bucket("restore").await;
    tokio::task::spawn_blocking(move || backup_die_restore(Some(&moto)))
        .await
        .unwrap();
}

/// Production servers run as `user=mysql` while mysqlbackup runs as root: the restored data
/// dir (extracted and prepared as root) must be the server's, or neither the binlog apply nor
/// the instance's own start could open its files.
#[test]
fn restore_as_root_hands_the_data_dir_to_the_mycnf_user() {
    let mut db = Mariadb::start_as(1, "mysql");
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default());
    let rows = count(&db);
    ok(&ws.cmd(&["backup"]).output().unwrap());
    db.kill_and_move_away();

    let report = ok(&ws.cmd(&["restore"]).output().unwrap());
    assert!(report.contains("handing"), "{report}");
    assert!(report.contains("binlog applied from"), "{report}");
    let id = Command::new("id").args(["-u", "mysql"]).output().unwrap();
    let mysql_uid: u32 = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
    let files = list_files(&db.data_dir);
    assert!(files.len() > 5, "{files:?}");
    for f in files.iter().chain([&db.data_dir]) {
        let meta = std::fs::symlink_metadata(f).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&meta),
            mysql_uid,
            "{} is not mysql's",
            f.display()
        );
    }
    db.restart();
    assert_eq!(count(&db), rows);
    db.sql("INSERT INTO app.t(v) VALUES ('after restore')");
    assert_eq!(count(&db), rows + 1);
}

/// Asserts a failed restore: non-zero, message contains `expect`, and `data_dir` is as before.
fn refused(
    ws: &Workspace,
    args: &[&str],
    expect: &str,
    data_dir: &Path,
    before: &[std::path::PathBuf],
) {
    let out = ws.cmd(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} must fail");
    assert!(err.contains(expect), "{expect:?} not in: {err}");
    let mut now = list_files(data_dir);
    now.sort();
    assert_eq!(now, before, "{args:?} changed {}", data_dir.display());
}

#[test]
fn restore_refusals_leave_everything_as_it_was() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().date("2020_02_02"));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    let data = db.data_dir.clone();
    let mut before = list_files(&data);
    before.sort();

    // A running instance, then a stopped one whose data dir is not empty.
    refused(&ws, &["restore"], "running", &data, &before);
    db.stop();
    let mut before = list_files(&data);
    before.sort();
    refused(&ws, &["restore"], "not empty", &data, &before);

    // From here the data dir is gone: each failure must leave none behind.
    let away = db.kill_and_move_away();
    let none: Vec<std::path::PathBuf> = Vec::new();
    refused(
        &ws,
        &["restore", "--date-str", "2020_02_03"],
        "no backup",
        &data,
        &none,
    );
    assert!(!data.exists());

    let archive = local_backup(&ws.backup_base, db.port, "2020_02_02", 1, ".tgz.des3");
    let good_key = std::fs::read(&ws.key_file).unwrap();
    std::fs::write(&ws.key_file, "wrong-password\n").unwrap();
    refused(&ws, &["restore"], "des3 password", &data, &none);
    assert!(!data.exists(), "wrong key: no half-built data dir");
    std::fs::write(&ws.key_file, &good_key).unwrap();

    // Flip one byte deep in the stored archive: the SHA-1 no longer matches.
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&archive, &bytes).unwrap();
    refused(&ws, &["restore"], "checksum mismatch", &data, &none);
    assert!(!data.exists(), "sha1 mismatch: no half-built data dir");

    // Truncated archive with a matching record (a store that lost the tail).
    bytes[at] ^= 1;
    let cut = &bytes[..bytes.len() - 1000];
    std::fs::write(&archive, cut).unwrap();
    rerecord(&archive);
    let out = ws.cmd(&["restore"]).output().unwrap();
    assert!(!out.status.success());
    assert!(!data.exists(), "truncated: no half-built data dir");

    // conf puts my.cnf outside the data dir, where none is yet: a restore that fails after
    // writing it (here its prepare fails) removes it too.
    std::fs::write(&archive, &bytes).unwrap();
    rerecord(&archive);
    let etc = ws.dir.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let cnf = etc.join("my.cnf");
    let failing = script(
        &ws.dir.path().join("failing-prepare.sh"),
        "for a in \"$@\"; do [ \"$a\" = --prepare ] && { echo 'prepare failed on purpose' >&2; exit 1; }; done; exec mariabackup \"$@\"",
    );
    let conf = ws.variant("outside-cnf", |c| c.my_cnf(&cnf).tool(&failing));
    let out = ws.cmd_with(&conf, &["restore"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("prepare"), "{err}");
    assert!(
        !cnf.exists(),
        "the my.cnf this failed restore wrote is still there"
    );
    assert!(!data.exists(), "failed prepare: no half-built data dir");
    // One that was there, or a link that was there (even dangling), is never touched.
    std::fs::write(&cnf, "# the operator's\n").unwrap();
    assert!(!ws.cmd_with(&conf, &["restore"]).status().unwrap().success());
    assert_eq!(std::fs::read_to_string(&cnf).unwrap(), "# the operator's\n");
    std::fs::remove_file(&cnf).unwrap();
    let nowhere = etc.join("nowhere.cnf");
    std::os::unix::fs::symlink(&nowhere, &cnf).unwrap();
    assert!(!ws.cmd_with(&conf, &["restore"]).status().unwrap().success());
    assert!(cnf.symlink_metadata().is_ok(), "the link is gone");
    assert!(!nowhere.exists(), "the restore wrote through a link");
    assert!(!data.exists());
    drop(away);
}

/// The original tool's archive: a prepared dir and raw binlog, tar | gzip --fast | openssl des3.
#[test]
fn restore_an_original_layout_archive() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().date("2019_09_09"));
    let port = db.port;
    let stage = tempfile::tempdir().unwrap();
    let bdir = stage.path().join(format!("mysql-{port}-backup"));
    let ldir = stage.path().join(format!("mysql-{port}-binlog"));
    let out = Command::new(require("mariabackup"))
        .args(["--backup", "--user=root"])
        .arg(format!("--socket={}", db.socket().display()))
        .arg(format!("--target-dir={}", bdir.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.sql("INSERT INTO app.t(v) VALUES ('in binlog only')");
    db.sql("FLUSH BINARY LOGS");
    let out = Command::new(require("mariabackup"))
        .arg("--prepare")
        .arg(format!("--target-dir={}", bdir.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::copy(db.my_cnf(), bdir.join("my.cnf")).unwrap();
    std::fs::create_dir(&ldir).unwrap();
    for f in std::fs::read_dir(&db.data_dir).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().to_string();
        if name.starts_with("binlog.") {
            std::fs::copy(f.path(), ldir.join(&name)).unwrap();
        }
    }
    let dest = ws.backup_base.join(format!("2019_09_09/{port}"));
    std::fs::create_dir_all(&dest).unwrap();
    let name = format!("mysql-{port}-oldhost-1.tgz.des3");
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; tar -c -C {} mysql-{port}-backup mysql-{port}-binlog | gzip --fast | openssl des3 -pass file:{} > {}/{name} && cd {} && sha1sum {name} > {name}.sha1",
            stage.path().display(),
            ws.key_file.display(),
            dest.display(),
            dest.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let rows = count(&db);
    db.kill_and_move_away();

    // Another host's backup is restored only when asked for.
    let out = ws.cmd(&["restore"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no backup of port"),
        "{err}"
    );
    assert!(!db.data_dir.exists());
    let report = ok(&ws
        .cmd(&["restore", "--from-host", "oldhost"])
        .output()
        .unwrap());
    assert!(
        report.contains("backup of: host oldhost, instance 1"),
        "{report}"
    );
    db.restart();
    assert_eq!(
        count(&db),
        rows,
        "data and the binlog-only event are restored"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.t WHERE v = 'in binlog only'"),
        "1"
    );

    // Under the original tool's own key, `{day}/{port}/mysql-{port}.tgz.des3`, which names no
    // host or instance: it belongs to the port, so a plain restore finds it (with and without
    // --date-str) and says whose it is.
    let orig_name = format!("mysql-{port}.tgz.des3");
    let orig = dest.join(&orig_name);
    std::fs::rename(dest.join(&name), &orig).unwrap();
    std::fs::remove_file(dest.join(format!("{name}.sha1"))).unwrap();
    let sha1 = sha1_file(&orig);
    std::fs::write(
        dest.join(format!("{orig_name}.sha1")),
        format!("{sha1}  {orig_name}\n"),
    )
    .unwrap();
    let any_day = ws.variant("any-day", |mut c| {
        c.date_str = None;
        c
    });
    for conf in [&any_day, &ws.conf] {
        db.kill_and_move_away();
        let report = ok(&ws.cmd_with(conf, &["restore"]).output().unwrap());
        assert!(report.contains(&orig_name), "{report}");
        assert!(report.contains("original tool"), "{report}");
        db.restart();
        assert_eq!(count(&db), rows);
    }

    // Listed as the port's, verified, and kept by expire as its group's newest.
    let orig_key = format!("2019_09_09/{port}/{orig_name}");
    let out = ws.cmd_with(&any_day, &["list", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = &v["backups"][0];
    assert_eq!(b["key"], orig_key.as_str(), "{v}");
    assert_eq!(b["scheme"], "original");
    assert!(b["host"].is_null() && b["instance_id"].is_null(), "{b}");
    let out = ws
        .cmd_with(&any_day, &["verify", "--backup-key", &orig_key])
        .output()
        .unwrap();
    assert!(ok(&out).contains("ok:"));
    let expired = ok(&ws
        .cmd_with(&any_day, &["expire", "--keep-last", "1"])
        .output()
        .unwrap());
    assert!(expired.contains(&format!("keep: {orig_key}")), "{expired}");

    // The same on S3, stored as the original tool stored it: its SHA-1 in x-amz-meta-sha1.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start();
    let store = rt.block_on(moto.bucket("original"));
    let key = format!("2019_09_09/{port}/{orig_name}");
    rt.block_on(async {
        use object_store::{Attribute, Attributes, ObjectStore, PutOptions};
        let attributes =
            Attributes::from_iter([(Attribute::Metadata("sha1".into()), sha1.clone())]);
        store
            .store
            .put_opts(
                &key.as_str().into(),
                std::fs::read(&orig).unwrap().into(),
                PutOptions {
                    attributes,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let head = store.head_object(&key).await.unwrap().unwrap();
        assert_eq!(
            head.metadata.get("sha1"),
            Some(&sha1),
            "x-amz-meta-sha1 set"
        );
    });
    let on_s3 = ws.variant("original-on-s3", |mut c| {
        c.date_str = None;
        c.s3(&moto, "original")
    });
    let listed = ok(&ws.cmd_with(&on_s3, &["list"]).output().unwrap());
    assert!(
        listed.contains(&key) && listed.contains("original tool"),
        "{listed}"
    );
    db.kill_and_move_away();
    let report = ok(&ws.cmd_with(&on_s3, &["restore"]).output().unwrap());
    assert!(report.contains(&format!("s3://original/{key}")), "{report}");
    assert!(report.contains("original tool"), "{report}");
    db.restart();
    assert_eq!(count(&db), rows);
}

#[test]
fn restore_when_clean_after_restore_and_data_check() {
    let mut db = Mariadb::start(1);
    db.sql(
        "CREATE DATABASE xp2; CREATE TABLE xp2.heartbeat (_id BIGINT AUTO_INCREMENT PRIMARY KEY, \
         `key` VARCHAR(64), `value` VARCHAR(64), ts VARCHAR(64)) ENGINE=InnoDB",
    );
    let ws = Workspace::new(
        &db,
        1,
        Conf::default().date("2021_01_01").sql_test(
            "insert into `xp2`.`heartbeat` (`key`, `value`, `ts`) values (\"test-backup\", \"{v}\", \"{v}\")",
            "select `value` from `xp2`.`heartbeat` order by `_id` desc limit 2",
        ),
    );
    let out = ws.cmd(&["check"]).output().unwrap();
    let text = ok(&out);
    let marker = text
        .lines()
        .find_map(|l| l.strip_prefix("check ok: "))
        .unwrap()
        .to_string();
    ok(&ws.cmd(&["backup"]).output().unwrap());
    let archive = local_backup(&ws.backup_base, db.port, "2021_01_01", 1, ".tgz.des3");
    assert!(archive.is_file());

    // Conditions that do not hold: exit 0, nothing done.
    let skipped = ok(&ws.cmd(&["restore", "--when", "stopped"]).output().unwrap());
    assert!(skipped.contains("skipped"), "{skipped}");
    let skipped = ok(&ws
        .cmd(&["catchup_binlog", "--when", "no-data-dir"])
        .output()
        .unwrap());
    assert!(skipped.contains("skipped"), "{skipped}");

    db.kill_and_move_away();
    ok(&ws
        .cmd(&["restore", "--when", "no-data-dir", "--clean-after-restore"])
        .output()
        .unwrap());
    assert!(
        list_files(&ws.backup_base).is_empty(),
        "--clean-after-restore removed the local backup and its sidecar"
    );
    db.restart();
    ok(&ws.cmd(&["check", "--expect", &marker]).output().unwrap());
    let out = ws
        .cmd(&["check", "--expect", "mysqlbackup-0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("data check failed"));
}

/// Issue 17 bug 12: a backup user with only the grants a backup needs (RELOAD, PROCESS, LOCK
/// TABLES, BINLOG MONITOR, REPLICA MONITOR) backs up, verifies and restores: the window is
/// applied on our own temporary server without grant tables, never needing SUPER or BINLOG
/// ADMIN for `SET SQL_LOG_BIN=0`. verify --prepare (which applies the window the same way)
/// and restore agree.
#[test]
fn a_least_privilege_backup_user_backs_up_verifies_and_restores() {
    let mut db = Mariadb::start(1);
    seed(&db);
    db.sql(
        "CREATE USER 'bk'@'localhost' IDENTIFIED BY 'bk-secret'; \
         GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICA MONITOR ON *.* TO 'bk'@'localhost'",
    );
    let scratch = tempfile::tempdir().unwrap();
    // The window holds a row and an account statement (applied once grant tables are loaded).
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.t(v) VALUES ('event-A'); CREATE USER 'later'@'localhost'",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool).user("bk", "bk-secret"));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    let verified = ok(&ws.cmd(&["verify", "--prepare"]).output().unwrap());
    assert!(verified.contains("ok"), "{verified}");
    let rows = count(&db);
    db.kill_and_move_away();
    let restored = ok(&ws.cmd(&["restore"]).output().unwrap());
    assert!(restored.contains("binlog applied from"), "{restored}");
    db.restart();
    assert_eq!(count(&db), rows);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.t WHERE v = 'event-A'"),
        "1"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM mysql.user WHERE user = 'later'"),
        "1",
        "the window's account statement was applied"
    );
}

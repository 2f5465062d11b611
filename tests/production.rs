//! Production shapes on real MariaDB (issue 17): an encrypted instance (file_key_management,
//! encrypted tables and redo log), and for each shape restore and `verify --prepare` agree:
//! both succeed, or both fail.

mod common;

use std::process::Output;

use common::*;

/// One AES-256 key for file_key_management: `id;hex`.
const KEYS: &str = "1;a7addd9adea9978fda19f21e6be987880e68ac92632ca052e5bb42b1a506939a\n";

/// A server with file_key_management and `extra` options; its key file lives beside the data
/// dir (not in it, as in production).
fn keyed_instance(extra: &str) -> Mariadb {
    Mariadb::start_hooked(
        1,
        "root",
        &format!(
            "plugin-load-add=file_key_management\nfile-key-management-filename={{base}}/keys.txt\n{extra}"
        ),
        |d| std::fs::write(d.parent().unwrap().join("keys.txt"), KEYS).unwrap(),
    )
}

/// A server with encrypted tables and redo log.
fn encrypted_instance() -> Mariadb {
    keyed_instance("innodb-encrypt-tables=ON\ninnodb-encrypt-log=ON\n")
}

/// A variant of `ws`'s conf whose `server_options` load `db`'s key management.
fn with_key(ws: &Workspace, db: &Mariadb) -> std::path::PathBuf {
    let keys = db.dir.path().join("keys.txt");
    let opts = [
        "plugin-load-add=file_key_management".to_string(),
        format!("file-key-management-filename={}", keys.display()),
    ];
    ws.variant("with-key", |c| {
        c.server_options(&opts.iter().map(String::as_str).collect::<Vec<_>>())
    })
}

/// What a run printed, stdout then stderr.
fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) \
         ENGINE=InnoDB; INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM mysql.seq_1_to_3000",
    );
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Issue 17 bug 5: the key management the operator names in conf `server_options` reaches
/// `--prepare` and the temporary servers (never the archive's plugin lines); without it, restore
/// and verify --prepare both fail, naming prepare; with it, both succeed.
#[test]
fn an_encrypted_instance_restores_and_verifies_with_the_key_conf_names() {
    let mut db = encrypted_instance();
    seed(&db);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM information_schema.innodb_tablespaces_encryption WHERE name = 'app/t' AND current_key_version > 0"),
        "1",
        "the table is encrypted"
    );
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.t(v) VALUES ('event-A')",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    let with_key = with_key(&ws, &db);
    ok(&ws.cmd(&["backup"]).output().unwrap());

    // Without the key: both fail in prepare.
    let out = ws.cmd(&["verify", "--prepare"]).output().unwrap();
    let said = said(&out);
    assert_eq!(code(&out), Some(4), "{said}");
    assert!(said.contains("prepare"), "{said}");
    let ok_verify = ok(&ws
        .cmd_with(&with_key, &["verify", "--prepare"])
        .output()
        .unwrap());
    assert!(ok_verify.contains("ok"), "{ok_verify}");

    let rows: u64 = db.sql("SELECT COUNT(*) FROM app.t").parse().unwrap();
    db.kill_and_move_away();
    let out = ws.cmd(&["restore"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "restore without the key: {err}");
    assert!(err.contains("prepare"), "{err}");
    assert!(!db.data_dir.exists(), "nothing half-built left");

    let restored = ok(&ws
        .cmd_with(&with_key, &["restore", "--keep-code-options"])
        .output()
        .unwrap());
    assert!(restored.contains("binlog applied from"), "{restored}");
    db.restart();
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.t").parse::<u64>().unwrap(),
        rows
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.t WHERE v = 'event-A'"),
        "1"
    );
}

/// The temporary servers run without grant tables, which also skips the plugins installed
/// with INSTALL SONAME; a window writing to a table of such an engine (ARCHIVE) must still
/// apply: the server is started again with those plugins.
#[test]
fn a_window_on_an_installed_plugin_engine_applies() {
    let mut db = Mariadb::start(1);
    db.sql(
        "INSTALL SONAME 'ha_archive'; CREATE DATABASE app; \
         CREATE TABLE app.a (id INT, v TEXT) ENGINE=ARCHIVE; INSERT INTO app.a VALUES (1, 'seed')",
    );
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.a VALUES (2, 'event-A')",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    ok(&ws.cmd(&["verify", "--prepare"]).output().unwrap());
    db.kill_and_move_away();
    let restored = ok(&ws.cmd(&["restore"]).output().unwrap());
    assert!(restored.contains("binlog applied from"), "{restored}");
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.a"), "2");
}

/// Issue 17 bug 3: a table with `DATA DIRECTORY` elsewhere. The archive's `.isl` names the
/// original's outside path; restored as is, the copy opens the original's file (or refuses
/// one "found in multiple places"). Restore puts the tablespace in the data dir (the `.isl`
/// removed, the table rebuilt there), names the table, and never touches the outside file;
/// verify --prepare agrees; the restored table takes DDL.
#[test]
fn a_tablespace_outside_the_data_dir_is_restored_inside_it() {
    let mut db = Mariadb::start(1);
    let outside = db.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    db.sql(&format!(
        "CREATE DATABASE app; CREATE TABLE app.r (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB \
         DATA DIRECTORY='{0}'; INSERT INTO app.r SELECT seq, 'seed' FROM mysql.seq_1_to_500; \
         CREATE TABLE app.p (id INT PRIMARY KEY) ENGINE=InnoDB PARTITION BY HASH(id) \
         (PARTITION p0 DATA DIRECTORY='{0}', PARTITION p1 DATA DIRECTORY='{0}'); \
         INSERT INTO app.p SELECT seq FROM mysql.seq_1_to_100",
        outside.display()
    ));
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.r VALUES (1000, 'event-A')",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    ok(&ws.cmd(&["verify", "--prepare"]).output().unwrap());
    // A copy beside the running original: the original's outside file is never opened.
    let original = outside.join("app/r.ibd");
    db.kill_and_move_away();
    let before = sha1_file(&original);
    let restored = ok(&ws.cmd(&["restore"]).output().unwrap());
    assert!(
        restored.contains("table app/r had DATA DIRECTORY")
            && restored.contains(&original.display().to_string()),
        "names the relocated table: {restored}"
    );
    assert!(!db.data_dir.join("app/r.isl").exists());
    assert_eq!(sha1_file(&original), before, "outside file untouched");
    assert!(
        restored.contains("table app/p had DATA DIRECTORY")
            && restored.contains("partitioned and not rebuilt"),
        "{restored}"
    );
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.r"), "501");
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.p"), "100");
    // Rebuilt in the data dir: DDL that rebuilds it works (it crashed the server before).
    db.sql("ALTER TABLE app.r FORCE; OPTIMIZE TABLE app.r");
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.r"), "501");
    assert!(!db.sql("SHOW CREATE TABLE app.r").contains("DATA DIRECTORY"));
}

/// Issue 17 bug 6: with binlog_format MIXED, a temporary table created before the data point
/// and used in the window cannot be applied (its CREATE is not in the window). The backup warns
/// of the hazard; verify --prepare and restore both fail, the restore saying exactly why and
/// what to do, leaving nothing.
#[test]
fn a_temporary_table_across_the_data_point_is_refused_with_the_reason() {
    use std::io::Write;
    let mut db = Mariadb::start_with(1, "root", "binlog-format=MIXED\n");
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)");
    let mut session = std::process::Command::new(require("mariadb"))
        .args(["--no-defaults", "-uroot"])
        .arg(format!("--socket={}", db.socket().display()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = session.stdin.take().unwrap();
    writeln!(
        stdin,
        "CREATE TEMPORARY TABLE app.tmp (v TEXT); INSERT INTO app.tmp VALUES ('from-tmp');"
    )
    .unwrap();
    stdin.flush().unwrap();
    // A backup tool that, once the data is backed up, lets the session use its temporary table
    // before the binlog is read.
    let scratch = tempfile::tempdir().unwrap();
    let (done, go) = (
        scratch.path().join("data-done"),
        scratch.path().join("go-on"),
    );
    let tool = script(
        &scratch.path().join("tool.sh"),
        &format!(
            "{} \"$@\"\nrc=$?\ncase \" $* \" in *\" --backup \"*) touch {}; for i in $(seq 300); do [ -e {} ] && break; sleep 0.1; done;; esac\nexit $rc",
            require("mariabackup").display(),
            done.display(),
            go.display()
        ),
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    let backup = std::thread::spawn({
        let cmd = ws.cmd(&["backup"]);
        move || {
            let mut cmd = cmd;
            cmd.output().unwrap()
        }
    });
    wait_for(
        "the data backup",
        std::time::Duration::from_secs(120),
        || done.exists(),
    );
    // Logged as a statement (MIXED keeps statements on temporary tables), which needs app.tmp.
    writeln!(
        stdin,
        "INSERT INTO app.tmp VALUES ('later'); INSERT INTO app.t(v) VALUES ('marker');"
    )
    .unwrap();
    stdin.flush().unwrap();
    wait_for("the insert", std::time::Duration::from_secs(30), || {
        db.sql("SELECT COUNT(*) FROM app.t") == "1"
    });
    std::fs::write(&go, "").unwrap();
    let out = backup.join().unwrap();
    let backed_up = ok(&out);
    assert!(
        backed_up.contains("binlog_format is MIXED"),
        "warns: {backed_up}"
    );
    drop(stdin);
    let _ = session.wait();
    // verify --prepare applies the window as restore does: it fails this backup too.
    let out = ws.cmd(&["verify", "--prepare"]).output().unwrap();
    let said = said(&out);
    assert_eq!(code(&out), Some(4), "{said}");
    assert!(said.contains("check apply"), "{said}");

    db.kill_and_move_away();
    let out = ws.cmd(&["restore"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), Some(5), "{err}");
    assert!(
        err.contains("temporary table") && err.contains("--data-only"),
        "says why and what to do: {err}"
    );
    assert!(!db.data_dir.exists(), "nothing half-built left");
}

/// Issue 17 bug 4: an encrypted binlog (`encrypt_binlog=ON`) cannot be read from its files; the
/// temporary server, given the key management of conf `server_options`, serves it decrypted
/// and applies the window. Without the key, verify --prepare and restore both fail.
#[test]
fn an_encrypted_binlog_window_is_applied_through_the_server() {
    let mut db = keyed_instance("encrypt-binlog=ON\n");
    seed(&db);
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.t(v) VALUES ('event-A'); INSERT INTO app.t(v) VALUES ('event-B')",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    let with_key = with_key(&ws, &db);
    ok(&ws.cmd(&["backup"]).output().unwrap());
    let out = ws.cmd(&["verify", "--prepare"]).output().unwrap();
    assert_eq!(
        code(&out),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    ok(&ws
        .cmd_with(&with_key, &["verify", "--prepare"])
        .output()
        .unwrap());
    let rows: u64 = db.sql("SELECT COUNT(*) FROM app.t").parse().unwrap();
    db.kill_and_move_away();
    let out = ws.cmd(&["restore"]).output().unwrap();
    assert!(!out.status.success(), "restore without the key");
    assert!(!db.data_dir.exists(), "nothing half-built left");
    let restored = ok(&ws
        .cmd_with(&with_key, &["restore", "--keep-code-options"])
        .output()
        .unwrap());
    assert!(restored.contains("binlog applied from"), "{restored}");
    db.restart();
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.t").parse::<u64>().unwrap(),
        rows
    );
    for v in ["event-A", "event-B"] {
        assert_eq!(
            db.sql(&format!("SELECT COUNT(*) FROM app.t WHERE v = '{v}'")),
            "1"
        );
    }
}

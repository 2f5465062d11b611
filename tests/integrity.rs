//! Nothing lost, nothing reported falsely: one regression test per bug a hostile trial found in
//! backup, restore and catch-up, on real MariaDB. Each fails on the build before the fix
//! (`MYSQLBACKUP_BIN=<old binary> cargo test --test integrity` shows it).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::proxy::HoldingProxy;
use common::*;

fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; \
         INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM seq_1_to_500;",
    );
}

/// The local-store archive of `ws`'s instance on `date`.
fn archive(ws: &Workspace, db: &Mariadb, date: &str) -> PathBuf {
    local_backup(&ws.backup_base, db.port, date, 1, ".tgz.des3")
}

/// Runs `args` expecting failure; returns stderr.
fn fails(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.cmd(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} must fail:\n{err}");
    err
}

/// Bug 1: right after START SLAVE a channel looks caught up (both threads running, 0 s
/// behind, equal positions) before the peer sent anything. A peer whose binlog stream is held
/// 3 s must still give back the event the dead instance wrote after its backup.
#[test]
fn catch_up_waits_for_what_a_slow_peer_holds_back() {
    let mut db1 = Mariadb::start(1);
    let db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    let ws1 = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[(db2.port, 2)], "repl-secret", 120),
    );
    let ws2 = Workspace::new(
        &db2,
        2,
        Conf::default().replication(&[(db1.port, 1)], "repl-secret", 120),
    );
    ok(&ws1.cmd(&["setup_replication"]).output().unwrap());
    ok(&ws2.cmd(&["setup_replication"]).output().unwrap());
    seed(&db1);
    wait_has(&db2, "seed-500");
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    db1.sql("INSERT INTO app.t(v) VALUES ('event-B')");
    wait_has(&db2, "event-B");
    db1.kill_and_move_away();
    ok(&ws1.cmd(&["restore"]).output().unwrap());

    let proxy = HoldingProxy::start(db2.port, Duration::from_secs(3));
    let slow = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[(proxy.port, 2)], "repl-secret", 120),
    );
    let report = ok(&slow.cmd(&["catchup_binlog"]).output().unwrap());
    assert!(proxy.dumps() > 0, "the replica read through the proxy");
    db1.restart();
    assert_eq!(
        has(&db1, "event-B"),
        1,
        "event B came back from the slow peer"
    );
    assert!(report.contains("peers' position reached"), "{report}");
}

/// Bug 2: `binlog-info=OFF` in the `[mariabackup]` section made the backup tool record no
/// binlog coordinates; the window's events were then silently dropped by restore. Backup now
/// forces them on; restore refuses an archive without them unless `--data-only`.
#[test]
fn binlog_coordinates_are_always_recorded_and_required() {
    let mut db = Mariadb::start(1);
    let cnf = std::fs::read_to_string(db.my_cnf()).unwrap();
    std::fs::write(
        db.my_cnf(),
        format!("{cnf}\n[mariabackup]\nbinlog-info=OFF\n"),
    )
    .unwrap();
    seed(&db);
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.t(v) VALUES ('in-window')",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool).date("2022_02_02"));
    let report = ok(&ws.cmd(&["backup"]).output().unwrap());
    db.kill_and_move_away();
    ok(&ws.cmd(&["restore"]).output().unwrap());
    db.restart();
    assert_eq!(has(&db, "in-window"), 1, "the window's event was applied");
    assert!(report.contains("data_binlog: binlog."), "{report}");

    // An archive without coordinates (as the old backup made them): refused, nothing left.
    db.kill_and_move_away();
    let good = archive(&ws, &db, "2022_02_02");
    // Planted as a backup of the scheme before records (with a .sha1 sidecar).
    let forged = ws.backup_base.join(format!(
        "2022_02_03/{0}/mysql-{0}-testhost-1.tgz.des3",
        db.port
    ));
    common::forge::forge(&good, &ws.key_file, &forged, |d| {
        common::forge::edit_data(d, |data| {
            std::fs::remove_file(data.join("xtrabackup_binlog_info")).unwrap();
        });
        let path = d.join("mysqlbackup-manifest.json");
        let mut m = mysqlbackup::archive::manifest::Manifest::parse(&std::fs::read(&path).unwrap())
            .unwrap();
        m.data_binlog = None;
        std::fs::write(&path, m.to_bytes()).unwrap();
    });
    let err = fails(&ws, &["restore", "--date-str", "2022_02_03"]);
    assert!(err.contains("--data-only"), "{err}");
    assert!(!db.data_dir.exists(), "no half-built data dir");
    let report = ok(&ws
        .cmd(&["restore", "--date-str", "2022_02_03", "--data-only"])
        .output()
        .unwrap());
    assert!(report.contains("neither applied nor installed"), "{report}");
    db.restart();
    assert_eq!(has(&db, "seed-500"), 1, "the data alone is there");
}

/// Bug 3: mariabackup sends a file again when it changed during the copy (a table created
/// mid-backup). The later copy must replace the earlier one, as `mbstream -x` does.
#[test]
fn a_file_the_backup_tool_sends_twice_is_restored_from_its_later_copy() {
    let mut db = Mariadb::start(1);
    seed(&db);
    db.sql(
        "USE app; CREATE TABLE app.aria_t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=Aria; \
         INSERT INTO app.aria_t SELECT seq, 'aria' FROM seq_1_to_100",
    );
    let scratch = tempfile::tempdir().unwrap();
    let fake = scratch.path().join("fake");
    std::fs::create_dir_all(fake.join("app")).unwrap();
    std::fs::write(
        fake.join("app/aria_t.frm"),
        "an earlier, longer copy of the frm file",
    )
    .unwrap();
    // The stream starts with an earlier sending of the table's .frm; the real one follows.
    let tool = script(
        &scratch.path().join("tool.sh"),
        &format!(
            "case \" $* \" in *\" --backup \"*) (cd {} && mbstream -c app/aria_t.frm) || exit 97;; esac\nexec {} \"$@\"",
            fake.display(),
            require("mariabackup").display()
        ),
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    db.kill_and_move_away();
    ok(&ws.cmd(&["restore"]).output().unwrap());
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.aria_t"), "100");
}

/// Bug 4: one UPDATE of 400k rows after the data copy is one ~40 MB BINLOG statement; the
/// temporary server and client need max_allowed_packet to take it.
#[test]
fn a_large_statement_in_the_binlog_window_is_applied() {
    let mut db = Mariadb::start(1);
    seed(&db);
    db.sql(
        "USE app; CREATE TABLE app.big (id INT PRIMARY KEY, v CHAR(40)) ENGINE=InnoDB; \
         INSERT INTO app.big SELECT seq, 'before' FROM seq_1_to_400000",
    );
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "UPDATE app.big SET v = 'after-the-data-copy-after-the-data-copy'",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    db.kill_and_move_away();
    ok(&ws.cmd(&["restore"]).output().unwrap());
    db.restart();
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.big WHERE v LIKE 'after-%'"),
        "400000"
    );
}

/// Bug 5: with gtid_strict_mode off (MariaDB's default) a server legally writes GTIDs of
/// two origins out of order in one domain; mariadb-binlog's own strict mode refused them.
#[test]
fn interleaved_gtids_of_two_origins_are_applied() {
    let mut db = Mariadb::start_with(1, "root", "gtid-strict-mode=0\n");
    seed(&db);
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.t(v) VALUES ('from-1'); \
         SET SESSION server_id = 2, gtid_seq_no = 1; INSERT INTO app.t(v) VALUES ('from-2'); \
         SET SESSION server_id = 1; INSERT INTO app.t(v) VALUES ('from-1-again')",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    db.kill_and_move_away();
    ok(&ws.cmd(&["restore"]).output().unwrap());
    db.restart();
    for v in ["from-1", "from-2", "from-1-again"] {
        assert_eq!(has(&db, v), 1, "{v}");
    }
}

/// Bug 6: a stream cut cleanly on a chunk boundary, from a tool that exits 0, parses as a
/// whole stream. The marks of a complete backup are required: `xtrabackup_checkpoints` and
/// the tool's completion line.
#[test]
fn a_stream_without_the_marks_of_a_complete_backup_is_not_stored() {
    let db = Mariadb::start(1);
    seed(&db);
    let scratch = tempfile::tempdir().unwrap();
    let cut = scratch.path().join("cut.py");
    std::fs::write(
        &cut,
        "import struct, sys\n\
         i, o, drop = sys.stdin.buffer, sys.stdout.buffer, False\n\
         while True:\n\
         \x20   h = i.read(14)\n\
         \x20   if len(h) < 14: break\n\
         \x20   path = i.read(struct.unpack('<I', h[10:14])[0])\n\
         \x20   rest = b''\n\
         \x20   if h[9:10] == b'P':\n\
         \x20       f = i.read(20); rest = f + i.read(struct.unpack('<Q', f[:8])[0])\n\
         \x20   drop = drop or path == b'xtrabackup_checkpoints'\n\
         \x20   if not drop: o.write(h + path + rest)\n",
    )
    .unwrap();
    let mariabackup = require("mariabackup").display().to_string();
    let tools = [
        (
            "no-checkpoints",
            format!(
                "set -o pipefail\n{mariabackup} \"$@\" | python3 {}",
                cut.display()
            ),
            "xtrabackup_checkpoints",
        ),
        (
            "no-completion-line",
            format!("{mariabackup} \"$@\" 2> >(grep -v 'completed OK' >&2)"),
            "completion line",
        ),
    ];
    for (name, body, expect) in tools {
        let tool = script(&scratch.path().join(format!("{name}.sh")), &body);
        let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
        let err = fails(&ws, &["backup"]);
        assert!(err.contains(expect), "{name}: {err}");
        assert!(
            list_files(&ws.backup_base).is_empty(),
            "{name}: nothing stored"
        );
    }
}

/// Bug 7: a PURGE between the backup tool's end and our binlog rotation removed the binlog
/// file the data stops in; the backup was stored without it and could never be restored.
#[test]
fn a_backup_whose_data_binlog_was_purged_is_not_stored() {
    let db = Mariadb::start(1);
    seed(&db);
    let scratch = tempfile::tempdir().unwrap();
    let client = format!(
        "{} --no-defaults -uroot --socket={}",
        require("mariadb").display(),
        db.socket().display()
    );
    let tool = script(
        &scratch.path().join("tool.sh"),
        &format!(
            "{} \"$@\"; rc=$?\n\
             for i in $(seq 1 100); do\n\
             \x20 {client} -e 'FLUSH BINARY LOGS; PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY'\n\
             \x20 [ \"$({client} -N -e 'SHOW BINARY LOGS' | grep -c binlog.000001)\" = 0 ] && break\n\
             \x20 sleep 0.2\n\
             done\nexit $rc",
            require("mariabackup").display()
        ),
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    let err = fails(&ws, &["backup"]);
    assert!(
        err.contains("binlog.000001") && err.contains("no longer"),
        "{err}"
    );
    assert!(list_files(&ws.backup_base).is_empty(), "nothing stored");
}

/// Bug 8: the newest backup of the port may be a peer's; restoring it installed the peer's
/// identity (server_id, gtid_domain_id). Restore takes this instance's own backup unless told.
#[test]
fn restore_takes_this_instances_backup_and_identity() {
    let mut db1 = Mariadb::start(1);
    let db2 = Mariadb::start(2);
    seed(&db1);
    seed(&db2);
    let ws1 = Workspace::new(&db1, 1, Conf::default());
    // Instance 2 of the same port group (same port, shared store) backs up after 1.
    let ws2 = Workspace::new(
        &db2,
        2,
        Conf::default()
            .data_dir(&db2.data_dir)
            .my_cnf(&db2.my_cnf()),
    );
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    std::thread::sleep(Duration::from_millis(1100));
    let port1 = db1.port.to_string();
    let base1 = ws1.backup_base.display().to_string();
    // Instance 2 runs on the port while instance 1 is down (backup checks conf's port
    // against the server's).
    db1.kill_and_move_away();
    let mut db2 = db2;
    db2.restart_on_port(db1.port);
    ok(&ws2
        .cmd(&["backup", "--port", &port1, "--backup-base", &base1])
        .output()
        .unwrap());
    db2.stop();
    let report = ok(&ws1.cmd(&["restore"]).output().unwrap());
    assert!(
        report.contains("backup of: host testhost, instance 1"),
        "{report}"
    );
    db1.restart();
    assert_eq!(db1.sql("SELECT @@server_id, @@gtid_domain_id"), "1\t1");

    // Another instance's backup only when asked, and without its identity.
    db1.kill_and_move_away();
    let report = ok(&ws1
        .cmd(&["restore", "--from-instance", "2", "--allow-other-port"])
        .output()
        .unwrap());
    assert!(
        report.contains("backup of: host testhost, instance 2"),
        "{report}"
    );
    assert!(report.contains("identity of instance 2"), "{report}");
    let cnf = std::fs::read_to_string(db1.my_cnf()).unwrap();
    assert!(!cnf.lines().any(|l| l.starts_with("server-id")), "{cnf}");
}

/// Bug 9: restore applied events that came through replication but left gtid_slave_pos
/// behind; the channel set up afterwards fetched them again (duplicate key, channel stops).
#[test]
fn restore_leaves_the_slave_position_past_what_it_applied() {
    let mut db1 = Mariadb::start(1);
    let db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    let scratch = tempfile::tempdir().unwrap();
    let client = |db: &Mariadb| {
        format!(
            "{} --no-defaults -uroot -N --socket={}",
            require("mariadb").display(),
            db.socket().display()
        )
    };
    // After the data copy, 2 writes; the backup tool ends once 1 has applied it (so it is in
    // 1's binlog window).
    let tool = script(
        &scratch.path().join("tool.sh"),
        &format!(
            "{} \"$@\"; rc=$?\n\
             case \" $* \" in *\" --backup \"*)\n\
             \x20 {} -e \"INSERT INTO app.t(v) VALUES ('from-2-in-window')\" || exit 98\n\
             \x20 for i in $(seq 1 300); do\n\
             \x20   [ \"$({} -e \"SELECT COUNT(*) FROM app.t WHERE v = 'from-2-in-window'\")\" = 1 ] && break\n\
             \x20   sleep 0.1\n\
             \x20 done;;\n\
             esac\nexit $rc",
            require("mariabackup").display(),
            client(&db2),
            client(&db1)
        ),
    );
    let ws1 = Workspace::new(
        &db1,
        1,
        Conf::default()
            .tool(&tool)
            .replication(&[(db2.port, 2)], "repl-secret", 60),
    );
    let ws2 = Workspace::new(
        &db2,
        2,
        Conf::default().replication(&[(db1.port, 1)], "repl-secret", 60),
    );
    ok(&ws1.cmd(&["setup_replication"]).output().unwrap());
    ok(&ws2.cmd(&["setup_replication"]).output().unwrap());
    seed(&db1);
    wait_has(&db2, "seed-500");
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    assert_eq!(has(&db1, "from-2-in-window"), 1);
    db1.kill_and_move_away();
    let report = ok(&ws1.cmd(&["restore"]).output().unwrap());
    db1.restart();
    ok(&ws1.cmd(&["setup_replication"]).output().unwrap());
    db2.sql("INSERT INTO app.t(v) VALUES ('after-restore')");
    wait_has(&db1, "after-restore");
    assert_eq!(has(&db1, "from-2-in-window"), 1, "applied once");
    assert!(
        db1.diagnose().contains("Slave_SQL_Running: Yes"),
        "{}",
        db1.diagnose()
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("gtid_slave_pos:") && l.contains("2-2-")),
        "{report}"
    );
}

/// Bug 10: with event_scheduler=ON, the temporary servers ran scheduled events: writes that
/// no binlog or peer knows of (restore) or that carry the temporary server-id (catch-up).
#[test]
fn temporary_servers_run_no_scheduled_events() {
    let mut db1 = Mariadb::start_with(1, "root", "event-scheduler=ON\n");
    let db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    let ws1 = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[(db2.port, 2)], "repl-secret", 60),
    );
    let ws2 = Workspace::new(
        &db2,
        2,
        Conf::default().replication(&[(db1.port, 1)], "repl-secret", 60),
    );
    ok(&ws1.cmd(&["setup_replication"]).output().unwrap());
    ok(&ws2.cmd(&["setup_replication"]).output().unwrap());
    seed(&db1);
    db1.sql(
        "CREATE TABLE app.ev (id BIGINT AUTO_INCREMENT PRIMARY KEY, ts DATETIME(6), sid INT); \
         CREATE EVENT app.tick ON SCHEDULE EVERY 1 SECOND DO \
         INSERT INTO app.ev(ts, sid) VALUES (NOW(6), @@server_id)",
    );
    wait_for("the event to run", Duration::from_secs(30), || {
        db1.sql("SELECT COUNT(*) FROM app.ev") != "0"
    });
    wait_has(&db2, "seed-500");
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    db1.kill_and_move_away();
    let died = db2.sql("SELECT NOW(6)");
    ok(&ws1.cmd(&["restore"]).output().unwrap());
    std::thread::sleep(Duration::from_millis(1500));
    ok(&ws1.cmd(&["catchup_binlog"]).output().unwrap());
    let temp_id = format!("100{}", db1.port);
    let out = Command::new(require("mariadb-binlog"))
        .arg("--no-defaults")
        .args(list_files(&db1.data_dir).into_iter().filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("binlog.0")
        }))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let gtids: Vec<&str> = text.lines().filter(|l| l.contains("\tGTID ")).collect();
    assert!(
        gtids.iter().any(|l| l.contains("server id 1 ")),
        "read the binlog"
    );
    let temp: Vec<&&str> = gtids
        .iter()
        .filter(|l| l.contains(&format!("server id {temp_id} ")))
        .collect();
    assert!(
        temp.is_empty(),
        "transactions under the temporary server-id: {temp:?}"
    );
    let restarted = Instant::now();
    db1.restart();
    let bad = db1.sql(&format!(
        "SELECT COUNT(*) FROM app.ev WHERE ts > '{died}' AND ts < NOW(6) - INTERVAL {} MICROSECOND",
        restarted.elapsed().as_micros()
    ));
    assert_eq!(bad, "0", "rows written by a temporary server");
}

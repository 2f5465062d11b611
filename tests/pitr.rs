//! Point-in-time recovery (issue 19) on real MariaDB: a continuous binlog archive
//! (`archive_binlog`) and `restore --until-gtid` / `--until`, checked against a replica stopped
//! at the same GTID with `START SLAVE UNTIL master_gtid_pos`; the archive's idempotence,
//! generations and gaps.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Runs `archive_binlog --json` with `args`; asserts success; its report.
fn archive(ws: &Workspace, args: &[&str]) -> Value {
    let mut a = vec!["archive_binlog", "--json"];
    a.extend_from_slice(args);
    let out = ws.cmd(&a).output().unwrap();
    ok(&out);
    json(&out)
}

/// Runs `sql` in one client session (a temporary table lives as long as it).
fn session(db: &Mariadb, sql: &str) {
    let mut c = Command::new(require("mariadb"))
        .args(["--no-defaults", "-uroot"])
        .arg(format!("--socket={}", db.socket().display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success(), "{sql}");
}

fn checksum(db: &Mariadb) -> String {
    db.sql("CHECKSUM TABLE app.t, app.u")
}

/// A backup, then phases of writes (INSERT, UPDATE, DELETE; a temporary table of a STATEMENT
/// session that lives across a rotation; a second server's domain replicated in), each ended by
/// `FLUSH BINARY LOGS` and `archive_binlog`; the instance and its binlog lost. `--until-gtid` (a
/// position several files after the backup) and `--until` (a time between two phases, with an
/// offset, and in a conf zone other than the host's) each rebuild exactly what a replica
/// stopped at that position holds.
#[test]
fn point_in_time_to_a_gtid_and_to_a_time_exactly() {
    let mut db1 = Mariadb::start(1);
    let mut db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    db1.sql(&format!(
        "CHANGE MASTER 'p2' TO master_host='127.0.0.1', master_port={}, master_user='repl', \
         master_password='repl-secret', master_use_gtid=slave_pos; START SLAVE 'p2'",
        db2.port
    ));
    db1.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT); \
         CREATE TABLE app.u (id INT PRIMARY KEY, v TEXT); \
         USE app; INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM seq_1_to_100",
    );
    // Server 2 writes its own domain into app.u, replicated into db1's binlog.
    db2.sql(
        "SET SESSION sql_log_bin = 0; CREATE DATABASE app; \
         CREATE TABLE app.u (id INT PRIMARY KEY, v TEXT)",
    );
    let ws = Workspace::new(&db1, 1, Conf::default());
    backup_key(&ws, &[]);
    let first = archive(&ws, &[]);
    assert!(!first["archived"].as_array().unwrap().is_empty(), "{first}");

    // Phases of writes, each ended by a rotation and an archive run.
    let mut positions = Vec::new();
    let mut between = Vec::new();
    for phase in 1..=3 {
        db1.sql(&format!(
            "USE app; INSERT INTO app.t(v) SELECT CONCAT('p{phase}-', seq) FROM seq_1_to_50; \
             UPDATE app.t SET v = CONCAT(v, '-u{phase}') WHERE id % 7 = {phase}; \
             DELETE FROM app.t WHERE id % 11 = {phase}"
        ));
        db2.sql(&format!(
            "INSERT INTO app.u VALUES ({phase}, 'from server 2, phase {phase}')"
        ));
        wait_for("db2's row on db1", Duration::from_secs(60), || {
            db1.sql(&format!("SELECT COUNT(*) FROM app.u WHERE id = {phase}")) == "1"
        });
        if phase == 2 {
            // A temporary table of a STATEMENT session, across a rotation.
            session(
                &db1,
                "SET SESSION binlog_format = 'STATEMENT'; \
                 CREATE TEMPORARY TABLE app.tmp (v TEXT); \
                 INSERT INTO app.tmp VALUES ('through-a-temporary-table'); \
                 FLUSH BINARY LOGS; \
                 INSERT INTO app.t(v) SELECT v FROM app.tmp;",
            );
        }
        db1.sql("FLUSH BINARY LOGS");
        archive(&ws, &[]);
        positions.push(db1.sql("SELECT @@gtid_binlog_pos"));
        std::thread::sleep(Duration::from_millis(1500));
        between.push(chrono::Utc::now());
        std::thread::sleep(Duration::from_millis(1500));
    }
    assert!(positions[1].contains("2-2-"), "both domains: {positions:?}");
    // Archived twice in a row: nothing new.
    let again = archive(&ws, &[]);
    assert!(again["archived"].as_array().unwrap().is_empty(), "{again}");
    assert!(again["skipped"].as_u64().unwrap() >= 4, "{again}");

    // The reference: a replica of db1 stopped at the phase-2 position.
    let target = positions[1].clone();
    let db3 = Mariadb::start(3);
    db3.sql(&format!(
        "CHANGE MASTER TO master_host='127.0.0.1', master_port={}, master_user='repl', \
         master_password='repl-secret', master_use_gtid=slave_pos; \
         START SLAVE UNTIL master_gtid_pos = '{target}'",
        db1.port
    ));
    wait_for("db3 to stop at the target", Duration::from_secs(60), || {
        db3.sql("SELECT COUNT(*) FROM information_schema.processlist WHERE command = 'Slave_SQL'")
            == "0"
            && db3.sql("SELECT @@gtid_slave_pos") == target
    });
    let reference = checksum(&db3);
    let full = checksum(&db1);
    // The restored instance keeps db1's channel to server 2: with server 2 gone, nothing
    // arrives after the restore point.
    db2.stop();
    assert_ne!(reference, full, "phase 3 changed something");
    assert_eq!(
        db3.sql("SELECT COUNT(*) FROM app.t WHERE v = 'through-a-temporary-table'"),
        "1"
    );

    db1.kill_and_move_away();
    let out = ws
        .cmd(&["restore", "--until-gtid", &target, "--json"])
        .output()
        .unwrap();
    ok(&out);
    let v = json(&out);
    assert_eq!(v["until_gtid"], target.as_str(), "{v}");
    db1.restart();
    assert_eq!(checksum(&db1), reference, "--until-gtid {target}");
    // Its binlog holds what was replayed, its state exactly the target.
    assert_eq!(db1.sql("SELECT @@gtid_binlog_pos"), target);
    assert_eq!(db1.sql("SELECT @@gtid_current_pos"), target);

    // A time between phases 2 and 3: with an offset (+01:00), and in a conf zone.
    let t = between[1];
    let with_offset = t
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let zone = "America/New_York";
    let in_zone = t
        .with_timezone(&chrono_tz::America::New_York)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let zoned = ws.variant("zoned", |c| c.line(&format!("timezone: {zone}")));
    for (conf, until) in [(&ws.conf, with_offset.as_str()), (&zoned, in_zone.as_str())] {
        db1.kill_and_move_away();
        let out = ws
            .cmd_with(conf, &["restore", "--until", until, "--json"])
            .output()
            .unwrap();
        ok(&out);
        let v = json(&out);
        assert_eq!(v["until_gtid"], target.as_str(), "--until {until}: {v}");
        assert!(
            v["until"]
                .as_str()
                .unwrap()
                .contains(&t.format("%H:%M:%S").to_string()),
            "reported in UTC: {v}"
        );
        db1.restart();
        assert_eq!(checksum(&db1), reference, "--until {until}");
    }

    // The restored instance's archive continues under a new generation, the old one untouched;
    // its new transactions continue its GTIDs.
    db1.sql("INSERT INTO app.t(v) VALUES ('after the restore'); FLUSH BINARY LOGS");
    let v = archive(&ws, &[]);
    assert!(v["new_generation"].is_string(), "{v}");
    let listed = json(&ws.cmd(&["list", "--json"]).output().unwrap());
    let w = &listed["windows"][0];
    assert_eq!(w["to_generation"], 2, "{listed}");
    assert!(w["gaps"].as_array().unwrap().is_empty(), "{listed}");
    assert!(w["from_gtid"].is_string(), "{listed}");
    let out = ws.cmd(&["verify", "--binlogs", "--json"]).output().unwrap();
    ok(&out);
    let verified = json(&out);
    assert!(
        verified["backups"].as_array().unwrap().len() >= 6
            && verified["backups"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["ok"] == true),
        "{verified}"
    );

    // A new backup; expire keeps what the kept backups need (generation 1 goes: no kept
    // backup starts in it) and the restore to the latest event works after it.
    backup_key(&ws, &[]);
    db1.sql("INSERT INTO app.t(v) VALUES ('after the second backup'); FLUSH BINARY LOGS");
    archive(&ws, &[]);
    let out = ws
        .cmd(&["expire", "--keep-last", "1", "--confirm", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let v = json(&out);
    let binlogs = v["binlogs"].as_array().unwrap();
    assert!(
        binlogs
            .iter()
            .filter(|b| b["generation"] == 1)
            .all(|b| b["action"] == "delete" && b["deleted"] == true),
        "{v}"
    );
    assert!(
        binlogs
            .iter()
            .any(|b| b["generation"] == 2 && b["action"] == "keep"),
        "{v}"
    );
    let expected = checksum(&db1);
    let latest = db1.sql("SELECT @@gtid_binlog_pos");
    db1.kill_and_move_away();
    let out = ws
        .cmd(&["restore", "--until", "latest", "--json"])
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(json(&out)["until_gtid"], latest.as_str());
    db1.restart();
    assert_eq!(checksum(&db1), expected, "--until latest after expire");
    assert_eq!(has(&db1, "after the second backup"), 1);

    // Before the oldest backup: refused, nothing written.
    db1.kill_and_move_away();
    let out = ws
        .cmd(&["restore", "--until", "2001-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!db1.data_dir.exists());
}

/// `archive_binlog` killed mid-upload (its part held by the S3 proxy), then run again: it
/// completes and leaves nothing behind. `RESET MASTER` starts a new generation, the first kept
/// untouched. A binlog purged before it was archived is a gap: named, with the GTIDs lost, and
/// a non-zero exit. An archived file deleted: `restore --until latest` is refused naming the
/// gap, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_resumes_after_a_kill_starts_generations_and_names_gaps() {
    use mysqlbackup::store::Store;
    let moto = Moto::start();
    let store = moto.bucket("archive").await;
    let proxy = common::http_fault::FaultProxy::start(moto.port);
    tokio::task::spawn_blocking(move || {
        let mut db = Mariadb::start(1);
        db.sql(
            "CREATE DATABASE app; CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT); \
             USE app; INSERT INTO app.t(v) SELECT 'seed' FROM seq_1_to_100",
        );
        let conf = Conf {
            s3: Some((proxy.port, "archive".into(), true)),
            ..Default::default()
        };
        let ws = Workspace::new(&db, 1, conf.line("s3_part_size: 5MiB"));
        backup_key(&ws, &[]);
        // Binlog that does not compress much: a file of several 5 MiB parts.
        db.sql("USE app; INSERT INTO app.t(v) SELECT HEX(RANDOM_BYTES(500)) FROM seq_1_to_30000");
        db.sql("FLUSH BINARY LOGS");

        // Killed while a part of a file is on its way.
        proxy.hold_requests_containing(Some("partNumber=2"));
        let mut child = ws.cmd(&["archive_binlog"]).spawn().unwrap();
        wait_for("a part held", Duration::from_secs(60), || proxy.held() > 0);
        child.kill().unwrap();
        child.wait().unwrap();
        proxy.hold_requests_containing(None);
        let v = archive(&ws, &[]);
        assert!(
            !v["removed_leftovers"].as_array().unwrap().is_empty(),
            "the killed run's upload removed: {v}"
        );
        let listed = json(&ws.cmd(&["list", "--json"]).output().unwrap());
        assert!(
            listed["leftovers"].as_array().unwrap().is_empty(),
            "{listed}"
        );
        let files_gen1: Vec<String> = v["archived"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap().to_string())
            .collect();
        assert!(
            files_gen1.iter().all(|k| k.contains("/g0001/")),
            "{files_gen1:?}"
        );
        let rt = tokio::runtime::Runtime::new().unwrap();
        let keys_of = |prefix: &str| -> Vec<String> {
            let mut k: Vec<String> = rt
                .block_on(store.list(prefix))
                .unwrap()
                .into_iter()
                .map(|o| o.key)
                .collect();
            k.sort();
            k
        };
        // One more file, so that generation 1 has one in the middle to lose.
        db.sql("INSERT INTO app.t(v) VALUES ('third file'); FLUSH BINARY LOGS");
        archive(&ws, &[]);
        let prefix = format!("binlog/{}/testhost-1/", db.port);
        let before_reset = keys_of(&prefix);

        // RESET MASTER: the names start again; a new generation, the first untouched.
        db.sql("RESET MASTER; INSERT INTO app.t(v) VALUES ('after reset'); FLUSH BINARY LOGS");
        let v = archive(&ws, &[]);
        assert!(v["new_generation"].is_string(), "{v}");
        assert!(
            v["archived"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["key"].as_str().unwrap().contains("/g0002/")),
            "{v}"
        );
        let after = keys_of(&prefix);
        assert!(
            before_reset.iter().all(|k| after.contains(k)),
            "generation 1 untouched"
        );

        // Purged before archived: a gap, named, non-zero.
        db.sql("INSERT INTO app.t(v) VALUES ('lost 1'); FLUSH BINARY LOGS");
        db.sql("INSERT INTO app.t(v) VALUES ('lost 2'); FLUSH BINARY LOGS");
        let newest = db
            .sql("SHOW BINARY LOGS")
            .lines()
            .last()
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_string();
        db.sql(&format!("PURGE BINARY LOGS TO '{newest}'"));
        db.sql("INSERT INTO app.t(v) VALUES ('after the purge'); FLUSH BINARY LOGS");
        let out = ws.cmd(&["archive_binlog"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(5), "{text}");
        assert!(
            text.contains("GAP") && text.contains("misses the transactions after"),
            "{text}"
        );

        // An archived file of generation 2 deleted: the restore to its end is refused.
        db.kill_and_move_away();
        // (Generation 2 starts after RESET MASTER, after the backup: the restore needs the
        // backup's history, generation 1; one of its files in the middle is lost.)
        let gen1: Vec<&String> = before_reset
            .iter()
            .filter(|k| !k.ends_with(".json"))
            .collect();
        assert!(gen1.len() >= 3, "{gen1:?}");
        let victim = gen1[1].clone();
        rt.block_on(store.delete(&format!("{victim}.json")))
            .unwrap();
        rt.block_on(store.delete(&victim)).unwrap();
        let out = ws.cmd(&["restore", "--until", "latest"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains("gap"), "{err}");
        assert!(!db.data_dir.exists(), "nothing written");
    })
    .await
    .unwrap();
}

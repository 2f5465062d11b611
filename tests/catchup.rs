//! The seed's scenario on real MariaDB replication: two instances replicating from each other,
//! backup, death, restore, catch-up, and back to normal.

mod common;

use std::time::Duration;

use common::*;

fn repl_conf(peer: &Mariadb, timeout: u64) -> Conf {
    Conf::default().replication(&[(peer.port, peer.server_id)], "repl-secret", timeout)
}

#[test]
fn seed_scenario_restore_and_catch_up_from_a_peer() {
    seed_scenario(None);
}

/// The seed's scenario on the real MariaDB 11.8 of scripts/setup-mariadb11.sh: its replication
/// (TLS on by default since 11.3), its `mariadb-backup` (`mariadb_backup_*` files), its
/// `mariadbd` for restore's and catch-up's temporary servers.
#[test]
fn seed_scenario_on_mariadb_11() {
    seed_scenario(Some(&mariadb11()));
}

/// The scenario with the server programs of `release` (a basedir; the host's when None).
fn seed_scenario(release: Option<&std::path::Path>) {
    let start = |id| match release {
        Some(base) => Mariadb::start_release(id, &base.join("bin")),
        None => Mariadb::start(id),
    };
    let with_base = |c: Conf| match release {
        Some(base) => c.mysql_base(base),
        None => c,
    };
    let mut db1 = start(1);
    let db2 = start(2);
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    let scratch = tempfile::tempdir().unwrap();
    // Event A is written on 1 after its data backup, before its binlog backup.
    let real_tool = match release {
        Some(base) => base.join("bin/mariadb-backup"),
        None => require("mariabackup"),
    };
    let tool = tool_then_sql_at(
        &scratch.path().join("backup-tool-then-sql.sh"),
        &real_tool,
        &db1,
        "INSERT INTO app.t(v) VALUES ('event-A')",
    );
    let ws1 = Workspace::new(&db1, 1, with_base(repl_conf(&db2, 120)).tool(&tool));
    let ws2 = Workspace::new(&db2, 2, with_base(repl_conf(&db1, 120)));
    for (ws, peer) in [(&ws1, &db2), (&ws2, &db1)] {
        let set = ok(&ws.cmd(&["setup_replication"]).output().unwrap());
        let running = format!(
            "peer{} (127.0.0.1:{}): io=Yes sql=Yes",
            peer.server_id, peer.port
        );
        assert!(set.contains(&running), "{set}");
    }

    db1.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO app.t(v) VALUES ('seed-1')");
    db2.sql("SET SESSION auto_increment_increment = 2, auto_increment_offset = 2; INSERT INTO app.t(v) SELECT 'seed-2' FROM DUAL WHERE 1 = 1");
    wait_has_or(&db2, "seed-1", &[&db1]);
    wait_has_or(&db1, "seed-2", &[&db2]);

    ok(&ws1.cmd(&["backup"]).output().unwrap());
    wait_has(&db2, "event-A");
    // Event B: after the backup, replicated to 2, then 1 dies.
    db1.sql("INSERT INTO app.t(v) VALUES ('event-B')");
    wait_has(&db2, "event-B");
    db1.kill_and_move_away();

    let restored = ok(&ws1.cmd(&["restore"]).output().unwrap());
    assert!(restored.contains("binlog applied from"), "{restored}");
    let caught = ok(&ws1.cmd(&["catchup_binlog"]).output().unwrap());
    assert!(caught.contains("caught up from: peer2"), "{caught}");

    db1.restart();
    assert_eq!(
        db1.sql("SELECT @@server_id"),
        "1",
        "starts normally with its own server-id"
    );
    assert_eq!(has(&db1, "event-A"), 1, "event A came back through restore");
    assert_eq!(
        has(&db1, "event-B"),
        1,
        "event B, originated on 1, came back from 2"
    );
    assert_eq!(has(&db1, "seed-2"), 1);

    db1.sql("INSERT INTO app.t(v) VALUES ('event-C')");
    wait_has(&db2, "event-C");
    // 1's own channel from 2 resumed at its normal start.
    db2.sql("INSERT INTO app.t(v) VALUES ('event-D')");
    wait_has(&db1, "event-D");
    wait_for("checksums to agree", Duration::from_secs(30), || {
        db1.sql("CHECKSUM TABLE app.t") == db2.sql("CHECKSUM TABLE app.t")
    });
}

#[test]
fn catch_up_with_an_unreachable_peer_fails_in_time_naming_it() {
    let mut db1 = Mariadb::start(1);
    let dead_port = free_port();
    let ws = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[(dead_port, 7)], "repl-secret", 5),
    );
    // setup_replication configures the channel anyway and says it is not connected yet.
    let set = ok(&ws.cmd(&["setup_replication"]).output().unwrap());
    assert!(
        set.contains(&format!("peer7 (127.0.0.1:{dead_port}): io=Connecting"))
            && set.contains("not connected after 15s; it keeps retrying every 1s"),
        "{set}"
    );
    assert!(
        !set.contains("repl-secret"),
        "no password in reports: {set}"
    );
    db1.stop();
    let started = std::time::Instant::now();
    let out = ws.cmd(&["catchup_binlog"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "gave up in time"
    );
    assert!(
        err.contains("peer7") && err.contains(&dead_port.to_string()),
        "names the peer: {err}"
    );
    assert!(
        !err.contains("repl-secret"),
        "no password in messages: {err}"
    );
    // The instance was left stopped and starts normally.
    db1.restart();
    assert_eq!(db1.sql("SELECT @@server_id"), "1");
}

#[test]
fn catch_up_a_stopped_replica_with_its_own_channels() {
    let db1 = Mariadb::start(1);
    let mut db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    // The replica's channel is made while it runs normally, so its relay logs carry the
    // instance's own names; catch-up must start on them and leave none of its own.
    let with_source = Workspace::new(&db2, 2, repl_conf(&db1, 60));
    ok(&with_source.cmd(&["setup_replication"]).output().unwrap());
    db1.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO app.t(v) VALUES ('before-stop')");
    wait_has(&db2, "before-stop");
    db2.stop();
    db1.sql("INSERT INTO app.t(v) VALUES ('while-stopped')");

    // No `replication.source`: the channels already configured are used.
    let plain = Workspace::new(&db2, 2, Conf::default());
    let caught = ok(&plain.cmd(&["catchup_binlog"]).output().unwrap());
    assert!(caught.contains("caught up from: peer1"), "{caught}");
    let stray: Vec<_> = std::fs::read_dir(&db2.data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("relay-bin") && !n.starts_with("mysql-relay-bin"))
        .collect();
    assert!(stray.is_empty(), "relay logs under another name: {stray:?}");

    db2.restart();
    assert_eq!(db2.sql("SELECT @@server_id"), "2");
    assert_eq!(has(&db2, "while-stopped"), 1, "caught up while stopped");
    db1.sql("INSERT INTO app.t(v) VALUES ('after-restart')");
    wait_has(&db2, "after-restart");
}

/// Without log-slave-updates (MariaDB's default) a server does not log what it applies: 1's
/// binlog holds only its own domain, and 2 cannot give 1's own events back. Catch-up must
/// still resume 2's domain where 1's data left it: nothing of 2 applied twice, what 2 wrote
/// while 1 was dead applied once.
#[test]
fn catch_up_without_log_slave_updates_resumes_each_domain() {
    let mut db1 = Mariadb::start_with(1, "root", "log-slave-updates=0\n");
    let db2 = Mariadb::start_with(2, "root", "log-slave-updates=0\n");
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    let ws1 = Workspace::new(&db1, 1, repl_conf(&db2, 120));
    let ws2 = Workspace::new(&db2, 2, repl_conf(&db1, 120));
    ok(&ws1.cmd(&["setup_replication"]).output().unwrap());
    ok(&ws2.cmd(&["setup_replication"]).output().unwrap());
    db1.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO app.t(v) VALUES ('seed-1')");
    wait_has(&db2, "seed-1");
    db2.sql("INSERT INTO app.t(v) VALUES ('seed-2')");
    wait_has(&db1, "seed-2");
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    db1.kill_and_move_away();
    db2.sql("INSERT INTO app.t(v) VALUES ('while-1-was-dead')");

    ok(&ws1.cmd(&["restore"]).output().unwrap());
    let caught = ok(&ws1.cmd(&["catchup_binlog"]).output().unwrap());
    assert!(caught.contains("caught up from: peer2"), "{caught}");
    db1.restart();
    for v in ["seed-1", "seed-2", "while-1-was-dead"] {
        assert_eq!(has(&db1, v), 1, "{v} once");
    }
    db2.sql("INSERT INTO app.t(v) VALUES ('after-restart-2')");
    wait_has(&db1, "after-restart-2");
    db1.sql("INSERT INTO app.t(v) VALUES ('after-restart-1')");
    wait_has(&db2, "after-restart-1");
}

/// An IO-thread error (here: the channel's own password is wrong) fails catch-up at once,
/// naming the channel, instead of waiting for catchup_timeout.
#[test]
fn catch_up_fails_fast_when_a_channel_cannot_read_its_peer() {
    let mut db1 = Mariadb::start(1);
    let db2 = Mariadb::start(2);
    repl_user(&db2, "repl-secret");
    let wrong = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[(db2.port, 2)], "not-the-password", 600),
    );
    ok(&wrong.cmd(&["setup_replication"]).output().unwrap());
    db1.stop();
    // Catch-up through the channel as it is, reading the peer's position with the right account.
    let right = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[], "repl-secret", 600),
    );
    let started = std::time::Instant::now();
    let out = right.cmd(&["catchup_binlog"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "failed fast, not after the 600 s timeout"
    );
    assert!(
        err.contains("peer2") && err.contains("cannot read from its peer"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-password") && !err.contains("repl-secret"),
        "{err}"
    );
    db1.restart();
    assert_eq!(db1.sql("SELECT @@server_id"), "1");
}

/// What `db`'s channel `channel` has received (`Gtid_IO_Pos`), "" when none.
fn received_from(db: &Mariadb, channel: &str) -> String {
    let out = std::process::Command::new(require("mariadb"))
        .args(["--no-defaults", "-uroot", "-E", "-e"])
        .arg(format!("SHOW SLAVE '{channel}' STATUS"))
        .arg(format!("--socket={}", db.socket().display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Gtid_IO_Pos: "))
        .unwrap_or("")
        .to_string()
}

/// Issue 17 bug 1: a lagging replica of the dead instance has received its last events but not
/// applied them (`Gtid_IO_Pos` ahead of `gtid_binlog_pos`). Catch-up must not declare success
/// on what the peer has logged: the instance would start under its own server-id and skip
/// those events as its own when they arrive. With the peer's SQL thread stopped it fails at
/// once, naming the peer and the GTID; with it running but held up, it waits until the peer
/// has applied them and brings them back.
#[test]
fn catch_up_waits_for_what_a_lagging_peer_holds_in_its_relay_log() {
    let mut db1 = Mariadb::start(1);
    let db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    let ws1 = Workspace::new(&db1, 1, repl_conf(&db2, 120));
    let ws2 = Workspace::new(&db2, 2, repl_conf(&db1, 120));
    ok(&ws1.cmd(&["setup_replication"]).output().unwrap());
    ok(&ws2.cmd(&["setup_replication"]).output().unwrap());
    db1.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO app.t(v) VALUES ('seed-1')");
    wait_has(&db2, "seed-1");
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    // 2 lags: it receives 1's next events into its relay log and does not apply them yet.
    db2.sql("STOP SLAVE 'peer1' SQL_THREAD");
    db1.sql("INSERT INTO app.t(v) SELECT 'lagged' FROM mysql.seq_1_to_50");
    let last = format!("1-1-{}", db1.gtid_seq());
    wait_for(
        "2 to receive 1's last events",
        Duration::from_secs(60),
        || received_from(&db2, "peer1").split(',').any(|g| g == last),
    );
    assert_eq!(has(&db2, "lagged"), 0, "not applied on 2 yet");
    db1.kill_and_move_away();
    ok(&ws1.cmd(&["restore"]).output().unwrap());

    let started = std::time::Instant::now();
    let out = ws1.cmd(&["catchup_binlog"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(5),
        "must not report caught up: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "failed at once, not after the timeout"
    );
    assert!(
        err.contains("peer2") && err.contains(&last) && err.contains("SQL thread"),
        "names the peer, the GTID and why: {err}"
    );

    // The peer's SQL thread runs again but is held up (a lock on the table, held until
    // released below): it is lagging, not stuck. Catch-up waits until it has applied and
    // logged them.
    let mut locker = std::process::Command::new(require("mariadb"))
        .args(["--no-defaults", "-uroot", "-N", "-B", "--unbuffered"])
        .arg(format!("--socket={}", db2.socket().display()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lock_in = locker.stdin.take().unwrap();
    let mut lock_out = std::io::BufReader::new(locker.stdout.take().unwrap());
    {
        use std::io::{BufRead, Write};
        writeln!(lock_in, "LOCK TABLES app.t WRITE; SELECT 'locked';").unwrap();
        lock_in.flush().unwrap();
        let mut line = String::new();
        lock_out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "locked");
    }
    db2.sql("START SLAVE 'peer1' SQL_THREAD");
    let catchup = std::thread::spawn({
        let mut cmd = ws1.cmd(&["catchup_binlog"]);
        move || cmd.output().unwrap()
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !catchup.is_finished(),
        "catch-up must wait for the lagging peer, not report caught up"
    );
    {
        use std::io::Write;
        writeln!(lock_in, "UNLOCK TABLES;").unwrap();
    }
    drop(lock_in);
    let caught = ok(&catchup.join().unwrap());
    assert!(caught.contains("caught up from: peer2"), "{caught}");
    let _ = locker.wait();
    db1.restart();
    assert_eq!(
        db1.sql("SELECT COUNT(*) FROM app.t WHERE v = 'lagged'"),
        "50",
        "every row the lagging peer held came back"
    );
}

/// Issue 17 bug 10: with one of two peers down, catch-up takes everything from the reachable
/// one and names the unreachable one; with `catchup_require: all` it fails, naming it.
#[test]
fn catch_up_from_the_reachable_peers_naming_the_unreachable() {
    let mut db1 = Mariadb::start(1);
    let db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    repl_user(&db2, "repl-secret");
    let dead_port = free_port();
    let ws1 = Workspace::new(
        &db1,
        1,
        Conf::default().replication(&[(db2.port, 2), (dead_port, 7)], "repl-secret", 120),
    );
    let ws2 = Workspace::new(&db2, 2, repl_conf(&db1, 120));
    ok(&ws1.cmd(&["setup_replication"]).output().unwrap());
    ok(&ws2.cmd(&["setup_replication"]).output().unwrap());
    db1.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO app.t(v) VALUES ('seed-1')");
    wait_has(&db2, "seed-1");
    ok(&ws1.cmd(&["backup"]).output().unwrap());
    db1.sql("INSERT INTO app.t(v) VALUES ('event-B')");
    wait_has(&db2, "event-B");
    db1.kill_and_move_away();
    ok(&ws1.cmd(&["restore"]).output().unwrap());
    db2.sql("INSERT INTO app.t(v) VALUES ('while-1-was-dead')");

    let all = ws1.variant("require-all", |c| c.catchup_require_all());
    let out = ws1.cmd_with(&all, &["catchup_binlog"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("catchup_require") && err.contains(&format!("peer7 (127.0.0.1:{dead_port})")),
        "{err}"
    );

    let caught = ok(&ws1.cmd(&["catchup_binlog"]).output().unwrap());
    assert!(caught.contains("caught up from: peer2"), "{caught}");
    assert!(
        caught.contains(&format!(
            "unreachable, not caught up from: peer7 (127.0.0.1:{dead_port})"
        )),
        "{caught}"
    );
    db1.restart();
    for v in ["seed-1", "event-B", "while-1-was-dead"] {
        assert_eq!(has(&db1, v), 1, "{v}");
    }
}

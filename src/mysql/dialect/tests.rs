//! Unit tests of `dialect`: version detection, and every statement and status column per server
//! generation (the statements each generation's manual documents; the fake servers in
//! tests/dialects.rs accept only these).

use super::*;
use crate::mysql::replication::parse_status;

fn d(version: &str) -> Box<dyn Dialect> {
    ServerKind::parse(version).unwrap().dialect()
}

fn src(ssl: Option<bool>) -> SourceSpec<'static> {
    SourceSpec {
        host: "10.0.0.2",
        port: 3309,
        user: "repl",
        password: "p'w",
        connect_retry: 10,
        ssl,
    }
}

#[test]
fn kinds_from_versions_and_binaries() {
    let k = |t| ServerKind::parse(t).unwrap();
    assert_eq!(
        k("10.11.6-MariaDB-0+deb12u1-log"),
        ServerKind {
            flavor: Flavor::MariaDb,
            version: Version(10, 11, 6)
        }
    );
    assert_eq!(k("5.5.5-10.11.6-MariaDB").version, Version(10, 11, 6));
    assert_eq!(k("11.4.4-MariaDB-ubu2404").version, Version(11, 4, 4));
    assert_eq!(k("5.7.44-log").flavor, Flavor::MySql);
    assert_eq!(k("8.0.36-28").version, Version(8, 0, 36));
    assert_eq!(
        k("mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)"),
        k("10.11.6-MariaDB")
    );
    assert_eq!(
        k("/usr/sbin/mysqld  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)"),
        ServerKind {
            flavor: Flavor::MySql,
            version: Version(8, 4, 3)
        }
    );
    assert_eq!(k("8.0.36").to_string(), "MySQL 8.0.36");
    // What a manifest records.
    assert_eq!(
        ServerKind::recorded("mariadb", "11.8.9-MariaDB-0+deb13u1-log"),
        Some(k("11.8.9-MariaDB"))
    );
    assert_eq!(ServerKind::recorded("mysql", "8.4.3"), Some(k("8.4.3")));
    assert_eq!(ServerKind::recorded("mariadb", "v"), None);
    assert_eq!(ServerKind::recorded("oracle", "8.4.3"), None);
    assert!(ServerKind::parse("no version").is_err());
}

#[test]
fn mariadb_names_its_connections() {
    for v in ["10.11.6-MariaDB-log", "11.4.4-MariaDB-log"] {
        let d = d(v);
        assert_eq!(
            d.change_source("peer2", &src(None)),
            "CHANGE MASTER 'peer2' TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, \
             MASTER_USER='repl', MASTER_PASSWORD='p''w', MASTER_CONNECT_RETRY=10, \
             MASTER_USE_GTID=slave_pos"
        );
        assert!(
            d.change_source("peer2", &src(Some(true)))
                .contains("MASTER_CONNECT_RETRY=10, MASTER_SSL=1, MASTER_USE_GTID")
        );
        assert!(
            d.change_source("peer2", &src(Some(false)))
                .contains("MASTER_CONNECT_RETRY=10, MASTER_SSL=0, MASTER_USE_GTID")
        );
        assert_eq!(d.start("peer2"), "START SLAVE 'peer2'");
        assert_eq!(d.stop("peer2"), "STOP SLAVE 'peer2'");
        assert_eq!(d.reset("peer2"), "RESET SLAVE 'peer2'");
        assert_eq!(d.stop_all(), "STOP ALL SLAVES");
        assert_eq!(d.status_all(), "SHOW ALL SLAVES STATUS");
        assert_eq!(d.skip_replica_start(), "--skip-slave-start");
        assert_eq!(d.binlog_tool_args(), ["--skip-gtid-strict-mode"]);
        let target = d.parse_position("1-1-5,\n2-2-7").unwrap();
        assert_eq!(
            d.wait_statement(&target),
            "SELECT MASTER_GTID_WAIT('1-1-5,2-2-7', 1)"
        );
    }
}

#[test]
fn mysql_words_follow_the_version() {
    // (version, change, start, status, option names)
    let cases = [
        (
            "5.7.44-log",
            "CHANGE MASTER TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, MASTER_USER='repl', \
             MASTER_PASSWORD='p''w', MASTER_CONNECT_RETRY=10, MASTER_AUTO_POSITION=1 FOR \
             CHANNEL 'peer2'",
            "START SLAVE FOR CHANNEL 'peer2'",
            "SHOW SLAVE STATUS",
            "--skip-slave-start",
        ),
        (
            "8.0.21",
            "CHANGE MASTER TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, MASTER_USER='repl', \
             MASTER_PASSWORD='p''w', MASTER_CONNECT_RETRY=10, GET_MASTER_PUBLIC_KEY=1, \
             MASTER_AUTO_POSITION=1 FOR CHANNEL 'peer2'",
            "START SLAVE FOR CHANNEL 'peer2'",
            "SHOW SLAVE STATUS",
            "--skip-slave-start",
        ),
        (
            "8.0.22",
            "CHANGE MASTER TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, MASTER_USER='repl', \
             MASTER_PASSWORD='p''w', MASTER_CONNECT_RETRY=10, GET_MASTER_PUBLIC_KEY=1, \
             MASTER_AUTO_POSITION=1 FOR CHANNEL 'peer2'",
            "START REPLICA FOR CHANNEL 'peer2'",
            "SHOW REPLICA STATUS",
            "--skip-slave-start",
        ),
        (
            "8.0.36",
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.2', SOURCE_PORT=3309, \
             SOURCE_USER='repl', SOURCE_PASSWORD='p''w', SOURCE_CONNECT_RETRY=10, \
             GET_SOURCE_PUBLIC_KEY=1, SOURCE_AUTO_POSITION=1 FOR CHANNEL 'peer2'",
            "START REPLICA FOR CHANNEL 'peer2'",
            "SHOW REPLICA STATUS",
            "--skip-replica-start",
        ),
        (
            "8.4.3",
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.2', SOURCE_PORT=3309, \
             SOURCE_USER='repl', SOURCE_PASSWORD='p''w', SOURCE_CONNECT_RETRY=10, \
             GET_SOURCE_PUBLIC_KEY=1, SOURCE_AUTO_POSITION=1 FOR CHANNEL 'peer2'",
            "START REPLICA FOR CHANNEL 'peer2'",
            "SHOW REPLICA STATUS",
            "--skip-replica-start",
        ),
    ];
    for (v, change, start, status, skip) in cases {
        let d = d(v);
        assert_eq!(d.change_source("peer2", &src(None)), change, "{v}");
        assert_eq!(d.start("peer2"), start, "{v}");
        assert_eq!(d.status_all(), status, "{v}");
        assert_eq!(d.skip_replica_start(), skip, "{v}");
        assert!(d.binlog_tool_args().is_empty());
        assert_eq!(d.stop("peer2"), start.replace("START", "STOP"), "{v}: stop");
        assert_eq!(
            d.reset("peer2"),
            start.replace("START", "RESET"),
            "{v}: reset"
        );
        let ssl = d.change_source("peer2", &src(Some(true)));
        let p = if v.starts_with("8.0.36") || v.starts_with("8.4") {
            "SOURCE"
        } else {
            "MASTER"
        };
        assert!(
            ssl.contains(&format!("{p}_CONNECT_RETRY=10, {p}_SSL=1")),
            "{ssl}"
        );
        let target = d
            .parse_position("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n8a94f357-aab4-11df-86ab-c80aa9429563:1-3")
            .unwrap();
        assert_eq!(
            d.wait_statement(&target),
            "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,8a94f357-aab4-11df-86ab-c80aa9429563:1-3', 1)"
        );
    }
    // 8.4 has no word of the old vocabulary left.
    let d84 = d("8.4.3");
    for sql in [
        d84.change_source("c", &src(Some(true))),
        d84.start("c"),
        d84.stop("c"),
        d84.reset("c"),
        d84.stop_all(),
        d84.status_all(),
    ] {
        assert!(!sql.contains("MASTER") && !sql.contains("SLAVE"), "{sql}");
    }
}

#[test]
fn status_rows_parse_in_each_generation() {
    let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    for (v, io, behind, received) in [
        (
            "10.11.6-MariaDB",
            "Slave_IO_Running",
            "Seconds_Behind_Master",
            "Gtid_IO_Pos",
        ),
        (
            "5.7.44",
            "Slave_IO_Running",
            "Seconds_Behind_Master",
            "Retrieved_Gtid_Set",
        ),
        (
            "8.4.3",
            "Replica_IO_Running",
            "Seconds_Behind_Source",
            "Retrieved_Gtid_Set",
        ),
    ] {
        let d = d(v);
        let pos = if v.contains("MariaDB") {
            "0-1-9".to_string()
        } else {
            format!("{uuid}:1-9")
        };
        let row = |col: &str| -> String {
            match col {
                c if c == io => "Yes".into(),
                c if c == behind => "3".into(),
                c if c == received => pos.clone(),
                "Connection_name" | "Channel_Name" => "peer2".into(),
                _ => String::new(),
            }
        };
        let st = parse_status(d.as_ref(), &row).unwrap();
        assert_eq!(st.name, "peer2", "{v}");
        assert_eq!(st.io_running, "Yes", "{v}");
        assert_eq!(st.seconds_behind, Some(3), "{v}");
        assert_eq!(st.received.to_string(), pos, "{v}");
    }
    // A position that is not one fails, naming the column.
    let d = d("8.0.36");
    let e = parse_status(d.as_ref(), &|c: &str| {
        if c == "Retrieved_Gtid_Set" {
            "garbage".into()
        } else {
            String::new()
        }
    })
    .unwrap_err();
    assert!(e.to_string().contains("Retrieved_Gtid_Set"), "{e}");
}

//! Self-test of the fake MySQL/MariaDB server (tests/common/fake_mysql/): versions, the syntax
//! each version accepts, status columns, the replication simulation and the transcript, through
//! mysql_async over TCP and over the Unix socket.

mod common;

use std::future::Future;
use std::time::Duration;

use common::fake_mysql::{FakeServer, GtidList, GtidSet, Personality, World};
use mysql_async::prelude::*;
use mysql_async::{Conn, OptsBuilder, Row, Value};

use Personality::*;

const UUID_A: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const UUID_B: &str = "bbbbbbbb-0000-0000-0000-000000000002";

/// Every test body is bounded.
async fn bounded<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test timed out");
}

async fn tcp(s: &FakeServer) -> Conn {
    s.tcp_conn().await
}

async fn unix(s: &FakeServer) -> Conn {
    let opts = OptsBuilder::default()
        .socket(Some(s.socket().to_string_lossy().into_owned()))
        .user(Some("root"))
        .pass(Some("secret"));
    Conn::new(opts).await.expect("socket connect")
}

type Table = (Vec<String>, Vec<Vec<Option<String>>>);

fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true)),
    }
}

/// Runs a query: its column names and rows as text, or the server error (code, message).
async fn run(c: &mut Conn, sql: &str) -> Result<Table, (u16, String)> {
    let res = async {
        let mut r = c.query_iter(sql).await?;
        let cols: Vec<String> = r
            .columns()
            .map(|cs| cs.iter().map(|c| c.name_str().into_owned()).collect())
            .unwrap_or_default();
        let rows: Vec<Row> = r.collect().await?;
        let rows = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| text(row.as_ref(i).unwrap()))
                    .collect()
            })
            .collect();
        Ok::<_, mysql_async::Error>((cols, rows))
    }
    .await;
    match res {
        Ok(t) => Ok(t),
        Err(mysql_async::Error::Server(e)) => Err((e.code, e.message)),
        Err(e) => panic!("{sql}: {e}"),
    }
}

async fn ok(c: &mut Conn, sql: &str) -> Table {
    run(c, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql} failed: {e:?}"))
}

async fn one(c: &mut Conn, sql: &str) -> Option<String> {
    let (_, rows) = ok(c, sql).await;
    assert_eq!(rows.len(), 1, "{sql}");
    rows[0][0].clone()
}

async fn code(c: &mut Conn, sql: &str) -> u16 {
    match run(c, sql).await {
        Ok(_) => 0,
        Err((code, _)) => code,
    }
}

/// A status table's row for a channel, as (column, value) lookups.
fn field<'a>(t: &'a Table, row: usize, col: &str) -> Option<&'a str> {
    let i =
        t.0.iter()
            .position(|c| c == col)
            .unwrap_or_else(|| panic!("no column {col} in {:?}", t.0));
    t.1[row][i].as_deref()
}

#[tokio::test(flavor = "multi_thread")]
async fn version_over_tcp_and_socket() {
    bounded(async {
        let world = World::new();
        for p in Personality::ALL {
            let dir = tempfile::tempdir().unwrap();
            let s = FakeServer::start(&world, p, dir.path()).await;
            let mut t = tcp(&s).await;
            let mut u = unix(&s).await;
            assert_eq!(one(&mut t, "SELECT VERSION()").await.unwrap(), p.version());
            assert_eq!(one(&mut u, "select version()").await.unwrap(), p.version());
            assert_eq!(one(&mut u, "SELECT @@version").await.unwrap(), p.version());
            let expect = match p {
                MariaDb1011 => (10, 11, 6),
                MariaDb114 => (11, 4, 4),
                MySql57 => (5, 7, 44),
                MySql8021 => (8, 0, 21),
                MySql80 => (8, 0, 36),
                MySql84 => (8, 4, 3),
            };
            assert_eq!(t.server_version(), expect, "{p:?}");
            // Several items, names as typed, values as text.
            let (cols, rows) = ok(
                &mut t,
                "SELECT @@GLOBAL.server_id, @@session.wait_timeout, @@Log_Slave_Updates, VERSION()",
            )
            .await;
            assert_eq!(
                cols,
                [
                    "@@GLOBAL.server_id",
                    "@@session.wait_timeout",
                    "@@Log_Slave_Updates",
                    "VERSION()"
                ]
            );
            assert_eq!(
                rows[0],
                [
                    Some("1".to_string()),
                    Some("28800".to_string()),
                    Some("1".to_string()),
                    Some(p.version().to_string())
                ]
            );
            let (c, msg) = run(&mut t, "SELECT @@GLOBAL.no_such_thing")
                .await
                .unwrap_err();
            assert_eq!(
                (c, msg.as_str()),
                (1193, "Unknown system variable 'no_such_thing'")
            );
            // The default connection of a TCP client moves to the socket the server names.
            let via_default = Conn::new(
                OptsBuilder::default()
                    .ip_or_hostname("127.0.0.1")
                    .tcp_port(s.port())
                    .user(Some("u")),
            )
            .await
            .unwrap();
            drop(via_default);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_per_personality() {
    bounded(async {
        let world = World::new();
        for p in Personality::ALL {
            let dir = tempfile::tempdir().unwrap();
            let s = FakeServer::start(&world, p, dir.path()).await;
            let mut c = tcp(&s).await;
            let mysql = ["server_uuid", "gtid_mode", "gtid_executed"];
            let maria = [
                "gtid_binlog_pos",
                "gtid_slave_pos",
                "gtid_binlog_state",
                "gtid_ignore_duplicates",
            ];
            for v in mysql {
                let r = run(&mut c, &format!("SELECT @@GLOBAL.{v}")).await;
                assert_eq!(r.is_ok(), p.is_mysql(), "{p:?} {v}");
            }
            for v in maria {
                let r = run(&mut c, &format!("SELECT @@{v}")).await;
                assert_eq!(r.is_ok(), p.is_mariadb(), "{p:?} {v}");
            }
            let replica_updates = run(&mut c, "SELECT @@log_replica_updates").await;
            assert_eq!(
                replica_updates.is_ok(),
                matches!(p, MySql80 | MySql84),
                "{p:?}"
            );
            let repo = run(&mut c, "SELECT @@master_info_repository").await;
            match p {
                MySql57 => assert_eq!(repo.unwrap().1[0][0].as_deref(), Some("FILE")),
                MySql8021 | MySql80 => assert_eq!(repo.unwrap().1[0][0].as_deref(), Some("TABLE")),
                _ => assert_eq!(repo.unwrap_err().0, 1193),
            }
            if p.is_mysql() {
                assert_eq!(one(&mut c, "SELECT @@gtid_mode").await.unwrap(), "ON");
                assert_eq!(one(&mut c, "SELECT @@gtid_executed").await.unwrap(), "");
            } else {
                ok(&mut c, "SET GLOBAL gtid_slave_pos = '0-1-5,1-2-7'").await;
                assert_eq!(
                    one(&mut c, "SELECT @@gtid_slave_pos").await.unwrap(),
                    "0-1-5,1-2-7"
                );
                assert_eq!(s.var("gtid_slave_pos").unwrap(), "0-1-5,1-2-7");
            }
            // Session statements of clients and of our code are accepted.
            ok(
                &mut c,
                "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'ONLY_FULL_GROUP_BY', '')",
            )
            .await;
            ok(&mut c, "SET NAMES utf8mb4").await;
            ok(&mut c, "SET @x = 1").await;
            ok(&mut c, "FLUSH BINARY LOGS").await;
            s.set_var("datadir", "/data/mysql/");
            assert_eq!(
                one(&mut c, "SELECT @@datadir").await.unwrap(),
                "/data/mysql/"
            );
            assert_eq!(code(&mut c, "SET GLOBAL datadir = '/x'").await, 1238);
            assert_eq!(code(&mut c, "SET GLOBAL nope = 1").await, 1193);
        }
    })
    .await;
}

/// (statement, expected error code or 0) in order on one connection of a fresh server.
fn syntax_table(p: Personality) -> Vec<(&'static str, u16)> {
    match p {
        MariaDb1011 | MariaDb114 => vec![
            (
                "CHANGE MASTER 'peer2' TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='r', \
                 MASTER_PASSWORD='it''s', MASTER_USE_GTID=slave_pos, MASTER_SSL=1, \
                 MASTER_CONNECT_RETRY=10, IGNORE_DOMAIN_IDS=(5), DO_DOMAIN_IDS=()",
                0,
            ),
            (
                "change master 'peer3' to master_host=\"h\", master_use_gtid=Current_Pos",
                0,
            ),
            ("CHANGE MASTER TO MASTER_HOST='h' FOR CHANNEL 'x'", 1064),
            ("CHANGE REPLICATION SOURCE TO SOURCE_HOST='h'", 1064),
            ("CHANGE MASTER 'x' TO SOURCE_HOST='h'", 1064),
            ("CHANGE MASTER 'x' TO MASTER_AUTO_POSITION=1", 1064),
            ("CHANGE MASTER 'x' TO GET_MASTER_PUBLIC_KEY=1", 1064),
            ("CHANGE MASTER 'x' TO MASTER_USE_GTID=maybe", 1064),
            ("CHANGE MASTER 'x' TO MASTER_HOST=h", 1064),
            ("START SLAVE FOR CHANNEL 'peer2'", 1064),
            ("SHOW SLAVE STATUS FOR CHANNEL 'peer2'", 1064),
            ("START SLAVE 'peer2'", 0),
            ("RESET SLAVE 'peer2'", 1198),
            ("STOP SLAVE 'peer2'", 0),
            ("START REPLICA 'peer2'", 0),
            ("STOP ALL REPLICAS", 0),
            ("START ALL SLAVES", 0),
            ("STOP ALL SLAVES", 0),
            ("SHOW ALL SLAVES STATUS", 0),
            ("SHOW ALL REPLICAS STATUS", 0),
            ("SHOW SLAVE 'peer2' STATUS", 0),
            ("SHOW REPLICA STATUS", 0),
            ("SHOW SLAVE STATUS", 0),
            ("RESET SLAVE 'peer2'", 0),
            ("RESET REPLICA 'peer2' ALL", 0),
            ("SHOW SLAVE 'peer2' STATUS", 1617),
            ("START SLAVE", 1200),
            ("SELECT WAIT_FOR_EXECUTED_GTID_SET('x', 1)", 1046),
            ("SELECT MASTER_GTID_WAIT('', 1)", 0),
            ("SELECT @@gtid_executed", 1193),
            ("SET GLOBAL gtid_slave_pos = '0-1-5'", 0),
            ("FLUSH LOGS", 0),
            ("SHUTDOWN", 0),
            ("RESET MASTER", 0),
            ("this is not sql", 1064),
        ],
        MySql57 => vec![
            (
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='r', \
                 MASTER_PASSWORD='p', MASTER_AUTO_POSITION=1, MASTER_SSL=0, MASTER_CONNECT_RETRY=10",
                0,
            ),
            ("CHANGE MASTER TO MASTER_HOST='h' FOR CHANNEL 'peer2'", 3077),
            ("CHANGE MASTER TO MASTER_HOST='h' FOR CHANNEL ''", 0),
            ("START REPLICA", 1064),
            ("STOP REPLICA", 1064),
            ("SHOW REPLICA STATUS", 1064),
            ("CHANGE REPLICATION SOURCE TO SOURCE_HOST='h'", 1064),
            ("CHANGE MASTER TO SOURCE_HOST='h'", 1064),
            ("CHANGE MASTER TO GET_MASTER_PUBLIC_KEY=1", 1064),
            ("CHANGE MASTER TO MASTER_USE_GTID=slave_pos", 1064),
            ("CHANGE MASTER 'x' TO MASTER_HOST='h'", 1064),
            ("START SLAVE 'x'", 1064),
            ("START ALL SLAVES", 1064),
            ("SHOW ALL SLAVES STATUS", 1064),
            ("START SLAVE", 0),
            ("CHANGE MASTER TO MASTER_HOST='other'", 3021),
            ("RESET SLAVE", 3081),
            ("STOP SLAVE", 0),
            ("START SLAVE FOR CHANNEL ''", 0),
            ("STOP SLAVE FOR CHANNEL ''", 0),
            ("START SLAVE IO_THREAD, SQL_THREAD FOR CHANNEL ''", 0),
            ("STOP SLAVE IO_THREAD FOR CHANNEL ''", 0),
            ("STOP SLAVE SQL_THREAD", 0),
            ("SHOW SLAVE STATUS", 0),
            ("SHOW SLAVE STATUS FOR CHANNEL 'nope'", 3074),
            ("START SLAVE FOR CHANNEL 'nope'", 3074),
            ("RESET SLAVE ALL FOR CHANNEL ''", 0),
            ("START SLAVE", 1200),
            ("SELECT MASTER_GTID_WAIT('0-1-1', 1)", 1046),
            ("SELECT WAIT_FOR_EXECUTED_GTID_SET('', 1)", 0),
            ("SELECT WAIT_FOR_EXECUTED_GTID_SET('nonsense', 1)", 1772),
            ("SELECT @@gtid_binlog_pos", 1193),
            ("SET GLOBAL master_info_repository = 'TABLE'", 0),
            ("CHANGE MASTER TO MASTER_HOST='h' FOR CHANNEL 'peer2'", 0),
            ("RESET MASTER", 0),
            ("RESET BINARY LOGS AND GTIDS", 1064),
        ],
        MySql8021 => vec![
            (
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='r', \
                 MASTER_PASSWORD='p', MASTER_AUTO_POSITION=1, GET_MASTER_PUBLIC_KEY=1 \
                 FOR CHANNEL 'peer2'",
                0,
            ),
            ("START REPLICA", 1064),
            ("SHOW REPLICA STATUS", 1064),
            ("CHANGE REPLICATION SOURCE TO SOURCE_HOST='h'", 1064),
            ("CHANGE MASTER TO GET_SOURCE_PUBLIC_KEY=1", 1064),
            ("CHANGE MASTER TO SOURCE_HOST='h'", 1064),
            ("CHANGE MASTER 'x' TO MASTER_HOST='h'", 1064),
            ("START SLAVE FOR CHANNEL 'peer2'", 0),
            ("STOP SLAVE FOR CHANNEL 'peer2'", 0),
            ("SHOW SLAVE STATUS FOR CHANNEL 'peer2'", 0),
            ("RESET SLAVE ALL FOR CHANNEL 'peer2'", 0),
            ("SELECT MASTER_GTID_WAIT('0-1-1', 1)", 1046),
        ],
        MySql80 => vec![
            (
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=1, \
                 SOURCE_USER='r', SOURCE_PASSWORD='p', SOURCE_AUTO_POSITION=1, SOURCE_SSL=1, \
                 SOURCE_CONNECT_RETRY=10, GET_SOURCE_PUBLIC_KEY=1 FOR CHANNEL 'peer2'",
                0,
            ),
            (
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='r', \
                 MASTER_AUTO_POSITION=1, GET_MASTER_PUBLIC_KEY=1 FOR CHANNEL 'peer3'",
                0,
            ),
            // 8.0.23+ parses either spelling in either statement (deprecation warning only).
            (
                "CHANGE REPLICATION SOURCE TO MASTER_HOST='127.0.0.1' FOR CHANNEL 'peer3'",
                0,
            ),
            ("CHANGE MASTER TO SOURCE_PORT=2 FOR CHANNEL 'peer3'", 0),
            ("CHANGE MASTER TO MASTER_USE_GTID=slave_pos", 1064),
            ("CHANGE MASTER 'x' TO MASTER_HOST='h'", 1064),
            ("CHANGE REPLICATION SOURCE 'x' TO SOURCE_HOST='h'", 1064),
            ("START ALL SLAVES", 1064),
            ("START ALL REPLICAS", 1064),
            ("START REPLICA FOR CHANNEL 'peer2'", 0),
            ("RESET REPLICA FOR CHANNEL 'peer2'", 3081),
            ("STOP REPLICA FOR CHANNEL 'peer2'", 0),
            ("START SLAVE", 0),
            ("STOP SLAVE", 0),
            ("SHOW REPLICA STATUS", 0),
            ("SHOW SLAVE STATUS FOR CHANNEL 'peer3'", 0),
            ("RESET REPLICA ALL FOR CHANNEL 'peer3'", 0),
            ("RESET SLAVE ALL", 0),
            ("SHOW REPLICA STATUS FOR CHANNEL 'peer2'", 3074),
        ],
        MySql84 => vec![
            ("CHANGE MASTER TO MASTER_HOST='h'", 1064),
            ("START SLAVE", 1064),
            ("STOP SLAVE", 1064),
            ("RESET SLAVE", 1064),
            ("SHOW SLAVE STATUS", 1064),
            ("CHANGE REPLICATION SOURCE TO MASTER_HOST='h'", 1064),
            (
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST='h', GET_MASTER_PUBLIC_KEY=1",
                1064,
            ),
            (
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=1, \
                 SOURCE_USER='r', SOURCE_PASSWORD='p', SOURCE_AUTO_POSITION=1, \
                 GET_SOURCE_PUBLIC_KEY=1 FOR CHANNEL 'peer2'",
                0,
            ),
            ("START REPLICA", 0),
            ("STOP REPLICA FOR CHANNEL 'peer2'", 0),
            ("SHOW REPLICA STATUS FOR CHANNEL 'peer2'", 0),
            ("RESET REPLICA ALL FOR CHANNEL 'peer2'", 0),
            ("RESET MASTER", 1064),
            ("RESET BINARY LOGS AND GTIDS", 0),
            ("SELECT @@master_info_repository", 1193),
            ("SELECT MASTER_GTID_WAIT('0-1-1', 1)", 1046),
        ],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_version_accepts_only_its_syntax() {
    bounded(async {
        let world = World::new();
        for p in Personality::ALL {
            let dir = tempfile::tempdir().unwrap();
            let s = FakeServer::start(&world, p, dir.path()).await;
            let mut c = if p.is_mariadb() { unix(&s).await } else { tcp(&s).await };
            for (sql, want) in syntax_table(p) {
                let got = run(&mut c, sql).await;
                let got_code = got.as_ref().err().map_or(0, |e| e.0);
                assert_eq!(got_code, want, "{p:?}: {sql} -> {got:?}");
                if want == 1064 {
                    let msg = &got.unwrap_err().1;
                    let product = if p.is_mariadb() { "MariaDB" } else { "MySQL" };
                    assert!(
                        msg.starts_with(&format!(
                            "You have an error in your SQL syntax; check the manual that corresponds to your {product} server version for the right syntax to use near '"
                        )) && msg.ends_with("' at line 1"),
                        "{msg}"
                    );
                }
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parse_errors_point_where_the_server_would() {
    bounded(async {
        let world = World::new();
        let dir = tempfile::tempdir().unwrap();
        let s84 = FakeServer::start(&world, MySql84, dir.path()).await;
        let mut c = tcp(&s84).await;
        let (_, msg) = run(&mut c, "START SLAVE").await.unwrap_err();
        assert!(msg.ends_with("near 'SLAVE' at line 1"), "{msg}");
        let (_, msg) = run(&mut c, "CHANGE MASTER TO MASTER_HOST='h'")
            .await
            .unwrap_err();
        assert!(
            msg.ends_with("near 'MASTER TO MASTER_HOST='h'' at line 1"),
            "{msg}"
        );
        let dir2 = tempfile::tempdir().unwrap();
        let s57 = FakeServer::start(&world, MySql57, dir2.path()).await;
        let mut c = tcp(&s57).await;
        let (_, msg) = run(&mut c, "START REPLICA").await.unwrap_err();
        assert!(msg.ends_with("near 'REPLICA' at line 1"), "{msg}");
        let dir3 = tempfile::tempdir().unwrap();
        let m = FakeServer::start(&world, MariaDb1011, dir3.path()).await;
        let mut c = tcp(&m).await;
        let (_, msg) = run(&mut c, "START SLAVE FOR CHANNEL 'x'")
            .await
            .unwrap_err();
        assert!(msg.ends_with("near 'FOR CHANNEL 'x'' at line 1"), "{msg}");
        // With a default database an unknown function is 1305 (no database: 1046).
        ok(&mut c, "USE test").await;
        let (code, msg) = run(&mut c, "SELECT WAIT_FOR_EXECUTED_GTID_SET('x', 1)")
            .await
            .unwrap_err();
        assert_eq!(code, 1305);
        assert_eq!(
            msg,
            "FUNCTION test.WAIT_FOR_EXECUTED_GTID_SET does not exist"
        );
    })
    .await;
}

const MYSQL_SLAVE_COLUMNS: &[&str] = &[
    "Slave_IO_State",
    "Master_Host",
    "Master_User",
    "Master_Port",
    "Connect_Retry",
    "Master_Log_File",
    "Read_Master_Log_Pos",
    "Relay_Log_File",
    "Relay_Log_Pos",
    "Relay_Master_Log_File",
    "Slave_IO_Running",
    "Replicate_Do_DB",
    "Slave_SQL_Running",
    "Last_Errno",
    "Last_Error",
    "Exec_Master_Log_Pos",
    "Master_SSL_Allowed",
    "Seconds_Behind_Master",
    "Last_IO_Errno",
    "Last_IO_Error",
    "Last_SQL_Errno",
    "Last_SQL_Error",
    "Master_Server_Id",
    "Master_UUID",
    "Retrieved_Gtid_Set",
    "Executed_Gtid_Set",
    "Auto_Position",
    "Channel_Name",
];

const MYSQL_REPLICA_COLUMNS: &[&str] = &[
    "Replica_IO_State",
    "Source_Host",
    "Source_User",
    "Source_Port",
    "Connect_Retry",
    "Source_Log_File",
    "Read_Source_Log_Pos",
    "Relay_Log_File",
    "Relay_Log_Pos",
    "Relay_Source_Log_File",
    "Replica_IO_Running",
    "Replica_SQL_Running",
    "Replicate_Ignore_DB",
    "Last_Errno",
    "Last_Error",
    "Exec_Source_Log_Pos",
    "Source_SSL_Allowed",
    "Seconds_Behind_Source",
    "Last_IO_Errno",
    "Last_IO_Error",
    "Last_SQL_Errno",
    "Last_SQL_Error",
    "Source_Server_Id",
    "Source_UUID",
    "Retrieved_Gtid_Set",
    "Executed_Gtid_Set",
    "Auto_Position",
    "Channel_Name",
    "Get_Source_public_key",
];

const MARIADB_COLUMNS: &[&str] = &[
    "Connection_name",
    "Slave_SQL_State",
    "Slave_IO_State",
    "Master_Host",
    "Master_User",
    "Master_Port",
    "Connect_Retry",
    "Master_Log_File",
    "Read_Master_Log_Pos",
    "Relay_Log_File",
    "Relay_Log_Pos",
    "Relay_Master_Log_File",
    "Slave_IO_Running",
    "Slave_SQL_Running",
    "Last_Errno",
    "Last_Error",
    "Exec_Master_Log_Pos",
    "Master_SSL_Allowed",
    "Seconds_Behind_Master",
    "Last_IO_Errno",
    "Last_IO_Error",
    "Last_SQL_Errno",
    "Last_SQL_Error",
    "Replicate_Ignore_Server_Ids",
    "Master_Server_Id",
    "Using_Gtid",
    "Gtid_IO_Pos",
    "Replicate_Do_Domain_Ids",
    "Replicate_Ignore_Domain_Ids",
    "Gtid_Slave_Pos",
];

fn has_columns(t: &Table, want: &[&str]) {
    for c in want {
        assert!(
            t.0.iter().any(|x| x == c),
            "missing column {c} in {:?}",
            t.0
        );
    }
}

/// The replica's (CHANGE, START, SHOW) statements for a channel 'peer2' to the peer's port.
fn mysql_statements(p: Personality, port: u16, extra: &str) -> (String, String, String) {
    if matches!(p, MySql80 | MySql84) {
        (
            format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT={port}, \
                 SOURCE_USER='repl', SOURCE_PASSWORD='pw', SOURCE_AUTO_POSITION=1{extra} \
                 FOR CHANNEL 'peer2'"
            ),
            "START REPLICA FOR CHANNEL 'peer2'".into(),
            "SHOW REPLICA STATUS FOR CHANNEL 'peer2'".into(),
        )
    } else {
        (
            format!(
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, \
                 MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_AUTO_POSITION=1{extra} \
                 FOR CHANNEL 'peer2'"
            ),
            "START SLAVE FOR CHANNEL 'peer2'".into(),
            "SHOW SLAVE STATUS FOR CHANNEL 'peer2'".into(),
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_replica_catches_up_from_its_peer() {
    bounded(async {
        for p in [MySql57, MySql8021, MySql80, MySql84] {
            let world = World::new();
            let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let peer = FakeServer::start(&world, p, d1.path()).await;
            let replica = FakeServer::start(&world, p, d2.path()).await;
            peer.set_var("gtid_executed", &format!("{UUID_A}:1-10"));
            peer.set_var("server_id", "2");
            replica.set_var("gtid_executed", &format!("{UUID_B}:1-3"));
            if p == MySql57 {
                replica.set_var("master_info_repository", "TABLE");
            }
            let mut c = unix(&replica).await;
            let (change, start, show) = mysql_statements(p, peer.port(), "");
            ok(&mut c, &change).await;
            let before = ok(&mut c, &show).await;
            let (io_col, sbm, read, exec, relay_file, file) = if matches!(p, MySql80 | MySql84) {
                (
                    "Replica_IO_Running",
                    "Seconds_Behind_Source",
                    "Read_Source_Log_Pos",
                    "Exec_Source_Log_Pos",
                    "Relay_Source_Log_File",
                    "Source_Log_File",
                )
            } else {
                (
                    "Slave_IO_Running",
                    "Seconds_Behind_Master",
                    "Read_Master_Log_Pos",
                    "Exec_Master_Log_Pos",
                    "Relay_Master_Log_File",
                    "Master_Log_File",
                )
            };
            assert_eq!(field(&before, 0, io_col), Some("No"));
            assert_eq!(field(&before, 0, sbm), None);
            ok(&mut c, &start).await;
            let wait = format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{UUID_A}:1-10', 5)");
            let t0 = std::time::Instant::now();
            assert_eq!(one(&mut c, &wait).await.as_deref(), Some("1"), "{p:?}");
            assert!(
                t0.elapsed() >= Duration::from_millis(150),
                "a failed wait sleeps"
            );
            // Two polls of lag (the default), then applied.
            for _ in 0..2 {
                let st = ok(&mut c, &show).await;
                assert_eq!(field(&st, 0, io_col), Some("Yes"));
                let lag: u64 = field(&st, 0, sbm).unwrap().parse().unwrap();
                assert!(lag > 0);
                assert_ne!(field(&st, 0, read), field(&st, 0, exec));
                assert_eq!(
                    field(&st, 0, "Retrieved_Gtid_Set"),
                    Some(format!("{UUID_A}:1-10").as_str())
                );
                assert_eq!(
                    field(&st, 0, "Executed_Gtid_Set"),
                    Some(format!("{UUID_B}:1-3").as_str())
                );
            }
            let st = ok(&mut c, &show).await;
            match p {
                MySql80 | MySql84 => has_columns(&st, MYSQL_REPLICA_COLUMNS),
                MySql8021 => {
                    has_columns(&st, MYSQL_SLAVE_COLUMNS);
                    has_columns(&st, &["Get_master_public_key"]);
                }
                _ => has_columns(&st, MYSQL_SLAVE_COLUMNS),
            }
            assert_eq!(field(&st, 0, sbm), Some("0"));
            assert_eq!(field(&st, 0, read), field(&st, 0, exec));
            assert_eq!(field(&st, 0, relay_file), field(&st, 0, file));
            assert_eq!(field(&st, 0, "Channel_Name"), Some("peer2"));
            assert_eq!(field(&st, 0, "Auto_Position"), Some("1"));
            let both = format!("{UUID_A}:1-10,\n{UUID_B}:1-3");
            assert_eq!(field(&st, 0, "Executed_Gtid_Set"), Some(both.as_str()));
            assert_eq!(one(&mut c, &wait).await.as_deref(), Some("0"));
            assert_eq!(
                one(&mut c, "SELECT @@GLOBAL.gtid_executed").await.unwrap(),
                both
            );
            // What the peer gains later arrives too.
            peer.set_var("gtid_executed", &format!("{UUID_A}:1-12"));
            ok(&mut c, &show).await;
            let wait12 = format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{UUID_A}:11-12', 1)");
            assert_eq!(one(&mut c, &wait12).await.as_deref(), Some("0"));
            let ch = replica.channel("peer2").unwrap();
            assert_eq!((ch.io.as_str(), ch.sql.as_str()), ("Yes", "Yes"));
            assert_eq!(ch.port, peer.port());
            assert_eq!(ch.user, "repl");
            assert!(ch.auto_position);
            assert_eq!(ch.received, format!("{UUID_A}:1-12"));
            // SHOW ... STATUS without FOR CHANNEL: one row per channel.
            replica.add_channel("zz", "127.0.0.1", 1);
            let all = ok(&mut c, show.split(" FOR").next().unwrap()).await;
            assert_eq!(all.1.len(), 2);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_replica_catches_up_from_its_peer() {
    bounded(async {
        for p in [MariaDb1011, MariaDb114] {
            let world = World::new();
            let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let peer = FakeServer::start(&world, p, d1.path()).await;
            let replica = FakeServer::start(&world, p, d2.path()).await;
            peer.set_var("gtid_binlog_pos", "0-1-10,1-1-5");
            replica.set_var("gtid_slave_pos", "0-2-3");
            replica.set_apply_polls(1);
            let mut c = tcp(&replica).await;
            ok(
                &mut c,
                &format!(
                    "CHANGE MASTER 'peer2' TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, \
                     MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_USE_GTID=slave_pos, \
                     IGNORE_DOMAIN_IDS=(1)",
                    peer.port()
                ),
            )
            .await;
            ok(&mut c, "START SLAVE 'peer2'").await;
            let wait = "SELECT MASTER_GTID_WAIT('0-1-10', 3)";
            assert_eq!(one(&mut c, wait).await.as_deref(), Some("-1"));
            let st = ok(&mut c, "SHOW ALL SLAVES STATUS").await;
            has_columns(&st, MARIADB_COLUMNS);
            assert_eq!(field(&st, 0, "Connection_name"), Some("peer2"));
            assert_eq!(field(&st, 0, "Slave_IO_Running"), Some("Yes"));
            assert_eq!(field(&st, 0, "Gtid_IO_Pos"), Some("0-1-10,1-1-5"));
            assert!(field(&st, 0, "Seconds_Behind_Master").unwrap() != "0");
            assert_ne!(
                field(&st, 0, "Read_Master_Log_Pos"),
                field(&st, 0, "Exec_Master_Log_Pos")
            );
            let st = ok(&mut c, "SHOW SLAVE 'peer2' STATUS").await;
            assert_eq!(field(&st, 0, "Seconds_Behind_Master"), Some("0"));
            assert_eq!(field(&st, 0, "Using_Gtid"), Some("Slave_Pos"));
            assert_eq!(field(&st, 0, "Replicate_Ignore_Domain_Ids"), Some("1"));
            assert!(!st.0.iter().any(|c| c == "Connection_name"));
            assert_eq!(one(&mut c, wait).await.as_deref(), Some("0"));
            // Domain 1 is ignored; domain 0 takes the higher sequence number.
            assert_eq!(
                one(&mut c, "SELECT @@gtid_slave_pos").await.unwrap(),
                "0-1-10"
            );
            assert_eq!(
                one(&mut c, "SELECT MASTER_GTID_WAIT('1-1-5', 0.1)")
                    .await
                    .as_deref(),
                Some("-1")
            );
            // SET GLOBAL gtid_slave_pos is refused while a slave runs.
            assert_eq!(code(&mut c, "SET GLOBAL gtid_slave_pos = ''").await, 1198);
            assert_eq!(code(&mut c, "RESET SLAVE 'peer2'").await, 1198);
            ok(&mut c, "STOP SLAVE 'peer2'").await;
            let st = ok(&mut c, "SHOW ALL REPLICAS STATUS").await;
            assert_eq!(field(&st, 0, "Slave_IO_Running"), Some("No"));
            assert_eq!(field(&st, 0, "Slave_SQL_Running"), Some("No"));
            ok(&mut c, "RESET SLAVE 'peer2'").await;
            assert_eq!(replica.channel("peer2").unwrap().received, "");
            ok(&mut c, "RESET SLAVE 'peer2' ALL").await;
            assert!(replica.channel("peer2").is_none());
            ok(&mut c, "SET GLOBAL gtid_slave_pos = '0-1-20'").await;
            assert_eq!(
                one(&mut c, "SELECT MASTER_GTID_WAIT('0-1-20', 1)")
                    .await
                    .as_deref(),
                Some("0")
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn io_thread_errors_missing_peer_and_secure_auth() {
    bounded(async {
        for p in [MySql8021, MySql80, MySql84] {
            let world = World::new();
            let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let peer = FakeServer::start(&world, p, d1.path()).await;
            let replica = FakeServer::start(&world, p, d2.path()).await;
            peer.require_secure_auth(true);
            let mut c = tcp(&replica).await;
            let (change, start, show) = mysql_statements(p, peer.port(), "");
            let (io_col, word, key) = if matches!(p, MySql80 | MySql84) {
                ("Replica_IO_Running", "source", "GET_SOURCE_PUBLIC_KEY")
            } else {
                ("Slave_IO_Running", "master", "GET_MASTER_PUBLIC_KEY")
            };
            ok(&mut c, &change).await;
            ok(&mut c, &start).await;
            let st = ok(&mut c, &show).await;
            assert_eq!(field(&st, 0, io_col), Some("Connecting"));
            assert_eq!(field(&st, 0, "Last_IO_Errno"), Some("2061"));
            let want = format!(
                "error connecting to {word} 'repl@127.0.0.1:{}' - retry-time: 60 retries: ",
                peer.port()
            );
            let msg = field(&st, 0, "Last_IO_Error").unwrap();
            assert!(msg.starts_with(&want), "{msg}");
            assert!(msg.ends_with(
                "message: Authentication plugin 'caching_sha2_password' reported error: Authentication requires secure connection."
            ));
            let stop = start.replace("START", "STOP");
            ok(&mut c, &stop).await;
            ok(&mut c, &format!("{} TO {key}=1 FOR CHANNEL 'peer2'", change.split(" TO ").next().unwrap())).await;
            ok(&mut c, &start).await;
            let st = ok(&mut c, &show).await;
            assert_eq!(field(&st, 0, io_col), Some("Yes"));
            assert_eq!(field(&st, 0, "Last_IO_Errno"), Some("0"));
            assert_eq!(field(&st, 0, "Last_IO_Error"), Some(""));
            let ch = replica.channel("peer2").unwrap();
            assert!(ch.get_public_key && !ch.ssl);
            // SSL satisfies the source as well.
            ok(&mut c, &stop).await;
            ok(&mut c, &format!("{} TO {key}=0 FOR CHANNEL 'peer2'", change.split(" TO ").next().unwrap())).await;
            let ssl = if matches!(p, MySql80 | MySql84) { "SOURCE_SSL" } else { "MASTER_SSL" };
            ok(&mut c, &format!("{} TO {ssl}=1 FOR CHANNEL 'peer2'", change.split(" TO ").next().unwrap())).await;
            ok(&mut c, &start).await;
            assert_eq!(field(&ok(&mut c, &show).await, 0, io_col), Some("Yes"));
            // A peer that is gone: 2003, SQL thread still running.
            ok(&mut c, &stop).await;
            drop(peer);
            ok(&mut c, &start).await;
            let st = ok(&mut c, &show).await;
            assert_eq!(field(&st, 0, io_col), Some("Connecting"));
            assert_eq!(field(&st, 0, "Last_IO_Errno"), Some("2003"));
            let msg = field(&st, 0, "Last_IO_Error").unwrap();
            assert!(msg.starts_with(&format!("error connecting to {word} 'repl@127.0.0.1:")), "{msg}");
            assert!(msg.contains("Can't connect to MySQL server on '127.0.0.1:"), "{msg}");
            assert_eq!(replica.channel("peer2").unwrap().last_io_errno, 2003);
            assert_eq!(replica.channel("peer2").unwrap().sql, "Yes");
        }
        // An operator's channel: no SSL, no public key.
        let world = World::new();
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let peer = FakeServer::start(&world, MySql80, d1.path()).await;
        let replica = FakeServer::start(&world, MySql80, d2.path()).await;
        peer.require_secure_auth(true);
        replica.add_channel("ops", "127.0.0.1", peer.port());
        let mut c = tcp(&replica).await;
        ok(&mut c, "START REPLICA").await;
        let ch = replica.channel("ops").unwrap();
        assert_eq!((ch.io.as_str(), ch.last_io_errno), ("Connecting", 2061));
        assert!(!ch.ssl && !ch.get_public_key);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transcript_records_every_query_in_order() {
    bounded(async {
        let world = World::new();
        let dir = tempfile::tempdir().unwrap();
        let s = FakeServer::start(&world, MySql80, dir.path()).await;
        let mut t = tcp(&s).await;
        let mut u = unix(&s).await;
        ok(&mut t, "SELECT @@max_allowed_packet").await;
        run(&mut u, "START SLAVE FOR CHANNEL 'x'")
            .await
            .unwrap_err();
        ok(&mut t, "SET GLOBAL super_read_only = ON").await;
        run(&mut u, "bogus").await.unwrap_err();
        let all = s.statements();
        // mysql_async reads its settings on connect.
        assert!(
            all[0].starts_with("SELECT @@max_allowed_packet,@@wait_timeout"),
            "{all:?}"
        );
        let tail: Vec<&str> = all.iter().map(String::as_str).rev().take(4).collect();
        assert_eq!(
            tail,
            [
                "bogus",
                "SET GLOBAL super_read_only = ON",
                "START SLAVE FOR CHANNEL 'x'",
                "SELECT @@max_allowed_packet"
            ]
        );
        assert_eq!(s.var("super_read_only").as_deref(), Some("1"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_details() {
    bounded(async {
        let world = World::new();
        let dir = tempfile::tempdir().unwrap();
        let s = FakeServer::start(&world, MySql80, dir.path()).await;
        // The handshake's database is the current one.
        let opts = OptsBuilder::default()
            .socket(Some(s.socket().to_string_lossy().into_owned()))
            .user(Some("root"))
            .db_name(Some("shop"));
        let mut c = Conn::new(opts).await.expect("connect with a database");
        assert_eq!(
            one(&mut c, "SELECT DATABASE()").await.as_deref(),
            Some("shop")
        );
        let mut t = tcp(&s).await;
        assert_eq!(one(&mut t, "SELECT DATABASE()").await, None);
        t.ping().await.expect("COM_PING");
        assert!(t.reset().await.expect("COM_RESET_CONNECTION"));
        // Real error codes and SQL states, 3xxx included.
        for (sql, code, state) in [
            ("bogus", 1064, "42000"),
            ("SELECT @@nonesuch", 1193, "HY000"),
            ("START REPLICA FOR CHANNEL 'x'", 3074, "HY000"),
            ("SELECT NO_SUCH_FUNCTION()", 1046, "3D000"),
        ] {
            match t.query_drop(sql).await {
                Err(mysql_async::Error::Server(e)) => {
                    assert_eq!((e.code, e.state.as_str()), (code, state), "{sql}")
                }
                other => panic!("{sql}: {other:?}"),
            }
        }
        // The prepared-statement protocol is refused; the connection stays usable.
        match t.exec_drop("SELECT ?", (1,)).await {
            Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1295),
            other => panic!("prepare: {other:?}"),
        }
        // NULL, and values whose length needs 1, 2, 3 and 8 bytes; the last one does not fit in
        // one packet (2^24 - 1 bytes) and is split.
        let (_, rows) = ok(&mut t, "SELECT NULL, ''").await;
        assert_eq!(rows, [[None, Some(String::new())]]);
        for len in [250, 251, 70_000, (16 << 20) + 10] {
            s.set_var("big", &"x".repeat(len));
            let v = one(&mut t, "SELECT @@big").await.unwrap();
            assert_eq!(v.len(), len);
        }
        assert_eq!(one(&mut t, "SELECT 1").await.as_deref(), Some("1"));
    })
    .await;
}

#[test]
fn gtid_set_arithmetic() {
    let a = GtidSet::parse(&format!("{UUID_B}:5-7:1-3,\n {UUID_A}:1")).unwrap();
    assert_eq!(a.to_string(), format!("{UUID_A}:1,\n{UUID_B}:1-3:5-7"));
    let b = GtidSet::parse(&format!("{}:4", UUID_B.to_uppercase())).unwrap();
    let u = a.union(&b);
    assert_eq!(u.to_string(), format!("{UUID_A}:1,\n{UUID_B}:1-7"));
    assert!(a.is_subset(&u) && b.is_subset(&u) && !u.is_subset(&a));
    assert!(GtidSet::parse("").unwrap().is_subset(&a));
    assert!(GtidSet::parse("nonsense").is_none());
    assert!(GtidSet::parse(&format!("{UUID_A}:0")).is_none());
    let l = GtidList::parse("1-2-5, 0-1-10").unwrap();
    let m = l.merge_max(&GtidList::parse("0-3-4,1-1-6,2-1-1").unwrap());
    assert_eq!(m.to_string(), "0-1-10,1-1-6,2-1-1");
}

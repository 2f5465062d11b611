//! Every server generation's dialect against a fake MySQL-protocol server that answers as that
//! version would (tests/common/fake_mysql/: only its syntax, its status columns, its errors):
//! `setup_replication` (the binary) and catch-up's statements, parsing and wait decisions
//! (`cmd::catchup::run_catchup`, the part of catchup_binlog after it started its temporary
//! server) on MariaDB 10.11 and 11.4, MySQL 5.7, 8.0.21, 8.0.36 and 8.4. The statements each
//! sends are compared with golden transcripts (tests/fixtures/dialects/), checked against each
//! version's manual; `UPDATE_GOLDEN=1` rewrites them.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::fake_mysql::{FakeServer, Personality, World};
use mysqlbackup::config::{ConfFile, Overrides, Settings};

const PASSWORD: &str = "s3cr'et";
const UUID_OURS: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
const UUID_PEER: &str = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb";

const ALL: [(Personality, &str); 6] = [
    (Personality::MariaDb1011, "mariadb-10.11"),
    (Personality::MariaDb114, "mariadb-11.4"),
    (Personality::MySql57, "mysql-5.7"),
    (Personality::MySql8021, "mysql-8.0.21"),
    (Personality::MySql80, "mysql-8.0.36"),
    (Personality::MySql84, "mysql-8.4"),
];

/// A conf for an instance whose server is the fake at `socket`, replicating from `peers`.
fn conf(dir: &Path, socket: &Path, peers: &[u16], timeout: u64) -> PathBuf {
    let mut text = format!(
        "host: testhost\ndata_base: '{}'\nbackup_base: '{}'\nmysql_base: /usr\nport: 3306\ninstance_id: 1\nsocket: '{}'\n\
         mysql_user: root\nreplication:\n  user: repl\n  password: \"{}\"\n  \
         connect_retry: 1\n  catchup_timeout: {timeout}\n",
        dir.join("data").display(),
        dir.join("backups").display(),
        socket.display(),
        PASSWORD.replace('"', "\\\"")
    );
    if !peers.is_empty() {
        text.push_str("  source:\n");
        for (i, port) in peers.iter().enumerate() {
            text.push_str(&format!(
                "    - {{host: 127.0.0.1, port: {port}, id: {}}}\n",
                i + 2
            ));
        }
    }
    let path = dir.join("conf.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn settings(conf: &Path) -> Settings {
    Settings::resolve(
        ConfFile::load(conf).unwrap(),
        &Overrides::default(),
        Some(conf),
    )
    .unwrap()
}

/// The statements of a transcript that matter, in order: the password and the ports masked,
/// every read (SELECT, SHOW) kept at its first occurrence only (how often a wait polls depends
/// on timing), the client library's own settings left out.
fn normalized(statements: &[String], ports: &[u16]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for s in statements {
        let mut s = s.replace("s3cr''et", "***");
        for (i, p) in ports.iter().enumerate() {
            s = s.replace(&p.to_string(), &format!("<port{}>", i + 1));
        }
        let upper = s.to_ascii_uppercase();
        if upper.starts_with("SET SESSION SQL_MODE")
            || upper.starts_with("SET NAMES")
            || upper.contains("@@MAX_ALLOWED_PACKET")
            || upper.contains("@@SOCKET")
        {
            continue;
        }
        let read = upper.starts_with("SELECT") || upper.starts_with("SHOW");
        if read && !seen.insert(s.clone()) {
            continue;
        }
        out.push(s);
    }
    out
}

/// Compares `got` with the golden file `name` (its `-- ` lines are comments: the manual pages
/// the statements were checked against); `UPDATE_GOLDEN=1` writes it, keeping the comments.
fn golden(name: &str, got: &[String]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dialects")
        .join(name);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let comments: Vec<&str> = old.lines().filter(|l| l.starts_with("-- ")).collect();
    let want: Vec<&str> = old
        .lines()
        .filter(|l| !l.starts_with("-- ") && !l.is_empty())
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text = comments.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        for s in got {
            text.push_str(s);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        return;
    }
    assert_eq!(
        got,
        &want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it; check the new statements against the manual)",
        path.display()
    );
}

/// `mysqlbackup --conf-path CONF ARGS`, killed after 120 s.
fn run(conf: &Path, args: &[&str]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let child = Command::new(common::bin())
        .arg("--conf-path")
        .arg(conf)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("mysqlbackup {args:?} did not finish within 120 s");
        }
    }
}

/// A replica and one peer, in `p`'s flavor, the peer ahead of the replica: MySQL sets with a
/// transaction of ours the replica lacks; MariaDB positions.
async fn pair(world: &World, p: Personality, dir: &Path) -> (FakeServer, FakeServer) {
    std::fs::create_dir_all(dir.join("replica")).unwrap();
    std::fs::create_dir_all(dir.join("peer")).unwrap();
    let replica = FakeServer::start(world, p, &dir.join("replica")).await;
    let peer = FakeServer::start(world, p, &dir.join("peer")).await;
    if p.is_mariadb() {
        replica.set_var("gtid_binlog_pos", "0-1-5");
        replica.set_var("gtid_binlog_state", "0-1-5");
        replica.set_var("gtid_slave_pos", "0-2-3");
        peer.set_var("gtid_binlog_pos", "0-2-9");
        peer.set_var("gtid_binlog_state", "0-1-7,0-2-9");
    } else {
        replica.set_var(
            "gtid_executed",
            &format!("{UUID_OURS}:1-5,\n{UUID_PEER}:1-3"),
        );
        peer.set_var(
            "gtid_executed",
            &format!("{UUID_OURS}:1-7,\n{UUID_PEER}:1-9"),
        );
        if p == Personality::MySql57 {
            replica.set_var("master_info_repository", "TABLE");
            replica.set_var("relay_log_info_repository", "TABLE");
        }
    }
    (replica, peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn setup_replication_speaks_each_servers_dialect() {
    for (p, name) in ALL {
        let tmp = tempfile::tempdir().unwrap();
        let world = World::new();
        let (replica, peer) = pair(&world, p, tmp.path()).await;
        let conf = conf(tmp.path(), &replica.socket(), &[peer.port()], 60);
        let out = tokio::task::spawn_blocking(move || run(&conf, &["setup_replication"]))
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name}: {text}");
        assert!(text.contains("io=Yes sql=Yes"), "{name}: {text}");
        assert!(
            !text.contains("s3cr"),
            "{name} printed the password: {text}"
        );
        let ch = replica.channel("peer2").expect("channel peer2 made");
        assert_eq!(ch.port, peer.port(), "{name}");
        // TLS by default on MySQL 8.x only; 8.x channels also ask for the public key.
        let mysql8 = matches!(
            p,
            Personality::MySql8021 | Personality::MySql80 | Personality::MySql84
        );
        assert_eq!(ch.ssl, mysql8, "{name}: ssl");
        assert_eq!(ch.get_public_key, mysql8, "{name}: public key");
        let statements = normalized(&replica.statements(), &[peer.port()]);
        if p == Personality::MySql84 {
            for s in &statements {
                let u = s.to_ascii_uppercase();
                assert!(
                    !u.contains("MASTER") && !u.contains("SLAVE"),
                    "8.4 was sent {s}"
                );
            }
        }
        golden(&format!("{name}.setup_replication.sql"), &statements);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catch_up_speaks_each_servers_dialect_and_waits_for_the_peers_position() {
    for (p, name) in ALL {
        let tmp = tempfile::tempdir().unwrap();
        let world = World::new();
        let (replica, peer) = pair(&world, p, tmp.path()).await;
        replica.set_apply_polls(3);
        let conf = conf(tmp.path(), &replica.socket(), &[peer.port()], 60);
        let s = settings(&conf);
        let endpoint = mysqlbackup::mysql::Endpoint::from_settings(&s);
        let mut conn = endpoint.connect().await.unwrap();
        let info = mysqlbackup::mysql::server_info(&mut conn).await.unwrap();
        let d = info.kind.dialect();
        let report = tokio::time::timeout(
            Duration::from_secs(60),
            mysqlbackup::cmd::catchup::run_catchup(&s, &mut conn, d.as_ref(), Some(1)),
        )
        .await
        .expect("catch-up within 60 s")
        .unwrap_or_else(|e| panic!("{name}: {e}\n{:#?}", replica.statements()));
        assert!(report.contains("caught up from: peer2"), "{name}: {report}");
        // What the peer had, the replica has now.
        if p.is_mariadb() {
            let slave = replica.var("gtid_slave_pos").unwrap();
            assert!(slave.contains("0-2-9"), "{name}: gtid_slave_pos {slave}");
        } else {
            let executed =
                mysqlbackup::mysql::gtid::GtidSet::parse(&replica.var("gtid_executed").unwrap())
                    .unwrap();
            let want = mysqlbackup::mysql::gtid::GtidSet::parse(&format!(
                "{UUID_OURS}:1-7,{UUID_PEER}:1-9"
            ))
            .unwrap();
            assert!(want.is_subset(&executed), "{name}: {executed}");
        }
        let statements = normalized(&replica.statements(), &[peer.port()]);
        let wait = if p.is_mariadb() {
            "MASTER_GTID_WAIT"
        } else {
            "WAIT_FOR_EXECUTED_GTID_SET"
        };
        assert!(
            statements.iter().any(|s| s.contains(wait)),
            "{name} waited without {wait}: {statements:#?}"
        );
        golden(&format!("{name}.catchup.sql"), &statements);
        golden(
            &format!("{name}.catchup.peer.sql"),
            &normalized(&peer.statements(), &[peer.port()]),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_caching_sha2_cache_ends_the_wait_at_once_naming_the_channel() {
    for (p, name) in [
        (Personality::MySql80, "mysql-8.0.36"),
        (Personality::MySql84, "mysql-8.4"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let world = World::new();
        let (replica, peer) = pair(&world, p, tmp.path()).await;
        peer.require_secure_auth(true);
        // A channel an operator made by hand, without TLS or the source's public key; conf
        // names no source, so catch-up runs the instance's own channels.
        replica.add_channel("manual", "127.0.0.1", peer.port());
        let conf = conf(tmp.path(), &replica.socket(), &[], 3600);
        let s = settings(&conf);
        let mut conn = mysqlbackup::mysql::Endpoint::from_settings(&s)
            .connect()
            .await
            .unwrap();
        let info = mysqlbackup::mysql::server_info(&mut conn).await.unwrap();
        let started = Instant::now();
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            mysqlbackup::cmd::catchup::run_catchup(
                &s,
                &mut conn,
                info.kind.dialect().as_ref(),
                Some(1),
            ),
        )
        .await
        .expect("the wait ended early")
        .expect_err("a channel that cannot authenticate is not caught up")
        .to_string();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name}: took {:?}",
            started.elapsed()
        );
        assert!(
            err.contains("manual") && err.contains("2061"),
            "{name}: {err}"
        );
        assert!(err.contains("replication.ssl"), "{name}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_5_7_named_channels_need_table_repositories() {
    let tmp = tempfile::tempdir().unwrap();
    let world = World::new();
    let (replica, peer) = pair(&world, Personality::MySql57, tmp.path()).await;
    replica.set_var("master_info_repository", "FILE");
    let conf = conf(tmp.path(), &replica.socket(), &[peer.port()], 60);
    let c2 = conf.clone();
    let out = tokio::task::spawn_blocking(move || run(&c2, &["setup_replication"]))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("master_info_repository=TABLE"), "{err}");
    assert!(
        replica.channel("peer2").is_none(),
        "nothing was configured before the refusal"
    );
    replica.set_var("master_info_repository", "TABLE");
    let out = tokio::task::spawn_blocking(move || run(&conf, &["setup_replication"]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs SQL on a fake over TCP (the peer's own replication statements).
async fn on(server: &FakeServer, sql: &[&str]) {
    let mut conn = server.tcp_conn().await;
    for s in sql {
        mysql_async::prelude::Queryable::query_drop(&mut conn, *s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    let _ = conn.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_catch_up_refuses_what_a_peer_received_and_will_not_pass_on() {
    let tmp = tempfile::tempdir().unwrap();
    let world = World::new();
    let (replica, peer) = pair(&world, Personality::MySql80, tmp.path()).await;
    peer.set_var(
        "gtid_executed",
        &format!("{UUID_OURS}:1-5,\n{UUID_PEER}:1-9"),
    );
    // The dead instance had written 6-7; the peer received them into its relay log, its SQL
    // thread stopped, and the instance died.
    std::fs::create_dir_all(tmp.path().join("dead")).unwrap();
    let dead = FakeServer::start(&world, Personality::MySql80, &tmp.path().join("dead")).await;
    dead.set_var("gtid_executed", &format!("{UUID_OURS}:1-7"));
    on(
        &peer,
        &[
            &format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT={}, \
                 SOURCE_AUTO_POSITION=1 FOR CHANNEL 'from_dead'",
                dead.port()
            ),
            "START REPLICA IO_THREAD FOR CHANNEL 'from_dead'",
            "SHOW REPLICA STATUS",
        ],
    )
    .await;
    drop(dead);
    let received = peer.channel("from_dead").unwrap().received;
    assert!(received.contains(":1-7"), "{received}");

    let conf = conf(tmp.path(), &replica.socket(), &[peer.port()], 60);
    let s = settings(&conf);
    let catch_up = |s: Settings| async move {
        let mut conn = mysqlbackup::mysql::Endpoint::from_settings(&s)
            .connect()
            .await
            .unwrap();
        let d = mysqlbackup::mysql::server_info(&mut conn)
            .await
            .unwrap()
            .kind
            .dialect();
        tokio::time::timeout(
            Duration::from_secs(60),
            mysqlbackup::cmd::catchup::run_catchup(&s, &mut conn, d.as_ref(), Some(1)),
        )
        .await
        .expect("catch-up within 60 s")
    };
    let err = catch_up(s.clone()).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("{UUID_OURS}:6-7"))
            && err.contains("from_dead")
            && err.contains("SQL thread is stopped"),
        "{err}"
    );
    // Once the peer applies them, catch-up brings them here.
    on(&peer, &["START REPLICA SQL_THREAD FOR CHANNEL 'from_dead'"]).await;
    for _ in 0..10 {
        on(&peer, &["SHOW REPLICA STATUS"]).await;
    }
    let executed = peer.var("gtid_executed").unwrap();
    assert!(executed.contains(&format!("{UUID_OURS}:1-7")), "{executed}");
    let report = catch_up(s).await.unwrap();
    assert!(report.contains("caught up from: peer2"), "{report}");
    let have =
        mysqlbackup::mysql::gtid::GtidSet::parse(&replica.var("gtid_executed").unwrap()).unwrap();
    let want =
        mysqlbackup::mysql::gtid::GtidSet::parse(&format!("{UUID_OURS}:1-7,{UUID_PEER}:1-9"))
            .unwrap();
    assert!(want.is_subset(&have), "{have}");
}

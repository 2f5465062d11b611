//! Unit tests of `replication`.

use super::*;

#[test]
fn resume_takes_the_later_gtid_of_each_domain() {
    // Binlog has our own domain 1 (and a stale copy of 2); replication applied more of 2.
    assert_eq!(
        resume_position("1-1-40,2-2-7", "1-1-3, 2-2-19,3-3-5"),
        "1-1-40,2-2-19,3-3-5"
    );
    assert_eq!(resume_position("", ""), "");
    assert_eq!(resume_position("0-1-5", ""), "0-1-5");
    // A later GTID from another server in the same domain wins.
    assert_eq!(resume_position("0-1-5", "0-2-9"), "0-2-9");
    assert_eq!(resume_position("x-1-5,1-2,1-2-3-4,4-4-4", "-1"), "4-4-4");
}

fn peer() -> PeerConfig {
    PeerConfig {
        host: "10.0.0.2".into(),
        port: 3309,
        id: 2,
    }
}

#[test]
fn quoting_escapes() {
    assert_eq!(quote("a'b\\c"), "'a''b\\\\c'");
    assert_eq!(
        wait_statement(Dialect(Flavor::MariaDb), "1-1-5,2-2-7"),
        "SELECT MASTER_GTID_WAIT('1-1-5,2-2-7', 1)"
    );
    assert_eq!(
        wait_statement(
            Dialect(Flavor::MySql),
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"
        ),
        "SELECT WAIT_FOR_EXECUTED_GTID_SET('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5', 1)"
    );
}

#[test]
fn redaction_hides_the_secret() {
    let e = mysql_async::Error::Other("near 'pa''ss\\\\x' at line 1: pa'ss\\x".into());
    let r = redacted(&e, "pa'ss\\x");
    assert!(
        !r.contains("pa'ss") && !r.contains("pa''ss") && !r.contains("ss\\x"),
        "{r}"
    );
}

#[test]
fn master_info_gives_the_channels_account() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("master-peer2.info"),
        "33\n\n4\n10.0.0.2\nrepl\np'w\\x\n3309\n60\n",
    )
    .unwrap();
    let (user, pw) = master_info_credentials(tmp.path(), "Peer2").unwrap();
    assert_eq!((user.as_str(), pw.expose()), ("repl", "p'w\\x"));
    assert!(master_info_credentials(tmp.path(), "peer3").is_none());
}

#[test]
fn mariadb_uses_named_connections() {
    let d = Dialect(Flavor::MariaDb);
    assert_eq!(
        d.change_master("peer2", &peer(), "repl", "p'w", 10),
        "CHANGE MASTER 'peer2' TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, MASTER_USER='repl', MASTER_PASSWORD='p''w', MASTER_CONNECT_RETRY=10, MASTER_USE_GTID=slave_pos"
    );
    assert_eq!(d.start("peer2"), "START SLAVE 'peer2'");
    assert_eq!(d.reset("peer2"), "RESET SLAVE 'peer2'");
    assert_eq!(d.status_all(), "SHOW ALL SLAVES STATUS");
}

#[test]
fn mysql_uses_for_channel() {
    let d = Dialect(Flavor::MySql);
    assert_eq!(
        d.change_master("peer2", &peer(), "repl", "pw", 5),
        "CHANGE MASTER TO MASTER_HOST='10.0.0.2', MASTER_PORT=3309, MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_CONNECT_RETRY=5, MASTER_AUTO_POSITION=1 FOR CHANNEL 'peer2'"
    );
    assert_eq!(d.start("peer2"), "START SLAVE FOR CHANNEL 'peer2'");
    assert_eq!(d.stop_all(), "STOP SLAVE");
}

#[test]
fn caught_up_needs_everything() {
    let mut c = ChannelStatus {
        io_running: "Yes".into(),
        sql_running: "Yes".into(),
        seconds_behind: Some(0),
        read_pos: 10,
        exec_pos: 10,
        master_file: "b.1".into(),
        relay_master_file: "b.1".into(),
        ..Default::default()
    };
    assert!(c.caught_up());
    c.seconds_behind = Some(1);
    assert!(!c.caught_up());
    c.seconds_behind = Some(0);
    c.io_running = "Connecting".into();
    assert!(!c.caught_up());
}

#[test]
fn only_the_domains_a_channel_replicates_count() {
    assert_eq!(
        replicated_domains("0-1-5,2-2-7,9-2-3", &[9], &[]),
        "0-1-5,2-2-7"
    );
    assert_eq!(replicated_domains("0-1-5,2-2-7,9-2-3", &[], &[2]), "2-2-7");
    assert_eq!(replicated_domains("", &[], &[]), "");
}

//! Unit tests of `replication`.

use super::*;

#[test]
fn quoting_escapes() {
    assert_eq!(quote("a'b\\c"), "'a''b\\\\c'");
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
fn ssl_defaults_on_for_mysql_8_only() {
    let kind = |v| ServerKind::parse(v).unwrap();
    let conf = ReplicationConfig::default();
    assert_eq!(conf.ssl_for(kind("8.0.36")), Some(true));
    assert_eq!(conf.ssl_for(kind("8.4.3")), Some(true));
    // Elsewhere the server's default stands (MariaDB 11.3+ has TLS on by itself).
    assert_eq!(conf.ssl_for(kind("5.7.44-log")), None);
    assert_eq!(conf.ssl_for(kind("11.4.4-MariaDB")), None);
    let off = ReplicationConfig {
        ssl: Some(false),
        ..Default::default()
    };
    assert_eq!(off.ssl_for(kind("8.4.3")), Some(false));
    let on = ReplicationConfig {
        ssl: Some(true),
        ..Default::default()
    };
    assert_eq!(on.ssl_for(kind("10.11.6-MariaDB")), Some(true));
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

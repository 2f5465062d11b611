//! Unit tests of `layout`.

use super::*;
use crate::mysql::datadir::place_layout_files;

const ORIGINAL: &str = "[client]\nsocket=/data1/mysql-3309/mysql.sock\n[mysqld]\nuser=mysql\n\
    datadir=/data1/mysql-3309\nport=3309\nsocket=/data1/mysql-3309/mysql.sock\n\
    log-bin=/data1/mysql-3309/binlog\ninnodb_log_group_home_dir=/data1/mysql-3309/redo\n\
    log-error=/var/log/mysql/3309.err\npid-file=/run/mysqld/3309.pid\ntmpdir=/tmp\n\
    relay-log=/data1/relay/relay-bin\nserver-id=1\ninit-file=/etc/mysql/init.sql\n";

fn origin() -> Origin {
    Origin::new(
        &MyCnf::parse(ORIGINAL),
        Some("/data1/mysql-3309/"),
        Some("/data1/mysql-3309/binlog"),
        Some(3309),
    )
}

fn target(data: &str, binlog: &str, port: u16) -> Target {
    Target {
        data_dir: PathBuf::from(data),
        binlog_dir: PathBuf::from(binlog),
        port,
        binlog_base: Some("binlog".into()),
        binlog_index: Some("binlog.index".into()),
        foreign: None,
        keep_code: false,
    }
}

#[test]
fn in_place_keeps_the_instances_layout() {
    let to = target("/data1/mysql-3309", "/data1/mysql-3309", 3309);
    assert!(!to.is_copy(&origin()));
    let r = rewrite(&MyCnf::parse(ORIGINAL), &origin(), &to, "b");
    let c = MyCnf::parse(&r.text);
    assert_eq!(c.get("log_error"), Some("/var/log/mysql/3309.err"));
    assert_eq!(c.get("log_bin"), Some("/data1/mysql-3309/binlog"));
    // Replication state outside the targets moves in.
    assert_eq!(c.get("relay_log"), Some("/data1/mysql-3309/relay-bin"));
    // relay_log, and init-file commented out.
    assert_eq!(r.changes.len(), 2, "{:?}", r.changes);
    assert_eq!(c.get("init_file"), None);
    assert!(r.warnings.iter().any(|w| w.contains("init_file")));
    let mut keep = to.clone();
    keep.keep_code = true;
    let kept = MyCnf::parse(&rewrite(&MyCnf::parse(ORIGINAL), &origin(), &keep, "b").text);
    assert_eq!(kept.get("init_file"), Some("/etc/mysql/init.sql"));
}

#[test]
fn a_copy_touches_nothing_of_the_original() {
    let to = target("/restore/copy", "/restore/copy-binlog", 3310);
    assert!(to.is_copy(&origin()));
    let r = rewrite(&MyCnf::parse(ORIGINAL), &origin(), &to, "b");
    assert!(r.text.starts_with("# Restored by mysqlbackup from b."));
    let c = MyCnf::parse(&r.text);
    for (k, v) in [
        ("datadir", "/restore/copy"),
        ("port", "3310"),
        ("socket", "/restore/copy/mysql.sock"),
        ("log_bin", "/restore/copy-binlog/binlog"),
        ("innodb_log_group_home_dir", "/restore/copy/redo"),
        ("log_error", "/restore/copy/3309.err"),
        ("pid_file", "/restore/copy/3309.pid"),
        ("relay_log", "/restore/copy/relay-bin"),
        ("tmpdir", "/restore/copy/#tmp"),
    ] {
        assert_eq!(c.get(k), Some(v), "{k}");
    }
    assert!(
        r.text
            .contains("[client]\nsocket = /restore/copy/mysql.sock"),
        "{}",
        r.text
    );
    assert!(
        !MyCnf::parse(&r.text)
            .entries()
            .iter()
            .any(|e| e.value.as_deref().is_some_and(|v| v.starts_with("/data1")))
    );
    assert!(r.text.contains("\nskip-slave-start\n"), "{}", r.text);
    assert!(r.text.contains("ignore-db-dirs = #tmp"), "{}", r.text);
    let with_include = MyCnf::parse(&format!("{ORIGINAL}!includedir /etc/mysql/conf.d/\n"));
    let r = rewrite(&with_include, &origin(), &to, "b");
    assert!(MyCnf::parse(&r.text).includes().is_empty(), "{}", r.text);
    assert!(r.changes.iter().any(|c| c.contains("!includedir")));
    // In place, the instance's own includes stay.
    let in_place = target("/data1/mysql-3309", "/data1/mysql-3309", 3309);
    let r = rewrite(&with_include, &origin(), &in_place, "b");
    assert_eq!(MyCnf::parse(&r.text).includes().len(), 1);
}

#[test]
fn tilde_paths_are_outside() {
    let to = target("/restore/copy", "/restore/copy", 3309);
    let cnf = MyCnf::parse("[mysqld]\nrelay-log=~/relay\nmaster_info_file=~root/m.info\n");
    let c = MyCnf::parse(&rewrite(&cnf, &origin(), &to, "b").text);
    assert_eq!(c.get("relay_log"), Some("/restore/copy/relay"));
    assert_eq!(c.get("master_info_file"), Some("/restore/copy/m.info"));
}

#[test]
fn forged_paths_land_in_the_targets() {
    let forged = "[mysqld]\nlog-bin=/etc/cron.d/x\ninnodb_undo_directory=/etc\n\
                  innodb_log_group_home_dir=/data1/mysql-3309/../../etc\n";
    let cnf = MyCnf::parse(forged);
    let from = Origin::new(&cnf, Some("/data1/mysql-3309"), None, Some(3309));
    let to = target("/data1/mysql-3309", "/data1/mysql-3309", 3309);
    let c = MyCnf::parse(&rewrite(&cnf, &from, &to, "b").text);
    assert_eq!(c.get("log_bin"), Some("/data1/mysql-3309/binlog"));
    assert_eq!(c.get("innodb_undo_directory"), Some("/data1/mysql-3309"));
    assert_eq!(
        c.get("innodb_log_group_home_dir"),
        Some("/data1/mysql-3309")
    );
}

#[test]
fn another_instances_identity_is_commented_out() {
    let mut to = target("/data1/mysql-3309", "/data1/mysql-3309", 3309);
    to.foreign = Some("instance 2 on h2".into());
    let r = rewrite(&MyCnf::parse(ORIGINAL), &origin(), &to, "b");
    assert_eq!(MyCnf::parse(&r.text).get("server_id"), None);
    assert!(
        r.text
            .contains("# server-id=1 # identity of instance 2 on h2")
    );
}

#[test]
fn layout_files_move_where_the_cnf_says() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    std::fs::create_dir(&d).unwrap();
    for f in [
        "ib_logfile0",
        "undo001",
        "ibdata1",
        "aria_log_control",
        "t.frm",
    ] {
        std::fs::write(d.join(f), f).unwrap();
    }
    let cnf = MyCnf::parse(&format!(
        "[mysqld]\ninnodb_log_group_home_dir={0}/redo\ninnodb_undo_directory=undo\n",
        d.display()
    ));
    let moved = place_layout_files(&cnf, &d, &d).unwrap();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert!(d.join("redo/ib_logfile0").is_file() && d.join("undo/undo001").is_file());
    assert!(d.join("ibdata1").is_file() && d.join("t.frm").is_file());
    let outside = MyCnf::parse("[mysqld]\ninnodb_undo_directory=/etc\n");
    assert!(place_layout_files(&outside, &d, &d).is_err());
}

#[test]
fn options_of_a_plugin_left_out_are_loose() {
    let to = target("/data1/mysql-3309", "/data1/mysql-3309", 3309);
    let cnf = MyCnf::parse(
        "[mysqld]\nplugin-load-add=server_audit.so\nserver_audit_logging=ON\nserver-audit-file-path=/x\nport=3309\n",
    );
    let r = rewrite(&cnf, &origin(), &to, "b");
    assert!(
        r.text.contains("loose-server_audit_logging=ON"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("loose-server-audit-file-path=/x"),
        "{}",
        r.text
    );
    assert!(r.text.contains("\nport=3309"), "{}", r.text);
    assert_eq!(
        plugin_names("a=b.so;file_key_management"),
        ["a", "file_key_management"]
    );
}

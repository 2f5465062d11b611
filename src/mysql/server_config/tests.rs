//! Unit tests of `server_config`.

use super::*;

fn dirs() -> Dirs {
    Dirs {
        data_dir: PathBuf::from("/restore/mysql-3310"),
        binlog_dir: PathBuf::from("/restore/binlog-3310"),
    }
}

fn generate(cnf: &str, purpose: Purpose) -> ServerConfig {
    ServerConfig::generate(Some(&MyCnf::parse(cnf)), &dirs(), purpose, &[], None).unwrap()
}

#[test]
fn carries_what_opens_the_data_and_drops_code_and_outside_files() {
    let c = generate(
        "[mysqld]\ninnodb_page_size=32k\ninnodb-log-group-home-dir=/restore/mysql-3310/redo\n\
         innodb_undo_directory=/data1/mysql-3309/undo\ninit-file=/tmp/evil.sql\n\
         plugin-load-add=server_audit.so\nlog-error=/var/log/x.err\nlog-bin=/etc/cron.d/x\n\
         server-id=7\ngtid-domain-id=7\nevent-scheduler=ON\nreplicate-ignore-db=scratch\n\
         user=mysql\ncharacter-set-server=utf8mb4\n",
        Purpose::ApplyBinlog,
    );
    let a = c.args.join(" ");
    for want in [
        "--no-defaults",
        "--datadir=/restore/mysql-3310",
        "--innodb-page-size=32k",
        "--innodb-log-group-home-dir=/restore/mysql-3310/redo",
        "--server-id=7",
        "--gtid-domain-id=7",
        "--replicate-ignore-db=scratch",
        "--character-set-server=utf8mb4",
        "--skip-log-bin",
        "--event-scheduler=DISABLED",
        "--max-allowed-packet=1G",
        "--log-error=/restore/mysql-3310/mysqlbackup-server.err",
    ] {
        assert!(a.contains(want), "{want} missing in {a}");
    }
    for never in [
        "evil", "audit", "/var/log", "cron", "/data1", "ON", "--user",
    ] {
        assert!(!a.contains(never), "{never} in {a}");
    }
    assert_eq!(c.outside, ["innodb_undo_directory=/data1/mysql-3309/undo"]);
    let raw = generate(
        "[mysqld]\ninnodb_data_file_path=ibdata1:12M;/etc/x:10M\n",
        Purpose::ApplyBinlog,
    );
    assert!(!raw.args.join(" ").contains("/etc/x"), "{:?}", raw.args);
    let tmp = generate(
        "[mysqld]\nslave_load_tmpdir=/etc\ndefault_time_zone=Europe/Berlin\n",
        Purpose::ApplyBinlog,
    );
    let a = tmp.args.join(" ");
    assert!(!a.contains("/etc") && a.contains("Europe/Berlin"), "{a}");
    assert!(c.left_out.contains(&"init_file".to_string()));
    assert!(c.left_out.contains(&"plugin_load_add".to_string()));
}

#[test]
fn catchup_logs_into_the_targets_under_the_temporary_id() {
    let c = generate(
        "[mysqld]\nserver-id=1\nlog-bin=/restore/binlog-3310/binlog\nlog-slave-updates\n",
        Purpose::Catchup { server_id: 1003310 },
    );
    let a = c.args.join(" ");
    assert!(a.contains("--log-bin=/restore/binlog-3310/binlog"), "{a}");
    assert!(a.contains("--log-slave-updates"), "{a}");
    assert!(a.contains("--server-id=1003310") && !a.contains("--server-id=1 "));
    let err = ServerConfig::generate(
        Some(&MyCnf::parse("[mysqld]\nlog-bin=/data1/other/binlog\n")),
        &dirs(),
        Purpose::Catchup { server_id: 9 },
        &[],
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("binlog_dir"), "{err}");
    let none = generate("[mysqld]\nport=1\n", Purpose::Catchup { server_id: 9 });
    assert!(none.args.contains(&"--skip-log-bin".to_string()));
}

#[test]
fn paths_with_dot_dot_are_outside() {
    assert!(!inside("/restore/mysql-3310/../x", &dirs()));
    assert!(!inside("../x", &dirs()));
    assert!(inside("binlog", &dirs()));
    assert!(inside("/restore/binlog-3310/b", &dirs()));
}

#[test]
fn values_with_control_characters_are_left_out() {
    // Found by the mycnf fuzz target: a NUL would cut the server's argument short.
    let c = generate(
        "[mysqld]\nrelay_log=relay\u{1}\u{0}:/x\nbinlog_format=ROW\u{7}\nrelay_log_index=ri\n",
        Purpose::ApplyBinlog,
    );
    assert!(
        c.args.iter().all(|a| !a.chars().any(char::is_control)),
        "{:?}",
        c.args
    );
    assert!(!c.args.iter().any(|a| a.starts_with("--relay-log=")));
    assert!(c.args.contains(&"--relay-log-index=ri".to_string()));
}

#[test]
fn a_path_inside_a_list_value_is_outside() {
    // Found by the mycnf fuzz target: a path after a `;` in a carried option's value.
    let c = generate(
        "[mysqld]\nbinlog_format=ROW;/etc/x\nreplicate_do_db=a,../b\n\
         slave_load_tmpdir=/restore/mysql-3310/tmp\nbinlog_row_image=FULL\n",
        Purpose::ApplyBinlog,
    );
    assert!(
        !c.args.iter().any(|a| a.starts_with("--binlog-format")),
        "{:?}",
        c.args
    );
    assert!(!c.args.iter().any(|a| a.starts_with("--replicate-do-db")));
    assert!(
        c.args
            .contains(&"--slave-load-tmpdir=/restore/mysql-3310/tmp".to_string())
    );
    assert!(c.args.contains(&"--binlog-row-image=FULL".to_string()));
}

#[test]
fn the_pid_stem_is_the_instances_own() {
    let stem = |t: &str| instance_pid_stem(Some(&MyCnf::parse(t)));
    assert_eq!(
        stem("[mysqld]\npid-file=/run/mysqld/mysqld.pid\n"),
        "mysqld"
    );
    assert_eq!(stem("[mysqld]\nlog-basename=db7\n"), "db7");
    assert_eq!(stem("[mysqld]\npid-file=/d/err\u{7f}r.log\n"), "mysql");
    let host = crate::procfs::hostname();
    let expected = Path::new(&host).file_stem().unwrap().to_string_lossy();
    assert_eq!(stem("[mysqld]\nport=3306\n"), expected);
    assert_eq!(instance_pid_stem(None), expected);
}

#[test]
fn a_mysql_instance_keeps_its_gtid_mode_and_channel_repositories() {
    let mut c = generate(
        "[mysqld]\ngtid_mode=ON\nenforce-gtid-consistency=ON\nlog-replica-updates=ON\n\
         master_info_repository=TABLE\nrelay_log_info_repository=TABLE\n\
         replica_parallel_workers=4\nlog-bin=/restore/binlog-3310/binlog\n",
        Purpose::Catchup { server_id: 99 },
    );
    let d = crate::mysql::dialect::ServerKind::parse("8.0.36")
        .unwrap()
        .dialect();
    c.speak(d.as_ref());
    let a = c.args.join(" ");
    for want in [
        "--gtid-mode=ON",
        "--enforce-gtid-consistency=ON",
        "--log-replica-updates=ON",
        "--master-info-repository=TABLE",
        "--relay-log-info-repository=TABLE",
        "--replica-parallel-workers=4",
        "--skip-replica-start",
        "--server-id=99",
    ] {
        assert!(a.contains(want), "{want} missing in {a}");
    }
    assert!(!a.contains("--skip-slave-start"), "{a}");
}

//! Unit tests of `config`.

use super::*;

const BASE: &str = "mysql_base: /usr\nhost: h1\ndata_base: /data1\nbackup_base: /data1/backup\nport: 3309\ninstance_id: 1\n";

/// Settings from conf text alone (no overrides, no conf path).
fn resolve(text: &str) -> Result<Settings> {
    resolve_env(text, &[])
}

/// As [`resolve`] with exactly `vars` in the environment.
fn resolve_env(text: &str, vars: &[(&str, &str)]) -> Result<Settings> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::resolve_with_env(
        ConfFile::parse(text)?,
        &Overrides::default(),
        None,
        &move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
    )
}

#[test]
fn derives_defaults() {
    let conf = ConfFile::parse(BASE).unwrap();
    let s = Settings::resolve_with_env(
        conf,
        &Overrides::default(),
        Some(Path::new("/etc/mb/conf.yaml")),
        &|_| None,
    )
    .unwrap();
    assert_eq!(s.data_dir, Path::new("/data1/mysql-3309"));
    assert_eq!(s.my_cnf, Path::new("/data1/mysql-3309/my.cnf"));
    assert_eq!(s.temp_server_id, 1003309);
    assert_eq!(s.codec.des3_key_file, Path::new("/etc/mb/des3_password"));
    assert_eq!(
        s.codec.gzip_level,
        crate::codec::options::DEFAULT_GZIP_LEVEL
    );
    assert!(s.s3().is_none());
    assert_eq!(s.date_str.len(), 10);
}

#[test]
fn temporary_server_id_must_fit_and_differ_from_peers() {
    // Only catch-up uses it: the settings resolve, the check fails.
    let too_big = format!("{BASE}instance_id: 5000\n").replace("instance_id: 1\n", "");
    let err = resolve(&too_big)
        .unwrap()
        .checked_temp_server_id()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("5000003309") && err.contains("temp_server_id"),
        "{err}"
    );
    let huge = format!("{BASE}instance_id: 4000000000\n").replace("instance_id: 1\n", "");
    let err = resolve(&huge)
        .unwrap()
        .checked_temp_server_id()
        .unwrap_err();
    assert!(err.to_string().contains("4000000000003309"), "{err}");
    let clash =
        format!("{BASE}replication:\n  source:\n    - {{host: h9, port: 3309, id: 1003309}}\n");
    let err = resolve(&clash)
        .unwrap()
        .checked_temp_server_id()
        .unwrap_err()
        .to_string();
    assert!(err.contains("peer h9:3309"), "{err}");
    let s = resolve(&format!("{BASE}temp_server_id: 4294967295\n")).unwrap();
    assert_eq!(s.checked_temp_server_id().unwrap(), 4294967295);
}

#[test]
fn s3_credentials_from_flags_environment_conf_or_file() {
    let s3 = format!("{BASE}s3_host: h\ns3_bucket: b\n");
    let err = resolve(&s3).unwrap_err().to_string();
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKENV"),
        ("AWS_SECRET_ACCESS_KEY", "SKENV"),
    ];
    let got = resolve_env(&s3, &env).unwrap().s3().cloned().unwrap();
    assert_eq!(
        (got.access_key.expose(), got.secret_key.expose()),
        ("AKENV", "SKENV")
    );
    // The environment wins over conf keys.
    let with_conf = format!("{s3}s3_access_key: AKCONF\ns3_secret_key: SKCONF\n");
    let got = resolve_env(&with_conf, &env)
        .unwrap()
        .s3()
        .cloned()
        .unwrap();
    assert_eq!(got.secret_key.expose(), "SKENV");
    let got = resolve(&with_conf).unwrap().s3().cloned().unwrap();
    assert_eq!(got.secret_key.expose(), "SKCONF");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        "[other]\naws_access_key_id = AKOTHER\n[default]\naws_access_key_id = AKFILE\naws_secret_access_key=SKFILE\n",
    )
    .unwrap();
    let from_file = format!("{s3}s3_credentials_file: {}\n", file.display());
    let got = resolve(&from_file).unwrap().s3().cloned().unwrap();
    assert_eq!(
        (got.access_key.expose(), got.secret_key.expose()),
        ("AKFILE", "SKFILE")
    );
}

#[test]
fn target_dirs_must_be_absolute() {
    let err = resolve(&format!("{BASE}binlog_dir: ../x\n")).unwrap_err();
    assert!(err.to_string().contains("binlog_dir"), "{err}");
    let s = resolve(&format!("{BASE}binlog_dir: /data1/binlog-3309\n")).unwrap();
    assert_eq!(s.binlog_dir, Path::new("/data1/binlog-3309"));
    assert_eq!(
        resolve(BASE).unwrap().binlog_dir,
        Path::new("/data1/mysql-3309")
    );
}

#[test]
fn overrides_win_over_conf() {
    let conf = ConfFile::parse(BASE).unwrap();
    let o = Overrides {
        port: Some(3310),
        host: Some("h2".into()),
        date_str: Some("2017_01_01".into()),
        instance_id: Some(7),
        s3_host: Some("127.0.0.1:9000".into()),
        s3_bucket: Some("b".into()),
        s3_access_key: Some("ak".into()),
        s3_secret_key: Some("sk".into()),
        ..Default::default()
    };
    let s = Settings::resolve_with_env(conf, &o, None, &|_| None).unwrap();
    assert_eq!(s.port, 3310);
    assert_eq!(s.host, "h2");
    assert_eq!(s.data_dir, Path::new("/data1/mysql-3310"));
    assert_eq!(s.temp_server_id, 7003310);
    assert_eq!(s.date_str, "2017_01_01");
    assert_eq!(s.instance().instance_id, 7);
    let s3 = s.s3().cloned().unwrap();
    assert_eq!(s3.endpoint(), "http://127.0.0.1:9000");
    assert_eq!(s3.secret_key.expose(), "sk");
    assert_eq!(s.codec.des3_key_file, Path::new("./des3_password"));
}

#[test]
fn the_example_conf_parses_and_names_only_real_keys() {
    let text = include_str!("../../conf.example.yaml");
    resolve(text).unwrap();
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# ")?.split_once(':'))
        .map(|(k, _)| k)
        .filter(|k| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .collect();
    assert!(keys.len() > 20, "{keys:?}");
    for k in keys {
        ConfFile::parse(&format!("{k}:\n")).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
}

#[test]
fn unknown_key_is_named() {
    let err = ConfFile::parse(&format!("{BASE}s3_hots: x\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("s3_hots"), "{err}");
}

#[test]
fn missing_required_is_named() {
    let err = resolve("host: h\n").unwrap_err().to_string();
    assert!(err.contains("`port`"), "{err}");
}

#[test]
fn partial_s3_is_an_error() {
    let err = resolve(&format!("{BASE}s3_host: s3.example\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("s3_bucket"), "{err}");
}

#[test]
fn secrets_are_not_printed() {
    let s = resolve(&format!(
        "{BASE}s3_host: h\ns3_bucket: b\ns3_access_key: AKSECRET1\ns3_secret_key: SKSECRET2\nroot_password: RPSECRET3\n"
    ))
    .unwrap();
    let shown = format!("{s:?}");
    for secret in ["AKSECRET1", "SKSECRET2", "RPSECRET3"] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
}

#[test]
fn bad_date_rejected() {
    assert!(crate::catalog::names::validate_day("2017-01-01".into()).is_err());
    assert!(crate::catalog::names::validate_day("2017_13_01".into()).is_err());
    // Not zero-padded: would sort after 2017_12_01 as text.
    assert!(crate::catalog::names::validate_day("2017_1_5".into()).is_err());
    assert!(crate::catalog::names::validate_day("17_01_05".into()).is_err());
    assert_eq!(
        crate::catalog::names::validate_day("2017_01_31".into()).unwrap(),
        "2017_01_31"
    );
}

#[test]
fn original_seed_conf_parses() {
    let text = r#"
mysql_base: /usr/local/mysql-5.7.13
host: 127.0.0.1
data_base: /data1
backup_base: /data1/backup
port: 3309
instance_id: 1
sql_test_insert: 'insert into `xp2`.`heartbeat` (`key`, `value`, `ts`) values ("test-backup", "{v}", "{v}")'
sql_test_get_2: 'select `value` from `xp2`.`heartbeat` order by `_id` desc limit 2'
s3_host : "s3.amazonaws.com"
s3_bucket : "mysql-backup"
s3_access_key : "143728432789"
s3_secret_key : "jfkdslfjdsklfjdsklfdjkls"
replication:
  user: repl
  password: pw
  source:
    - {host: 10.0.0.2, port: 3309, id: 2}
"#;
    let s = resolve(text).unwrap();
    assert_eq!(s.replication.source.len(), 1);
    assert_eq!(s.s3().cloned().unwrap().host, "s3.amazonaws.com");
}

/// Every part of a backup's key is checked at conf load: a host with `/` or nothing in it
/// would store backups where list, verify, expire and restore never look.
#[test]
fn hosts_that_cannot_name_a_backup_are_refused() {
    for bad in [
        "db1/east", "", " ", "-db", "db 1", "db\n1", ".hidden", "a/../b",
    ] {
        let text = BASE.replace("host: h1", &format!("host: {bad:?}"));
        let err = resolve(&text).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{bad:?}: {err}");
        assert!(err.to_string().contains("`host`"), "{bad:?}: {err}");
    }
    for good in ["db1", "db-1.east.example", "10.0.0.7", "fe80::1", "db_1"] {
        let text = BASE.replace("host: h1", &format!("host: {good:?}"));
        let s = resolve(&text).unwrap();
        let key = crate::catalog::names::full_key(
            &s.date_str,
            &s.instance(),
            chrono::Utc::now(),
            s.chain().suffix(),
        );
        assert_eq!(
            crate::catalog::parse_key(&key).and_then(|k| k.host),
            Some(good.to_string()),
            "{key}"
        );
    }
}

#[test]
fn port_zero_and_relative_paths_are_refused() {
    let err = resolve(&BASE.replace("port: 3309", "port: 0")).unwrap_err();
    assert!(matches!(err, Error::Config(_)) && err.to_string().contains("`port`"));
    for (key, line) in [
        ("backup_base", "backup_base: backups"),
        ("socket", "socket: run/mysql.sock"),
        ("my_cnf", "my_cnf: ./my.cnf"),
        ("data_dir", "data_dir: /data1/../x"),
    ] {
        let text = if key == "backup_base" {
            BASE.replace("backup_base: /data1/backup", line)
        } else {
            format!("{BASE}{line}\n")
        };
        let err = resolve(&text).unwrap_err();
        assert!(
            matches!(err, Error::Config(_)) && err.to_string().contains(&format!("`{key}`")),
            "{key}: {err}"
        );
    }
}

#[test]
fn a_missing_conf_file_is_a_configuration_error() {
    let err = ConfFile::load(Path::new("/nonexistent/mysqlbackup/conf.yaml")).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("--conf-path"), "{err}");
}

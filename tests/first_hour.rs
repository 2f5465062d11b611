//! A new user's first hour (issue 22) on real MariaDB: conf checked against the server, a
//! missing store, the key backup printed, exit codes of config errors, and every dead end's
//! message saying what to do next; help and report wording.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code and that the error line holds every one of `words`; returns stderr.
fn fails(out: &Output, code: i32, words: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    for w in words {
        assert!(line.contains(w), "{w:?} not in: {err}");
    }
    assert!(!line.contains("configuration: configuration"), "{err}");
    err
}

/// Files under `dir`, sorted (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut f = list_files(dir);
    f.sort();
    f
}

fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO app.t SELECT seq, MD5(seq) FROM app.seq_1_to_1000",
    );
}

/// Conf that names another data dir than the server its socket reaches: backup refuses (exit
/// 2) naming both, stores nothing; a restore with a mistyped data_base while the real instance
/// runs on the port is refused (exit 3) before anything is written, naming the port.
#[test]
fn conf_is_checked_against_the_server() {
    let db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default());
    let elsewhere = ws.dir.path().join("typo");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let wrong = ws.variant("wrong", |c| {
        c.line(&format!("socket: '{}'", db.socket().display()))
            .line(&format!(
                "data_dir: '{}'",
                elsewhere.join("mysql").display()
            ))
    });
    let out = ws.cmd_with(&wrong, &["backup"]).output().unwrap();
    fails(
        &out,
        2,
        &[
            &elsewhere.join("mysql").display().to_string(),
            &db.data_dir.display().to_string(),
            "@@datadir",
        ],
    );
    assert!(files(&ws.backup_base).is_empty());
    // The right data dir, but conf's port is another one's.
    let other_port = ws.variant("port", |c| {
        c.line(&format!("socket: '{}'", db.socket().display()))
            .data_dir(&db.data_dir)
    });
    let out = ws
        .cmd_with(&other_port, &["backup", "--port", "3"])
        .output()
        .unwrap();
    fails(
        &out,
        2,
        &["conf names port 3", &format!("listens on port {}", db.port)],
    );
    assert!(files(&ws.backup_base).is_empty());

    // A restore whose data dir is a typo while the real instance runs on the port.
    let before = files(&elsewhere);
    let out = ws
        .cmd(&["restore", "--data-base", &elsewhere.display().to_string()])
        .output()
        .unwrap();
    fails(
        &out,
        3,
        &[
            "already listens on port",
            &db.port.to_string(),
            "--allow-other-port",
        ],
    );
    assert_eq!(files(&elsewhere), before);
}

/// A store that does not exist is an error (exit 2, naming it) for list, restore, verify,
/// expire, archive_binlog and backup; `backup --init` creates it. The location backup printed
/// is accepted by `--backup-key`. Without a backup of this host, the error names those there
/// are and how to select them; on a day without one, the days with one.
#[test]
fn a_missing_store_and_what_backup_printed() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default());
    let missing = ws.dir.path().join("backups-typo");
    let conf = ws.variant("typo", |c| c.backup_base(&missing));
    for args in [
        &["list"][..],
        &["verify"],
        &["expire", "--keep-last", "1"],
        &["archive_binlog"],
        &["backup"],
    ] {
        let out = ws.cmd_with(&conf, args).output().unwrap();
        fails(
            &out,
            2,
            &[&missing.display().to_string(), "does not exist", "--init"],
        );
        assert!(!missing.exists(), "{args:?} created it");
    }
    let out = ws.cmd_with(&conf, &["backup", "--init"]).output().unwrap();
    let said = ok(&out);
    assert!(missing.is_dir());
    let location = said
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    let out = ws
        .cmd_with(&conf, &["verify", "--backup-key", &location])
        .output()
        .unwrap();
    ok(&out);
    let out = ws.cmd_with(&conf, &["list"]).output().unwrap();
    assert!(ok(&out).contains("1 backup in"), "{}", stderr(&out));

    // Dead ends that say what there is.
    let out = ws
        .cmd_with(&conf, &["verify", "--host", "db-2"])
        .output()
        .unwrap();
    fails(
        &out,
        3,
        &[
            "db-2",
            "by host testhost instance 1",
            "--host H --instance-id I",
        ],
    );
    let out = ws
        .cmd_with(&conf, &["verify", "--date-str", "2001_01_01"])
        .output()
        .unwrap();
    let day = chrono::Utc::now().format("%Y_%m_%d").to_string();
    let day_before = (chrono::Utc::now() - chrono::Duration::hours(2))
        .format("%Y_%m_%d")
        .to_string();
    let err = fails(&out, 3, &["2001_01_01", "days with backups"]);
    assert!(err.contains(&day) || err.contains(&day_before), "{err}");

    // The restore goes ahead onto the stopped instance's empty data dir (a mount point made
    // ready): --when no-data-dir counts it as none.
    db.stop();
    let dead = ws.dir.path().join("dead");
    std::fs::rename(&db.data_dir, &dead).unwrap();
    std::fs::create_dir(&db.data_dir).unwrap();
    let out = ws
        .cmd_with(&conf, &["restore", "--when", "no-data-dir"])
        .output()
        .unwrap();
    let said = ok(&out);
    assert!(!said.contains("skipped"), "{said}");
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t").trim(), "1000");
    // Now it holds files: skipped, naming the dir and the flag as typed.
    let out = ws
        .cmd_with(&conf, &["restore", "--when", "no-data-dir"])
        .output()
        .unwrap();
    let said = ok(&out);
    assert!(
        said.contains("--when no-data-dir does not hold")
            && said.contains(&db.data_dir.display().to_string()),
        "{said}"
    );
}

/// Config errors exit 2 as the README says, each naming what to fix.
#[test]
fn config_errors_exit_2_naming_the_fix() {
    let db = Mariadb::start(1);
    let ws = Workspace::new(&db, 1, Conf::default());
    let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        (
            "missing conf file",
            vec![
                "--conf-path".into(),
                "/nonexistent/conf.yaml".into(),
                "list".into(),
            ],
            vec!["no conf file at /nonexistent/conf.yaml"],
        ),
        (
            "no --conf-path",
            vec!["list".into()],
            vec!["no --conf-path was given", "--port"],
        ),
        (
            "misspelled key",
            vec![
                "--conf-path".into(),
                ws.variant("misspelled", |c| c.line("backup_bas: /x"))
                    .display()
                    .to_string(),
                "list".into(),
            ],
            vec!["unknown key `backup_bas`", "did you mean `backup_base`?"],
        ),
        (
            "port out of range",
            vec![
                "--conf-path".into(),
                {
                    let p = ws.dir.path().join("port.yaml");
                    let text = std::fs::read_to_string(&ws.conf)
                        .unwrap()
                        .lines()
                        .map(|l| {
                            if l.starts_with("port:") {
                                "port: 70000"
                            } else {
                                l
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    std::fs::write(&p, text).unwrap();
                    p.display().to_string()
                },
                "list".into(),
            ],
            vec!["1 to 65535"],
        ),
        (
            "a day that is none",
            vec![
                "--conf-path".into(),
                ws.conf.display().to_string(),
                "list".into(),
                "--date-str".into(),
                "2026_13_45".into(),
            ],
            vec!["2026_13_45", "YYYY_MM_DD"],
        ),
    ];
    for (what, args, words) in cases {
        let out = Command::new(bin()).args(&args).output().unwrap();
        let err = fails(&out, 2, &words);
        eprintln!("{what}: {}", err.lines().next().unwrap_or(""));
    }

    // The des3 key file: missing at backup and at restore, world-readable: exit 2 naming it.
    std::fs::remove_file(&ws.key_file).unwrap();
    let key = ws.key_file.display().to_string();
    let out = ws.cmd(&["backup"]).output().unwrap();
    fails(&out, 2, &[&key, "does not exist"]);
    std::fs::write(&ws.key_file, "pw\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ws.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&ws.cmd(&["backup"]).output().unwrap());
    std::fs::remove_file(&ws.key_file).unwrap();
    let out = ws.cmd(&["verify"]).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(
        said.contains(&key) && said.contains("does not exist"),
        "{said}"
    );
    std::fs::write(&ws.key_file, "pw\n").unwrap();
    std::fs::set_permissions(&ws.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ws.cmd(&["backup"]).output().unwrap();
    fails(&out, 2, &[&key, "world-readable"]);
}

/// The stdout archive: an interrupted `backup --output -` says the archive is incomplete; its
/// restore says truncated (not a wrong password); an empty stdin is called empty; a --sha1
/// mismatch words the user's own value as given. Report and help wording.
#[test]
fn the_stdout_archive_and_wording() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default());
    let archive = ws.dir.path().join("a.tgz.des3");
    let out = ws
        .cmd(&["backup", "--output", "-"])
        .stdout(std::fs::File::create(&archive).unwrap())
        .output()
        .unwrap();
    let said = ok(&out);
    assert!(!said.contains("location: -"), "{said}");
    assert!(said.contains("output: stdout"), "{said}");

    db.stop();
    std::fs::rename(&db.data_dir, ws.dir.path().join("dead")).unwrap();
    let restore_from = |bytes: &[u8], extra: &[&str]| {
        let mut args = vec!["restore", "--input", "-"];
        args.extend_from_slice(extra);
        let mut c = ws
            .cmd(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = c.stdin.take().unwrap().write_all(bytes);
        c.wait_with_output().unwrap()
    };
    let whole = std::fs::read(&archive).unwrap();
    // Cut on a block boundary, as a killed backup leaves it.
    let cut = &whole[..(whole.len() / 2) / 8 * 8];
    let out = restore_from(cut, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    let t = line.find("truncated").unwrap_or_else(|| panic!("{err}"));
    assert!(line.find("password").is_none_or(|p| p > t), "{err}");
    assert!(!db.data_dir.exists(), "nothing left behind");
    let out = restore_from(b"", &[]);
    fails(&out, 4, &["empty"]);
    let out = restore_from(&whole, &["--sha1", &"0".repeat(40)]);
    fails(&out, 4, &["given with --sha1"]);

    // A path outside the store is neither key nor location: say what to give.
    let out = ws
        .cmd(&["verify", "--backup-key", "/elsewhere/x.tgz.des3"])
        .output()
        .unwrap();
    fails(
        &out,
        3,
        &["neither a key nor a location", "`key:` or `location:`"],
    );

    // Help: no `<->`, the overrides under their own heading.
    let help = Command::new(bin())
        .args(["backup", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(!help.contains("<->"), "{help}");
    assert!(help.contains("Conf overrides"), "{help}");
}

/// `backup --output -` interrupted (SIGINT while the backup tool has not sent a byte yet): the
/// error says that what went to stdout is no complete archive.
#[test]
fn an_interrupted_stdout_backup_says_its_archive_is_incomplete() {
    let db = Mariadb::start(1);
    let dir = tempfile::tempdir().unwrap();
    // A backup tool that never sends anything (exec'd: killed with the backup).
    let tool = script(
        &dir.path().join("silent-tool"),
        "#!/bin/sh\nexec sleep 117\n",
    );
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool));
    let archive = dir.path().join("a.tgz.des3");
    let child = ws
        .cmd(&["backup", "--output", "-"])
        .stdout(std::fs::File::create(&archive).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the backup is under way (its tool runs), interrupt it.
    wait_for(
        "the backup tool runs",
        std::time::Duration::from_secs(60),
        || !pids_with(&["sleep", "117"]).is_empty(),
    );
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("no complete archive"), "{err}");
}

//! MariaDB 11.1+ `mariadb-backup` names its own files `mariadb_backup_*` (MDEV-18931).
//!
//! On a real MariaDB 11.8 (Debian trixie's, which scripts/setup-mariadb11.sh installs beside
//! the host's 10.11): backup with its own `mariadb-backup`, restore (its `--prepare`, the binlog
//! window replayed by its `mariadb-binlog` into its `mariadbd`), and the 10.11 tool refused by
//! the series check before anything is stored.
//!
//! And with a stand-in for the 11.x tool on 10.11 (a `mariadb-backup` script in the conf's
//! `mysql_base/bin` that runs the real 10.11 `mariabackup` and renames its files to the 11.x
//! names, in the stream it sends and around `--prepare`): restore reads the coordinates from
//! `mariadb_backup_binlog_info` when the manifest has none.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; USE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) \
         ENGINE=InnoDB; INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM seq_1_to_2000;",
    );
}

/// `{base}/bin/mariadb-backup`: the stand-in for the 11.x tool.
fn stand_in(base: &Path) -> PathBuf {
    let bin = base.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let rename = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mariadb-11/rename.py");
    script(
        &bin.join("mariadb-backup"),
        &format!(
            "# A stand-in for MariaDB 11.x mariadb-backup: the real 10.11 tool, with 11.x's\n\
             # names (mariadb_backup_*) for its own files.\n\
             real={real}\n\
             backup=0; prepare=0; dir=\n\
             for a in \"$@\"; do\n\
             \x20 case \"$a\" in\n\
             \x20   --backup) backup=1 ;;\n\
             \x20   --prepare) prepare=1 ;;\n\
             \x20   --target-dir=*) dir=\"${{a#--target-dir=}}\" ;;\n\
             \x20 esac\n\
             done\n\
             # rename FROM TO: every FROM* file of the target dir becomes TO*.\n\
             rename() {{ for f in \"$dir\"/$1*; do [ -e \"$f\" ] && mv \"$f\" \"$dir/$2${{f##*/$1}}\"; done; true; }}\n\
             if [ $backup = 1 ]; then\n\
             \x20 set -o pipefail\n\
             \x20 \"$real\" \"$@\" | python3 {rename}\n\
             elif [ $prepare = 1 ] && [ -n \"$dir\" ]; then\n\
             \x20 rename mariadb_backup_ xtrabackup_\n\
             \x20 \"$real\" \"$@\"; rc=$?\n\
             \x20 rename xtrabackup_ mariadb_backup_\n\
             \x20 exit $rc\n\
             else\n\
             \x20 exec \"$real\" \"$@\"\n\
             fi",
            real = require("mariabackup").display(),
            rename = rename.display(),
        ),
    )
}

fn count(db: &Mariadb) -> u64 {
    db.sql("SELECT COUNT(*) FROM app.t").parse().unwrap()
}

#[test]
fn a_backup_by_the_11x_tool_names_restores() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let scratch = tempfile::tempdir().unwrap();
    stand_in(scratch.path());
    let ws = Workspace::new(
        &db,
        1,
        Conf::default()
            .mysql_base(scratch.path())
            .date("2023_03_03"),
    );
    let report = ok(&ws.cmd(&["backup"]).output().unwrap());
    // The coordinates came from mariadb_backup_binlog_info, the only binlog info sent.
    assert!(report.contains("data_binlog: binlog."), "{report}");
    let rows = count(&db);
    let stored = local_backup(&ws.backup_base, db.port, "2023_03_03", 1, ".tgz.des3");
    assert_eq!(
        record(&stored)["backup_tool"],
        "mariadb-backup",
        "the stand-in ran"
    );

    // The stored stream holds the 11.x names only. A copy of it without the manifest's
    // coordinates makes restore read them from mariadb_backup_binlog_info in the data.
    let forged = ws.backup_base.join(format!(
        "2023_03_04/{0}/mysql-{0}-testhost-1.tgz.des3",
        db.port
    ));
    let mut names = Vec::new();
    common::forge::forge(&stored, &ws.key_file, &forged, |d| {
        common::forge::edit_data(d, |data| {
            names = list_files(data)
                .iter()
                .map(|p| p.strip_prefix(data).unwrap().display().to_string())
                .collect();
        });
        let path = d.join("mysqlbackup-manifest.json");
        let mut m = mysqlbackup::archive::manifest::Manifest::parse(&std::fs::read(&path).unwrap())
            .unwrap();
        assert!(m.data_binlog.is_some());
        m.data_binlog = None;
        std::fs::write(&path, m.to_bytes()).unwrap();
    });
    for n in [
        "mariadb_backup_checkpoints",
        "mariadb_backup_binlog_info",
        "mariadb_backup_info",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    assert!(
        !names.iter().any(|x| x.starts_with("xtrabackup_")),
        "{names:?}"
    );

    for date in ["2023_03_03", "2023_03_04"] {
        db.kill_and_move_away();
        let report = ok(&ws.cmd(&["restore", "--date-str", date]).output().unwrap());
        assert!(report.contains("binlog applied from"), "{date}: {report}");
        assert!(
            db.data_dir.join("mariadb_backup_checkpoints").is_file(),
            "{date}: prepared under the 11.x names"
        );
        db.restart();
        assert_eq!(count(&db), rows, "{date}");
    }
}

#[test]
fn a_real_mariadb_11_8_backs_up_and_restores_with_its_own_tool() {
    let base = mariadb11();
    let mut db = Mariadb::start_release(1, &base.join("bin"));
    let version = db.sql("SELECT VERSION()");
    assert!(version.starts_with("11."), "{version}");
    seed(&db);
    // Its programs, with a `mariadb-backup` that writes a row once the data is copied and
    // before its binlog is read: restore must bring that row back from the binlog window.
    let scratch = tempfile::tempdir().unwrap();
    let mysql_base = scratch.path().join("mariadb-11.8");
    std::fs::create_dir_all(mysql_base.join("bin")).unwrap();
    for e in std::fs::read_dir(base.join("bin")).unwrap().flatten() {
        if e.file_name() != "mariadb-backup" {
            std::os::unix::fs::symlink(e.path(), mysql_base.join("bin").join(e.file_name()))
                .unwrap();
        }
    }
    tool_then_sql_at(
        &mysql_base.join("bin/mariadb-backup"),
        &base.join("bin/mariadb-backup"),
        &db,
        "INSERT INTO app.t(v) VALUES ('in-the-binlog-window')",
    );
    let ws = Workspace::new(
        &db,
        1,
        Conf::default().mysql_base(&mysql_base).date("2024_04_04"),
    );
    // The host's 10.11 tool cannot back up an 11.8 server: refused before anything runs.
    let old = ws.variant("host-tool", |c| c.mysql_base(Path::new("/usr")));
    let out = ws.cmd_with(&old, &["backup"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("MariaDB 11.8 series"), "{err}");
    assert!(
        !ws.backup_base.join("2024_04_04").exists(),
        "nothing stored"
    );

    let report = ok(&ws.cmd(&["backup"]).output().unwrap());
    assert!(report.contains("data_binlog: binlog."), "{report}");
    let stored = local_backup(&ws.backup_base, db.port, "2024_04_04", 1, ".tgz.des3");
    let rec = record(&stored);
    assert_eq!(rec["backup_tool"], "mariadb-backup");
    assert!(
        rec["server"]["version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("11.8"),
        "{rec}"
    );
    let rows = count(&db);
    assert_eq!(rows, 2001);

    db.kill_and_move_away();
    // Nor can the host's 10.11 tool prepare it: refused, nothing left in the data dir's place.
    let out = ws.cmd_with(&old, &["restore"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot prepare a backup of MariaDB 11.8") && err.contains("11.8 series"),
        "{err}"
    );
    assert!(!db.data_dir.exists(), "no half-built data dir left");
    let report = ok(&ws.cmd(&["restore"]).output().unwrap());
    assert!(report.contains("binlog applied from"), "{report}");
    for n in [
        "mariadb_backup_checkpoints",
        "mariadb_backup_binlog_info",
        "mariadb_backup_info",
    ] {
        assert!(db.data_dir.join(n).is_file(), "{n} restored");
    }
    assert!(!db.data_dir.join("xtrabackup_checkpoints").exists());
    db.restart();
    assert_eq!(count(&db), rows);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.t WHERE v = 'in-the-binlog-window'"),
        "1"
    );
}

//! MariaDB 11.1+ `mariadb-backup` names its own files `mariadb_backup_*` (MDEV-18931). No 11.x
//! server installs here, so a stand-in plays the 11.x tool: a `mariadb-backup` script in the
//! conf's `mysql_base/bin` that runs the real 10.11 `mariabackup` and renames its files to the
//! 11.x names (in the stream it sends, and around `--prepare`). It checks our side of the
//! rename (backup, restore, the binlog coordinates read under the new name), not the 11.x tool.

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

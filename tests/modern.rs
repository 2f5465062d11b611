//! The modern format, zstd + age, on real MariaDB: backup and restore to the local store and
//! S3, hand recovery with the standard tools (`age`, `zstd`, `tar`, `mbstream`,
//! `mariabackup --prepare`), every tampering refused, and the seed's des3 archives still
//! restoring beside it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; \
         INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM seq_1_to_2000;",
    );
}

fn archive(ws: &Workspace, db: &Mariadb, date: &str, suffix: &str) -> PathBuf {
    local_backup(&ws.backup_base, db.port, date, 1, suffix)
}

fn sh(script: &str) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail; {script}"))
        .output()
        .unwrap()
}

#[test]
fn zstd_age_to_the_local_store_restores_and_opens_by_hand() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let keys = tempfile::tempdir().unwrap();
    let (recipient, identity) = age_key(keys.path(), "key.txt");
    let scratch = tempfile::tempdir().unwrap();
    let tool = tool_then_sql(
        scratch.path(),
        &db,
        "INSERT INTO app.t(v) VALUES ('in-window')",
    );
    let ws = Workspace::new(
        &db,
        1,
        Conf::default()
            .date("2026_02_02")
            .tool(&tool)
            .modern(&recipient, &identity),
    );
    let report = ok(&ws.cmd(&["backup"]).output().unwrap());
    let file = archive(&ws, &db, "2026_02_02", ".tar.zst.age");
    assert!(report.contains(&file.display().to_string()), "{report}");
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    // The record's digests check with the standard tools.
    let rec = record(&file);
    let out = sh(&format!(
        "echo '{}  {f}' | sha1sum -c && echo '{}  {f}' | sha256sum -c",
        rec["sha1"].as_str().unwrap(),
        rec["sha256"].as_str().unwrap(),
        f = file.display()
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rec["chain"], "zstd+age");

    // By hand: age -d | zstd -d | tar -x, then mbstream -x and mariabackup --prepare.
    let hand = scratch.path().join("hand");
    std::fs::create_dir_all(hand.join("data")).unwrap();
    let out = sh(&format!(
        "age -d -i {} < {} | zstd -d | tar -x -C {h} && cat {h}/data.xbstream.* | mbstream -x -C {h}/data",
        identity.display(),
        file.display(),
        h = hand.display()
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prep = Command::new(require("mariabackup"))
        .arg("--prepare")
        .arg(format!("--target-dir={}", hand.join("data").display()))
        .output()
        .unwrap();
    assert!(
        prep.status.success(),
        "{}",
        String::from_utf8_lossy(&prep.stderr)
    );
    let by_hand = Mariadb::start_on(&hand.join("data"), 9);
    assert_eq!(by_hand.sql("SELECT COUNT(*) FROM app.t"), "2000");
    drop(by_hand);

    db.kill_and_move_away();
    let report = ok(&ws.cmd(&["restore"]).output().unwrap());
    assert!(report.contains("binlog applied from"), "{report}");
    db.restart();
    assert_eq!(has(&db, "in-window"), 1, "the binlog window applied");
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t"), "2001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_age_to_s3_and_every_tampering_is_refused() {
    let moto = Moto::start();
    let store = moto.bucket("modern").await;
    tokio::task::spawn_blocking(move || {
        let mut db = Mariadb::start(1);
        seed(&db);
        let keys = tempfile::tempdir().unwrap();
        let (recipient, identity) = age_key(keys.path(), "key.txt");
        let (_, wrong_identity) = age_key(keys.path(), "other.txt");
        let ws = Workspace::new(
            &db,
            1,
            Conf::default()
                .date("2026_03_03")
                .s3(&moto, "modern")
                .modern(&recipient, &identity),
        );
        let key = backup_key(&ws, &[]);
        assert!(
            is_key(&key, db.port, "2026_03_03", 1, ".tar.zst.age"),
            "{key}"
        );
        let rt = tokio::runtime::Runtime::new().unwrap();
        use mysqlbackup::store::Store;
        let rec = rt
            .block_on(store.read(&format!("{key}.json")))
            .unwrap()
            .unwrap();
        let rec: serde_json::Value = serde_json::from_slice(&rec).unwrap();
        assert_eq!(rec["chain"], "zstd+age");
        assert_eq!(rec["sha256"].as_str().map(str::len), Some(64));
        db.kill_and_move_away();

        // A wrong identity: refused, named, nothing left.
        let wrong = ws.variant("wrong-id", |c| c.modern(&recipient, &wrong_identity));
        let out = ws.cmd_with(&wrong, &["restore"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("wrong age identity"),
            "{err}"
        );
        assert!(!db.data_dir.exists());

        ok(&ws.cmd(&["restore"]).output().unwrap());
        db.restart();
        assert_eq!(db.sql("SELECT COUNT(*) FROM app.t"), "2000");
        db.stop();
        let _ = std::fs::remove_dir_all(&db.data_dir);

        // Tampered archives through stdin (the archive's own SHA-1 not given): age itself
        // refuses a flipped byte and a truncation.
        let bytes = rt
            .block_on(async {
                use futures::TryStreamExt;
                use mysqlbackup::store::Store;
                store
                    .get(&key)
                    .await
                    .unwrap()
                    .try_fold(Vec::new(), |mut v, c| async move {
                        v.extend_from_slice(&c);
                        Ok(v)
                    })
                    .await
            })
            .unwrap();
        let mut flipped = bytes.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x10;
        for (what, data) in [
            ("flipped", flipped),
            ("truncated", bytes[..bytes.len() - 5000].to_vec()),
        ] {
            let mut child = ws
                .cmd(&["restore", "--input", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || {
                let _ = std::io::Write::write_all(&mut stdin, &data);
            });
            let out = child.wait_with_output().unwrap();
            writer.join().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{what} accepted");
            assert!(err.contains("age"), "{what}: {err}");
            assert!(!db.data_dir.exists(), "{what}: nothing left");
        }
    })
    .await
    .unwrap();
}

/// The seed's format keeps restoring after conf moved to zstd + age; `restore --input -` reads
/// an archive from stdin and recognises its format from its bytes.
#[test]
fn seed_archives_still_restore_and_stdin_restores() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().date("2026_04_04"));
    ok(&ws.cmd(&["backup"]).output().unwrap());
    let seed_archive = archive(&ws, &db, "2026_04_04", ".tgz.des3");
    assert!(seed_archive.is_file());
    let keys = tempfile::tempdir().unwrap();
    let (recipient, identity) = age_key(keys.path(), "key.txt");
    let modern = ws.variant("modern", |c| c.modern(&recipient, &identity));
    db.kill_and_move_away();
    let report = ok(&ws.cmd_with(&modern, &["restore"]).output().unwrap());
    assert!(report.contains(".tgz.des3"), "{report}");
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t"), "2000");

    // `cat archive | mysqlbackup restore --input - --sha1 HEX`.
    db.kill_and_move_away();
    let sha1 = sha1_file(&seed_archive);
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cat {} | {} --conf-path {} restore --input - --sha1 {sha1}",
            seed_archive.display(),
            bin().display(),
            ws.conf.display()
        ))
        .env("TMPDIR", &ws.tool_tmp)
        .output()
        .unwrap();
    ok(&out);
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t"), "2000");
    // A wrong --sha1: refused, nothing left.
    db.kill_and_move_away();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cat {} | {} --conf-path {} restore --input - --sha1 {}",
            seed_archive.display(),
            bin().display(),
            ws.conf.display(),
            "0".repeat(40)
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    assert!(!db.data_dir.exists());
}

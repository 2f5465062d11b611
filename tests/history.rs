//! The catalog of a fleet's history (issue 18), on real MariaDB, the local store and S3 on
//! moto: any number of backups of one instance a day, each restorable by key, the newest by
//! default, a failing one leaving the others intact; when a backup was taken counted by its
//! record, not its day; segments restored and recovered by hand by concatenation; S3 commit
//! without a server-side copy and listing without a HEAD per object; a backup written by the
//! scheme before records (a fixture of that code) found, listed, verified, restored, expired.

mod common;

use std::path::Path;
use std::process::Command;

use common::http_fault::FaultProxy;
use common::*;

/// 2000 rows, and 3 MiB that do not compress: a backup of several 1 MiB segments.
fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; \
         INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM seq_1_to_2000; \
         CREATE TABLE app.noise (id INT PRIMARY KEY, b BLOB) ENGINE=InnoDB \
         SELECT seq AS id, RANDOM_BYTES(1024) AS b FROM seq_1_to_3000;",
    );
}

/// Restores with `args` into the lost instance, starts it, and returns the marker rows it has.
fn restore_and_look(db: &mut Mariadb, ws: &Workspace, args: &[&str]) -> (String, Vec<String>) {
    db.kill_and_move_away();
    let mut a = vec!["restore"];
    a.extend_from_slice(args);
    let report = ok(&ws.cmd(&a).output().unwrap());
    db.restart();
    let marks = db.sql("SELECT v FROM app.t WHERE v LIKE 'mark-%' ORDER BY id");
    (
        report,
        marks
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

/// Two backups of one instance on one day (filed under a past day with `--date-str`, taken
/// now): both listed, each restored by key, the newest by default and by `--date-str`; a third
/// that fails midway leaves both intact and visible; `expire --keep-days` counts by when they
/// were taken. Backups cut into 1 MiB segments restore, and recover by hand with `cat`.
#[test]
fn many_backups_a_day_each_restorable_and_a_failing_one_leaves_them() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().line("segment_size: 1MiB"));
    let day = "2026_11_01";
    db.sql("INSERT INTO app.t(v) VALUES ('mark-1')");
    let first = backup_key(&ws, &["--date-str", day]);
    db.sql("INSERT INTO app.t(v) VALUES ('mark-2')");
    let second = backup_key(&ws, &["--date-str", day]);
    db.sql("INSERT INTO app.t(v) VALUES ('mark-3')");
    assert_ne!(first, second, "a backup never replaces another");
    for k in [&first, &second] {
        assert!(is_key(k, db.port, day, 1, ".tgz.des3"), "{k}");
    }
    assert_eq!(listed_keys(&ws, &[]), [second.clone(), first.clone()]);

    // Segments: more than one object each, every one but the last 1 MiB.
    let rec = record(&ws.backup_base.join(&second));
    let objects = rec["objects"].as_array().unwrap();
    assert!(objects.len() >= 2, "{rec}");
    for o in &objects[..objects.len() - 1] {
        assert_eq!(o["size"].as_u64().unwrap(), 1 << 20, "{rec}");
    }
    assert_eq!(objects[1]["key"], format!("{second}.0002"));
    // By hand: cat K K.0002 ... | openssl des3 -d | tar -xz, as the README says.
    let hand = tempfile::tempdir().unwrap();
    let joined = hand.path().join("joined.tgz.des3");
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cd {} && cat {name} {name}.0* > {}",
            ws.backup_base.join(&second).parent().unwrap().display(),
            joined.display(),
            name = Path::new(&second).file_name().unwrap().to_string_lossy()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(sha1_file(&joined), rec["sha1"].as_str().unwrap());
    let data = unpack_with_standard_tools(&joined, &ws.key_file, &hand.path().join("out"));
    let by_hand = Mariadb::start_on(&data, 9);
    assert_eq!(
        by_hand.sql("SELECT COUNT(*) FROM app.t WHERE v LIKE 'mark-%'"),
        "2"
    );
    drop(by_hand);

    // A third backup whose tool dies midway: both stay, nothing of it is left.
    let scratch = tempfile::tempdir().unwrap();
    let dying = script(
        &scratch.path().join("dying.sh"),
        &format!(
            "{} \"$@\" | head -c 3000000\nexit 1",
            require("mariabackup").display()
        ),
    );
    let dying_conf = ws.variant("dying", |c| c.tool(&dying));
    let out = ws
        .cmd_with(&dying_conf, &["backup", "--date-str", day])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the third backup must fail");
    assert_eq!(listed_keys(&ws, &[]), [second.clone(), first.clone()]);
    let files = list_files(&ws.backup_base);
    assert!(
        files.iter().all(|f| {
            let f = f.to_string_lossy();
            f.contains(&second) || f.contains(&first)
        }),
        "nothing of the failed backup: {files:?}"
    );
    let v = json(&ws.cmd(&["list", "--json"]).output().unwrap());
    assert!(v["leftovers"].as_array().unwrap().is_empty(), "{v}");

    // Taken now, filed under a day a month ago: retention counts by when it was taken.
    let v = json(
        &ws.cmd(&["expire", "--keep-days", "10", "--json"])
            .output()
            .unwrap(),
    );
    let actions: Vec<&str> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["keep", "keep"], "{v}");

    // The newest by default and by --date-str; the first by its key (or its printed path).
    let (report, marks) = restore_and_look(&mut db, &ws, &[]);
    assert!(report.contains(&second), "{report}");
    assert_eq!(marks, ["mark-1", "mark-2"]);
    let (report, marks) = restore_and_look(&mut db, &ws, &["--date-str", day]);
    assert!(report.contains(&second), "{report}");
    assert_eq!(marks, ["mark-1", "mark-2"]);
    let path = ws.backup_base.join(&first).display().to_string();
    let (report, marks) = restore_and_look(&mut db, &ws, &["--backup-key", &path]);
    assert!(report.contains(&first), "{report}");
    assert_eq!(marks, ["mark-1"]);
    // verify finds both good, each by key.
    let out = ws.cmd(&["verify", "--all", "--json"]).output().unwrap();
    ok(&out);
    assert_eq!(json(&out)["backups"].as_array().unwrap().len(), 2);
}

/// S3 through a proxy that logs every request: a backup uploads straight to its final key and
/// never copies server-side (no `x-amz-copy-source`, no staging key); `list` reads one record
/// per backup and HEADs nothing; two backups a day on S3, the newest restored by default from
/// its segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_commits_without_a_copy_and_lists_without_a_head_per_object() {
    let moto = Moto::start();
    let _store = moto.bucket("history").await;
    let proxy = FaultProxy::start(moto.port);
    tokio::task::spawn_blocking(move || {
        let mut db = Mariadb::start(1);
        seed(&db);
        let mut conf = Conf::default().line("segment_size: 1MiB");
        conf.s3 = Some((proxy.port, "history".into(), true));
        let ws = Workspace::new(&db, 1, conf);
        let day = "2026_11_02";
        db.sql("INSERT INTO app.t(v) VALUES ('mark-1')");
        proxy.take_requests();
        let first = backup_key(&ws, &["--date-str", day]);
        let sent = proxy.take_requests();
        assert!(
            !sent.iter().any(|r| r.contains("[copy]")),
            "a server-side copy: {sent:#?}"
        );
        assert!(
            !sent
                .iter()
                .any(|r| r.contains(".uploading") || r.contains("x-id=UploadPartCopy")),
            "a staging object: {sent:#?}"
        );
        let parts: Vec<&String> = sent.iter().filter(|r| r.contains("partNumber=")).collect();
        assert!(
            !parts.is_empty()
                && parts
                    .iter()
                    .all(|r| r.starts_with("PUT ") && r.contains(&format!("/history/{first}"))),
            "parts go straight to the backup's own keys: {sent:#?}"
        );
        assert!(
            sent.iter()
                .any(|r| r.starts_with("PUT ") && r.contains(&format!("{first}.json"))),
            "the record is written: {sent:#?}"
        );
        db.sql("INSERT INTO app.t(v) VALUES ('mark-2')");
        let second = backup_key(&ws, &["--date-str", day]);

        // A third backup whose tool streams everything, then fails: the segments it completed
        // are deleted, nothing of it stays, the two stay.
        let scratch = tempfile::tempdir().unwrap();
        let dying = script(
            &scratch.path().join("dying.sh"),
            &format!("{} \"$@\"\nexit 1", require("mariabackup").display()),
        );
        let dying_conf = ws.variant("dying", |c| c.tool(&dying));
        proxy.take_requests();
        let out = ws
            .cmd_with(&dying_conf, &["backup", "--date-str", day])
            .output()
            .unwrap();
        assert!(!out.status.success(), "the third backup must fail");
        let sent = proxy.take_requests();
        let completed: Vec<String> = sent
            .iter()
            .filter(|r| r.starts_with("POST ") && r.contains("uploadId="))
            .map(|r| r.split(['?', ' ']).nth(1).unwrap().to_string())
            .collect();
        assert!(
            !completed.is_empty(),
            "a segment was completed before the failure: {sent:#?}"
        );
        for c in &completed {
            assert!(
                sent.iter().any(|r| r.starts_with(&format!("DELETE {c} "))),
                "{c} completed and not deleted: {sent:#?}"
            );
        }
        let v = json(&ws.cmd(&["list", "--json"]).output().unwrap());
        assert!(v["leftovers"].as_array().unwrap().is_empty(), "{v}");
        proxy.take_requests();

        let listed = listed_keys(&ws, &[]);
        assert_eq!(listed, [second.clone(), first.clone()]);
        let sent = proxy.take_requests();
        let v = json(&ws.cmd(&["list", "--json"]).output().unwrap());
        for b in v["backups"].as_array().unwrap() {
            assert!(b["segments"].as_u64().unwrap() >= 2, "{b}");
        }
        proxy.take_requests();
        // One HEAD of the bucket (is the store there at all?), none of an object.
        let heads: Vec<&String> = sent.iter().filter(|r| r.starts_with("HEAD ")).collect();
        assert!(
            heads.iter().all(|r| r.starts_with("HEAD /history HTTP")) && heads.len() <= 1,
            "list sent HEADs: {sent:#?}"
        );
        let gets: Vec<&String> = sent
            .iter()
            .filter(|r| r.starts_with("GET ") && r.contains(".json"))
            .collect();
        assert_eq!(gets.len(), 2, "one record read per backup: {sent:#?}");
        let objects = sent
            .iter()
            .filter(|r| r.starts_with("GET /history/") && !r.contains(".json"))
            .count();
        assert_eq!(objects, 0, "no object but records read: {sent:#?}");
        let listings: Vec<&String> = sent.iter().filter(|r| r.contains("list-type=2")).collect();
        assert_eq!(
            listings.len(),
            3,
            "the days, the one day's folder, the port's binlog archive: {sent:#?}"
        );
        assert!(
            listings
                .iter()
                .all(|r| r.contains("delimiter=") || r.contains("prefix=")),
            "a listing of the whole bucket: {sent:#?}"
        );
        println!(
            "requests of one list of 2 backups (segments: several each): {}",
            sent.len()
        );
        for r in &sent {
            println!("  {r}");
        }

        let (report, marks) = restore_and_look(&mut db, &ws, &[]);
        assert!(report.contains(&second), "{report}");
        assert_eq!(marks, ["mark-1", "mark-2"]);
        let (report, marks) = restore_and_look(
            &mut db,
            &ws,
            &["--backup-key", &format!("s3://history/{first}")],
        );
        assert!(report.contains(&first), "{report}");
        assert_eq!(marks, ["mark-1"]);
    })
    .await
    .unwrap();
}

/// A backup written by the code before records (tests/fixtures/daily-scheme: the key without
/// a time, `.sha1`/`.sha256`/`.meta` sidecars) in a store next to a new one: listed with what
/// its sidecars record, verified, restored by a plain `restore` and by `--date-str`, and
/// expired by the same rules.
#[test]
fn a_backup_of_the_scheme_before_records_is_found_verified_restored_and_expired() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/daily-scheme");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let base = dir.path().join("backup");
    std::fs::create_dir_all(&base).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(fixture.join("2025_06_01"))
        .arg(&base)
        .status()
        .unwrap();
    assert!(status.success());
    let key_file = dir.path().join("des3_password");
    std::fs::copy(fixture.join("des3_password"), &key_file).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let data_base = dir.path().join("data");
    std::fs::create_dir_all(&data_base).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let conf = dir.path().join("conf.yaml");
    std::fs::write(
        &conf,
        format!(
            "mysql_base: /usr\nhost: fixturehost\ndata_base: '{}'\nbackup_base: '{}'\nport: 3399\n\
             instance_id: 1\nbackup_tool_tmpdir: '{}'\n",
            data_base.display(),
            base.display(),
            tmp.display()
        ),
    )
    .unwrap();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(bin());
        c.arg("--conf-path")
            .arg(&conf)
            .args(args)
            .env("TMPDIR", &tmp);
        c.output().unwrap()
    };
    let key = "2025_06_01/3399/mysql-3399-fixturehost-1.tgz.des3";
    let v = json(&cmd(&["list", "--json"]));
    let b = &v["backups"][0];
    assert_eq!(b["key"], key, "{v}");
    assert_eq!(b["scheme"], "daily");
    assert_eq!(b["host"], "fixturehost");
    assert_eq!(b["gtid"], "1-1-3");
    assert_eq!(b["chain"], "gzip+des3");
    assert_eq!(b["sha1"], "5567742759055999fb6133119a2a4d5dcf063d57");
    let out = cmd(&["verify", "--json"]);
    ok(&out);
    assert_eq!(json(&out)["backups"][0]["ok"], true);

    let data_dir = data_base.join("mysql-3399");
    for args in [&["restore"][..], &["restore", "--date-str", "2025_06_01"]] {
        let report = ok(&cmd(args));
        assert!(report.contains(key), "{args:?}: {report}");
        let restored = Mariadb::start_on(&data_dir, 9);
        assert_eq!(
            restored.sql("SELECT COUNT(*) FROM app.t WHERE v LIKE 'fixture-%'"),
            "300"
        );
        drop(restored);
        std::fs::remove_dir_all(&data_dir).unwrap();
    }

    // Expire treats it as the backup of its instance it is: kept as the newest, then gone
    // when a newer one is kept.
    let v = json(&cmd(&["expire", "--keep-last", "1", "--json"]));
    assert_eq!(v["backups"][0]["key"], key);
    assert_eq!(v["backups"][0]["action"], "keep");
    // The next day's backup, copied in later than this one's file was touched: their days,
    // not their files' times, order them (the store was copied: its times say nothing).
    let newer = base.join("2025_06_02/3399");
    std::fs::create_dir_all(&newer).unwrap();
    let name = "mysql-3399-fixturehost-1.tgz.des3";
    for ext in ["", ".sha1", ".sha256", ".meta"] {
        std::fs::copy(
            base.join(format!("2025_06_01/3399/{name}{ext}")),
            newer.join(format!("{name}{ext}")),
        )
        .unwrap();
    }
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(base.join(key))
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert_eq!(
        listed_in(&cmd(&["list", "--json"])),
        [format!("2025_06_02/3399/{name}"), key.to_string()]
    );
    // Retention alone (verify's good verdict above would keep the first too).
    std::fs::remove_dir_all(base.join("verified")).unwrap();
    let out = cmd(&["expire", "--keep-last", "1", "--confirm", "--json"]);
    ok(&out);
    for ext in ["", ".sha1", ".sha256", ".meta"] {
        assert!(
            !base.join(format!("2025_06_01/3399/{name}{ext}")).exists(),
            "{ext} left"
        );
    }
    assert!(newer.join(name).exists());
}

/// The keys a `list --json` run printed.
fn listed_in(out: &std::process::Output) -> Vec<String> {
    json(out)["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_string())
        .collect()
}

/// The peak RSS of a `--json` run, from its report (`peak_rss_bytes`), in MiB.
fn peak_rss_mib(out: &std::process::Output) -> u64 {
    let report = json(out);
    report["peak_rss_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("no peak_rss_bytes in: {report}"))
        >> 20
}

/// Memory independent of size: the backup tool replaced by a wrapper that sends the real
/// backup of a small instance followed by `BIG_MIB` MiB of random bytes as one more file in
/// valid xbstream chunks (10 MiB each, CRC-32 right); backed up with zstd + age to S3 (moto)
/// in 8 MiB parts (the default) and 1 GiB segments. Peak RSS of the backup, and of a verify that reads it
/// all back, stays <= 256 MiB. The plan's unit test (src/catalog/writer.rs) shows 5 TiB fits
/// S3's limits in the same memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_gib_backup_to_s3_holds_bounded_memory() {
    const BIG_MIB: u64 = 2560;
    let moto = Moto::start();
    let _store = moto.bucket("big").await;
    tokio::task::spawn_blocking(move || {
        let db = Mariadb::start(1);
        seed(&db);
        let scratch = tempfile::tempdir().unwrap();
        let gen_py = scratch.path().join("xbstream_noise.py");
        std::fs::write(
            &gen_py,
            r#"import os, struct, sys, zlib
path = b"noise/incompressible.bin"
total = int(sys.argv[1]) << 20
out = sys.stdout.buffer
off = 0
while off < total:
    n = min(10 << 20, total - off)
    payload = os.urandom(n)
    out.write(b"XBSTCK01" + bytes([0]) + b"P" + struct.pack("<I", len(path)) + path
              + struct.pack("<QQI", n, off, zlib.crc32(payload)) + payload)
    off += n
out.write(b"XBSTCK01" + bytes([0]) + b"E" + struct.pack("<I", len(path)) + path)
out.flush()
"#,
        )
        .unwrap();
        let tool = script(
            &scratch.path().join("big-tool.sh"),
            &format!(
                "set -o pipefail\n{} \"$@\" || exit $?\nexec python3 {} {BIG_MIB}",
                require("mariabackup").display(),
                gen_py.display()
            ),
        );
        let keys = tempfile::tempdir().unwrap();
        let (recipient, identity) = age_key(keys.path(), "key.txt");
        let ws = Workspace::new(
            &db,
            1,
            Conf::default()
                .tool(&tool)
                .s3(&moto, "big")
                .modern(&recipient, &identity)
                .line("segment_size: 1GiB"),
        );
        let started = std::time::Instant::now();
        let out = ws.cmd(&["backup", "--json"]).output().unwrap();
        ok(&out);
        let secs = started.elapsed().as_secs_f64();
        let report = json(&out);
        let size = report["stored"]["size"].as_u64().unwrap();
        assert!(size > BIG_MIB << 20, "{report}");
        assert_eq!(
            report["stored"]["segments"].as_u64().unwrap(),
            size.div_ceil(1 << 30)
        );
        let rss = peak_rss_mib(&out);
        println!(
            "backup of {} MiB stored ({} segments) in {secs:.1} s, peak RSS {rss} MiB",
            size >> 20,
            report["stored"]["segments"]
        );
        assert!(
            rss <= 256,
            "peak RSS {rss} MiB backing up {} MiB",
            size >> 20
        );

        let started = std::time::Instant::now();
        let out = ws.cmd(&["verify", "--json"]).output().unwrap();
        ok(&out);
        let rss = peak_rss_mib(&out);
        println!(
            "verify read it back in {:.1} s, peak RSS {rss} MiB",
            started.elapsed().as_secs_f64()
        );
        assert!(
            rss <= 256,
            "peak RSS {rss} MiB verifying {} MiB",
            size >> 20
        );
    })
    .await
    .unwrap();
}

/// A backup of the scheme before records as it was stored on S3: its SHA-1, SHA-256, chain and
/// what list shows in `x-amz-meta-*` (the fixture's `.meta`, as the earlier version put it
/// there). Listed with those fields (one HEAD: its metadata), verified, restored. (Its instance
/// here is on another port than the fixture's, which the local-store test uses at the same
/// time: the backup is named by its key, and restored with --allow-other-port.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_the_scheme_before_records_on_s3_is_listed_verified_restored() {
    use object_store::{Attribute, Attributes, ObjectStore, PutOptions};
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/daily-scheme");
    let key = "2025_06_01/3399/mysql-3399-fixturehost-1.tgz.des3";
    let moto = Moto::start();
    let store = moto.bucket("daily").await;
    let meta: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(fixture.join(format!("{key}.meta"))).unwrap())
            .unwrap();
    let attributes: Attributes = meta
        .iter()
        .map(|(k, v)| (Attribute::Metadata(k.clone().into()), v.clone()))
        .collect();
    store
        .store
        .put_opts(
            &key.into(),
            std::fs::read(fixture.join(key)).unwrap().into(),
            PutOptions {
                attributes,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let key_file = dir.path().join("des3_password");
        std::fs::copy(fixture.join("des3_password"), &key_file).unwrap();
        std::fs::set_permissions(
            &key_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let (data_base, tmp) = (dir.path().join("data"), dir.path().join("tmp"));
        std::fs::create_dir_all(&data_base).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let conf = dir.path().join("conf.yaml");
        let port = free_port();
        std::fs::write(
            &conf,
            format!(
                "mysql_base: /usr\nhost: fixturehost\ndata_base: '{}'\nbackup_base: '{}'\n\
                 port: {port}\ninstance_id: 1\nbackup_tool_tmpdir: '{}'\ns3_host: '127.0.0.1:{}'\n\
                 s3_bucket: daily\ns3_access_key: a\ns3_secret_key: s\n",
                data_base.display(),
                dir.path().join("backup").display(),
                tmp.display(),
                moto.port
            ),
        )
        .unwrap();
        let cmd = |args: &[&str]| {
            let mut c = Command::new(bin());
            c.arg("--conf-path")
                .arg(&conf)
                .args(args)
                .env("TMPDIR", &tmp);
            c.output().unwrap()
        };
        let v = json(&cmd(&["list", "--all", "--json"]));
        let b = &v["backups"][0];
        assert_eq!(b["key"], key, "{v}");
        assert_eq!(b["scheme"], "daily");
        assert_eq!(b["sha1"], meta["sha1"].as_str());
        assert_eq!(b["sha256"], meta["sha256"].as_str());
        assert_eq!(b["binlog_pos"], meta["binlog-pos"].as_str());
        assert_eq!(b["chain"], "gzip+des3");
        let out = cmd(&["verify", "--backup-key", key, "--json"]);
        ok(&out);
        assert_eq!(json(&out)["backups"][0]["ok"], true);
        let given = format!("s3://daily/{key}");
        let report = ok(&cmd(&[
            "restore",
            "--backup-key",
            &given,
            "--allow-other-port",
        ]));
        assert!(report.contains(&given), "{report}");
        let restored = Mariadb::start_on(&data_base.join(format!("mysql-{port}")), 9);
        assert_eq!(
            restored.sql("SELECT COUNT(*) FROM app.t WHERE v LIKE 'fixture-%'"),
            "300"
        );
    })
    .await
    .unwrap();
}

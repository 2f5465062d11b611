//! The catalog on real backups, in the local store and on S3: `list` (and `--all`), `verify`
//! passing good backups and naming the check each tampered one fails (and writing nothing),
//! `verify --prepare` leaving no scratch dir, and `expire`: dry run, `--keep-last`, the newest
//! kept against `--keep-days 0`, nothing deleted when the listing fails, old leftovers removed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::http_fault::FaultProxy;
use common::*;
use serde_json::Value;

const DAYS: [&str; 3] = ["2026_01_01", "2026_01_02", "2026_01_03"];

fn seed(db: &Mariadb) {
    db.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; \
         CREATE TABLE app.u (id INT PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO app.t(v) SELECT CONCAT('seed-', seq) FROM seq_1_to_2000;",
    );
}

/// Every file under `dir` with its size and modification time.
/// Every file under `dir` but verify's verdict records (`verified/`), with size and time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    list_files(dir)
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "verified"))
        .map(|p| {
            let m = std::fs::symlink_metadata(&p).unwrap();
            (p, (m.len(), m.modified().unwrap()))
        })
        .collect()
}

/// The key of a backup in the scheme before records (planted by tests as such backups were).
fn key(port: u16, date: &str, instance: u32, suffix: &str) -> String {
    format!("{date}/{port}/mysql-{port}-testhost-{instance}{suffix}")
}

fn verdicts(v: &Value) -> Vec<(String, bool, Option<String>)> {
    v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["ok"].as_bool().unwrap(),
                b["check"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Runs `verify --backup-key K --json` with `conf` and returns the check that failed; asserts
/// it failed with exit code 4 and named the backup.
fn failed_check(ws: &Workspace, conf: &Path, k: &str) -> String {
    let out = ws
        .cmd_with(conf, &["verify", "--backup-key", k, "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = verdicts(&json(&out));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, k);
    assert!(!v[0].1, "{k} passed");
    v[0].2.clone().unwrap()
}

fn flip(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let i = b.len() / 2;
    b[i] ^= 0x5a;
    b
}

/// Writes `bytes` as the local backup `k` of the scheme before records, with its sidecars:
/// digests recomputed from the bytes, or (`stale_from`) those another backup's record holds.
fn plant(base: &Path, k: &str, bytes: &[u8], stale_from: Option<&Path>) {
    let path = base.join(k);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    for ext in ["sha1", "sha256"] {
        let side = PathBuf::from(format!("{}.{ext}", path.display()));
        let digest = match stale_from {
            Some(orig) => record(orig)[ext].as_str().unwrap().to_string(),
            None if ext == "sha1" => sha1_bytes(bytes),
            None => {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(bytes))
            }
        };
        std::fs::write(side, format!("{digest}  {name}\n")).unwrap();
    }
}

fn backup_keys_of(v: &Value) -> Vec<String> {
    v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_verify_and_expire_on_the_local_store() {
    let db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default());
    let p = db.port;
    let made: Vec<String> = DAYS
        .iter()
        .map(|d| backup_key(&ws, &["--date-str", d]))
        .collect();
    for (k, d) in made.iter().zip(DAYS) {
        assert!(is_key(k, p, d, 1, ".tgz.des3"), "{k}");
    }
    // Another instance of this port, and another port, in the same store.
    let second = backup_key(&ws, &["--date-str", DAYS[0], "--instance-id", "2"]);
    assert!(is_key(&second, p, DAYS[0], 2, ".tgz.des3"), "{second}");
    let db2 = Mariadb::start(2);
    let ws2 = Workspace::new(&db2, 1, Conf::default().backup_base(&ws.backup_base));
    let other_port = backup_key(&ws2, &["--date-str", DAYS[1]]);

    // list: this port's backups, newest first (by when they were taken, not their day),
    // with their fields.
    let v = json(&ws.cmd(&["list", "--json"]).output().unwrap());
    let listed = backup_keys_of(&v);
    assert_eq!(
        listed,
        [
            second.clone(),
            made[2].clone(),
            made[1].clone(),
            made[0].clone()
        ]
    );
    for b in v["backups"].as_array().unwrap() {
        let k = b["key"].as_str().unwrap();
        let path = ws.backup_base.join(k);
        assert_eq!(b["size"].as_u64().unwrap(), path.metadata().unwrap().len());
        assert_eq!(b["sha1"].as_str().unwrap(), sha1_file(&path));
        assert_eq!(b["host"], "testhost");
        assert_eq!(b["port"].as_u64().unwrap(), u64::from(p));
        assert_eq!(b["chain"], "gzip+des3");
        assert_eq!(b["date"].as_str().unwrap(), &k[..10]);
        assert!(b["binlog_pos"].as_str().unwrap().contains(':'), "{b}");
        assert!(b["gtid"].is_string(), "{b}");
        assert!(b["binlog_count"].as_u64().unwrap() >= 1, "{b}");
        assert!(b["binlog_first"].is_string() && b["binlog_last"].is_string());
        assert!(b["location"].as_str().unwrap().ends_with(k));
        assert!(b["taken_at"].as_str().unwrap().starts_with("20"), "{b}");
    }
    assert_eq!(v["backups"][0]["instance_id"], 2);
    let all = json(&ws.cmd(&["list", "--all", "--json"]).output().unwrap());
    let ports: std::collections::BTreeSet<u64> = all["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["port"].as_u64().unwrap())
        .collect();
    assert_eq!(all["backups"].as_array().unwrap().len(), 5);
    assert_eq!(
        ports,
        [u64::from(p), u64::from(db2.port)].into_iter().collect()
    );
    let text = ok(&ws.cmd(&["list"]).output().unwrap());
    assert!(text.contains("4 backups in"), "{text}");

    // verify: every good backup passes, and nothing is written but its verdicts.
    let before = snapshot(ws.dir.path());
    let out = ws.cmd(&["verify", "--all", "--json"]).output().unwrap();
    let log = ok(&out);
    let v = verdicts(&json(&out));
    assert_eq!(v.len(), 4);
    assert!(v.iter().all(|(_, good, _)| *good), "{v:?}");
    assert_eq!(snapshot(ws.dir.path()), before, "verify wrote files");
    // Its only writes are its verdict records (a few small files each).
    let written: u64 = json(&out)["disk_written_bytes"]
        .as_u64()
        .unwrap_or(u64::MAX);
    assert!(
        written < 1 << 20,
        "verify wrote more than its verdicts: {log}"
    );

    // Without a key: the newest of this instance, or the one of --date-str.
    for (args, day, want) in [
        (vec!["verify", "--json"], DAYS[2], &made[2]),
        (
            vec!["verify", "--date-str", DAYS[0], "--json"],
            DAYS[0],
            &made[0],
        ),
    ] {
        let out = ws.cmd(&args).output().unwrap();
        ok(&out);
        let v = verdicts(&json(&out));
        assert_eq!(v.len(), 1, "{args:?}: {v:?}");
        assert!(v[0].1, "{v:?}");
        assert!(
            v[0].0.contains(&format!("{day}/")),
            "{args:?} verified {}",
            v[0].0
        );
        assert_eq!(&v[0].0, want, "{v:?}");
    }

    // --prepare: extracted, prepared, opened, tables checked; no scratch dir left.
    let out = ws.cmd(&["verify", "--prepare", "--json"]).output().unwrap();
    let log = ok(&out);
    let v = json(&out);
    assert_eq!(v["backups"][0]["key"], made[2].as_str());
    assert_eq!(v["backups"][0]["chain"], "gzip+des3");
    assert!(
        v["backups"][0]["tables_checked"].as_u64().unwrap() >= 2,
        "{v}"
    );
    assert!(log.contains("removed scratch dir"), "{log}");
    for e in std::fs::read_dir(&ws.backup_base).unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            !name.to_string_lossy().starts_with(".mysqlbackup-verify"),
            "scratch dir {name:?} left"
        );
    }
    assert_eq!(
        snapshot(ws.dir.path()),
        before,
        "verify --prepare left files"
    );
    // A prepare that fails still removes its scratch dir, and the scratch dir of a killed
    // verify (its pid gone) is removed by the next one.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let stale = ws
        .backup_base
        .join(format!(".mysqlbackup-verify-{}", gone.id()));
    std::fs::create_dir_all(stale.join("data")).unwrap();
    std::fs::write(stale.join("data/ibdata1"), "x").unwrap();
    let failing = script(
        &ws.dir.path().join("failing-prepare.sh"),
        "for a in \"$@\"; do [ \"$a\" = --prepare ] && { echo 'prepare failed on purpose' >&2; exit 1; }; done; exec mariabackup \"$@\"",
    );
    let failing_conf = ws.variant("failing-prepare", |c| c.tool(&failing));
    let out = ws
        .cmd_with(&failing_conf, &["verify", "--prepare", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let v = json(&out);
    assert_eq!(v["backups"][0]["check"], "prepare", "{v}");
    assert!(!stale.exists(), "the stale scratch dir is still there");
    for e in std::fs::read_dir(&ws.backup_base).unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            !name.to_string_lossy().starts_with(".mysqlbackup-verify"),
            "scratch dir {name:?} left after a failed prepare"
        );
    }
    std::fs::remove_file(&failing).unwrap();
    std::fs::remove_file(&failing_conf).unwrap();
    assert_eq!(snapshot(ws.dir.path()), before);

    // Tampered backups fail, each naming its check.
    let good = ws.backup_base.join(&made[2]);
    let bytes = std::fs::read(&good).unwrap();
    let flipped = key(p, "2026_02_01", 1, ".tgz.des3");
    plant(&ws.backup_base, &flipped, &flip(&bytes), Some(&good));
    assert_eq!(failed_check(&ws, &ws.conf, &flipped), "checksum");
    // Bit rot before the checksum was taken (or a forger who recomputed it): des3 cannot
    // tell, the layers under it do.
    let rotten = key(p, "2026_02_02", 1, ".tgz.des3");
    plant(&ws.backup_base, &rotten, &flip(&bytes), None);
    let check = failed_check(&ws, &ws.conf, &rotten);
    assert!(
        ["decompression", "tar", "xbstream", "manifest"].contains(&check.as_str()),
        "{check}"
    );
    let truncated = key(p, "2026_02_03", 1, ".tgz.des3");
    plant(
        &ws.backup_base,
        &truncated,
        &bytes[..bytes.len() / 2 / 8 * 8],
        None,
    );
    let check = failed_check(&ws, &ws.conf, &truncated);
    assert!(
        ["decryption", "decompression", "tar"].contains(&check.as_str()),
        "{check}"
    );
    let no_binlog = key(p, "2026_02_04", 1, ".tgz.des3");
    forge::forge(&good, &ws.key_file, &ws.backup_base.join(&no_binlog), |d| {
        let first = std::fs::read_dir(d.join("binlog"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.to_string_lossy().ends_with(".index"))
            .min()
            .unwrap();
        std::fs::remove_file(first).unwrap();
    });
    let check = failed_check(&ws, &ws.conf, &no_binlog);
    assert!(["manifest", "binlog"].contains(&check.as_str()), "{check}");
    // A wrong key: the same conf beside another des3 password.
    let other = tempfile::tempdir().unwrap();
    let other_conf = other.path().join("conf.yaml");
    std::fs::copy(&ws.conf, &other_conf).unwrap();
    std::fs::write(other.path().join("des3_password"), "not-the-password\n").unwrap();
    std::fs::set_permissions(
        other.path().join("des3_password"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let check = failed_check(&ws, &other_conf, &made[2]);
    assert!(
        ["decryption", "decompression"].contains(&check.as_str()),
        "{check}"
    );
    // Text: each failure names the backup and the check.
    let out = ws
        .cmd(&["verify", "--backup-key", &flipped])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("FAILED: {flipped}: check checksum")),
        "{text}"
    );
    for d in ["2026_02_01", "2026_02_02", "2026_02_03", "2026_02_04"] {
        std::fs::remove_dir_all(ws.backup_base.join(d)).unwrap();
    }

    // expire: a dry run deletes nothing.
    // Retention alone here: the verdicts the checks above recorded (the newest once found
    // tampered) would keep another backup (tests/catalog.rs expire_keeps_...restorable).
    std::fs::remove_dir_all(ws.backup_base.join("verified")).unwrap();
    let before = snapshot(&ws.backup_base);
    let out = ws
        .cmd(&["expire", "--keep-last", "1", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let v = json(&out);
    assert_eq!(v["dry_run"], true);
    let actions: Vec<(String, String)> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key"].as_str().unwrap().to_string(),
                d["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (made[2].clone(), "keep".to_string()),
            (made[1].clone(), "delete".to_string()),
            (made[0].clone(), "delete".to_string()),
        ],
        "only this instance's backups are in scope"
    );
    let dry = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["expire", "--json"];
        a.extend_from_slice(args);
        let out = ws.cmd(&a).output().unwrap();
        ok(&out);
        json(&out)["backups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["action"].as_str().unwrap().to_string())
            .collect()
    };
    // All were taken minutes ago (whatever day they are filed under): --keep-days 0 keeps
    // the newest only, --keep-days 1 all.
    assert_eq!(dry(&["--keep-days", "1"]), ["keep", "keep", "keep"]);
    assert_eq!(dry(&["--keep-days", "0"]), ["keep", "delete", "delete"]);
    assert_eq!(dry(&["--keep-days", "100000"]), ["keep", "keep", "keep"]);
    assert_eq!(dry(&["--keep-last", "2"]), ["keep", "keep", "delete"]);
    assert_eq!(snapshot(&ws.backup_base), before);

    // A listing that fails (a day's port dir replaced by a symlink to a file) deletes nothing.
    let port_dir = ws.backup_base.join(DAYS[1]).join(p.to_string());
    let moved = ws.dir.path().join("moved-port-dir");
    std::fs::rename(&port_dir, &moved).unwrap();
    let not_a_dir = ws.dir.path().join("not-a-dir");
    std::fs::write(&not_a_dir, "x").unwrap();
    std::os::unix::fs::symlink(&not_a_dir, &port_dir).unwrap();
    let out = ws
        .cmd(&["expire", "--confirm", "--keep-last", "1"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "expire went on after a listing error"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("list"), "{err}");
    assert!(ws.backup_base.join(&made[0]).exists());
    std::fs::remove_file(&port_dir).unwrap();
    std::fs::rename(&moved, &port_dir).unwrap();
    assert_eq!(snapshot(&ws.backup_base), before);

    // Leftovers of killed uploads: this instance's older than a day go, others stay.
    let old = SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
    let leftover = |d: &str, i: u32, t: Option<SystemTime>| {
        let path = ws
            .backup_base
            .join(format!("{}.partial", key(p, d, i, ".tgz.des3")));
        let f = std::fs::File::create(&path).unwrap();
        if let Some(t) = t {
            f.set_modified(t).unwrap();
        }
        path
    };
    let old_ours = leftover(DAYS[0], 1, Some(old));
    let young_ours = leftover(DAYS[1], 1, None);
    let old_theirs = leftover(DAYS[0], 2, Some(old));
    let listed = ok(&ws.cmd(&["list"]).output().unwrap());
    assert!(
        listed.contains("leftovers of interrupted uploads"),
        "{listed}"
    );

    // --confirm --keep-last 1 leaves this instance's newest only.
    let out = ws
        .cmd(&["expire", "--confirm", "--keep-last", "1", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let v = json(&out);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["leftovers"].as_array().unwrap().len(), 1, "{v}");
    for k in &made[..2] {
        let gone = ws.backup_base.join(k);
        for ext in ["", ".json"] {
            let f = PathBuf::from(format!("{}{ext}", gone.display()));
            assert!(!f.exists(), "{} left", f.display());
        }
    }
    assert!(!old_ours.exists() && young_ours.exists() && old_theirs.exists());
    let after = backup_keys_of(&json(
        &ws.cmd(&["list", "--all", "--json"]).output().unwrap(),
    ));
    assert_eq!(
        after.iter().collect::<std::collections::BTreeSet<_>>(),
        [made[2].clone(), second.clone(), other_port.clone()]
            .iter()
            .collect()
    );

    // The newest is kept even with --keep-days 0.
    let out = ws
        .cmd(&["expire", "--confirm", "--keep-days", "0", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let v = json(&out);
    assert_eq!(v["backups"][0]["action"], "keep");
    assert!(
        v["backups"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("newest"),
        "{v}"
    );
    assert!(ws.backup_base.join(&made[2]).exists());
    // No rule: a config error, nothing done.
    let out = ws.cmd(&["expire", "--confirm"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_verify_and_expire_on_s3() {
    use futures::TryStreamExt;
    use mysqlbackup::store::Store;

    let moto = Moto::start();
    let store = moto.bucket("catalog").await;
    let proxy = FaultProxy::start(moto.port);
    let db = Mariadb::start(1);
    seed(&db);
    let p = db.port;
    let keys = tempfile::tempdir().unwrap();
    let (recipient, identity) = age_key(keys.path(), "key.txt");
    let mut conf = Conf::default().modern(&recipient, &identity);
    conf.s3 = Some((proxy.port, "catalog".into(), true));
    let ws = Workspace::new(&db, 1, conf);
    let made: Vec<String> = DAYS
        .iter()
        .map(|d| backup_key(&ws, &["--date-str", d]))
        .collect();
    let k = |d: &str| made[DAYS.iter().position(|x| *x == d).unwrap()].clone();
    for d in DAYS {
        assert!(is_key(&k(d), p, d, 1, ".tar.zst.age"), "{}", k(d));
    }

    let v = json(&ws.cmd(&["list", "--json"]).output().unwrap());
    assert_eq!(backup_keys_of(&v), [k(DAYS[2]), k(DAYS[1]), k(DAYS[0])]);
    for b in v["backups"].as_array().unwrap() {
        let key = b["key"].as_str().unwrap();
        let info = store.head(key).await.unwrap().unwrap();
        assert_eq!(b["size"].as_u64().unwrap(), info.size);
        let body: Vec<u8> = store
            .get(key)
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .concat();
        assert_eq!(b["sha1"].as_str(), Some(sha1_bytes(&body).as_str()));
        assert_eq!(b["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(b["chain"], "zstd+age");
        assert!(b["binlog_pos"].as_str().unwrap().contains(':'));
        assert!(b["location"].as_str().unwrap().starts_with("s3://catalog/"));
    }

    // Another port in the same bucket: --all shows it.
    let db2 = Mariadb::start(2);
    let mut conf2 = Conf::default().modern(&recipient, &identity);
    conf2.s3 = Some((proxy.port, "catalog".into(), true));
    let ws2 = Workspace::new(&db2, 1, conf2);
    ok(&ws2
        .cmd(&["backup", "--date-str", DAYS[1]])
        .output()
        .unwrap());
    let all = json(&ws.cmd(&["list", "--all", "--json"]).output().unwrap());
    let ports: std::collections::BTreeSet<u64> = all["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["port"].as_u64().unwrap())
        .collect();
    assert_eq!(all["backups"].as_array().unwrap().len(), 4);
    assert_eq!(
        ports,
        [u64::from(p), u64::from(db2.port)].into_iter().collect()
    );

    // verify writes nothing but its verdicts (to S3 here); --prepare leaves no scratch dir.
    let before = snapshot(ws.dir.path());
    let out = ws.cmd(&["verify", "--all", "--json"]).output().unwrap();
    let log = ok(&out);
    let v = verdicts(&json(&out));
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|(_, good, _)| *good), "{v:?}");
    assert_eq!(snapshot(ws.dir.path()), before, "verify wrote files");
    // Its only writes are its verdict records (a few small files each).
    let written: u64 = json(&out)["disk_written_bytes"]
        .as_u64()
        .unwrap_or(u64::MAX);
    assert!(
        written < 1 << 20,
        "verify wrote more than its verdicts: {log}"
    );
    let out = ws.cmd(&["verify", "--prepare", "--json"]).output().unwrap();
    ok(&out);
    let v = json(&out);
    assert_eq!(v["backups"][0]["chain"], "zstd+age");
    assert!(
        v["backups"][0]["tables_checked"].as_u64().unwrap() >= 2,
        "{v}"
    );
    assert_eq!(
        snapshot(ws.dir.path()),
        before,
        "verify --prepare left files"
    );
    assert_eq!(std::fs::read_dir(&ws.backup_base).unwrap().count(), 0);

    // Tampered backups, each an object with a record as a backup's (digests recomputed or
    // the good one's), written through the store.
    let good = k(DAYS[2]);
    let good_record = mysqlbackup::catalog::Record::parse(
        &store.read(&format!("{good}.json")).await.unwrap().unwrap(),
    )
    .unwrap();
    let bytes: Vec<u8> = store
        .get(&good)
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .concat();
    let put = |day: &str, body: Vec<u8>, recompute: bool| {
        let store = &store;
        let mut r = good_record.clone();
        let key =
            mysqlbackup::catalog::names::full_key(day, &r.instance, r.taken_at, ".tar.zst.age");
        async move {
            if recompute {
                use sha2::Digest;
                r.sha1 = sha1_bytes(&body);
                r.sha256 = hex::encode(sha2::Sha256::digest(&body));
            }
            r.day = key[..10].to_string();
            r.size = body.len() as u64;
            r.objects = vec![mysqlbackup::store::StoredObject {
                key: key.clone(),
                size: r.size,
            }];
            store.put(&key, body.into()).await.unwrap();
            store
                .put(&format!("{key}.json"), r.to_bytes())
                .await
                .unwrap();
            key
        }
    };
    let flipped = put("2026_02_01", flip(&bytes), false).await;
    assert_eq!(failed_check(&ws, &ws.conf, &flipped), "checksum");
    // age authenticates: a flipped byte under a recomputed checksum, or a cut, is refused by
    // decryption itself.
    let forged = put("2026_02_02", flip(&bytes), true).await;
    assert_eq!(failed_check(&ws, &ws.conf, &forged), "decryption");
    let cut = put("2026_02_03", bytes[..bytes.len() / 2].to_vec(), true).await;
    assert_eq!(failed_check(&ws, &ws.conf, &cut), "decryption");
    // A binlog file missing from the archive (all else consistent, checksums recomputed).
    let hand = tempfile::tempdir().unwrap();
    let good_file = hand.path().join("good.tar.zst.age");
    std::fs::write(&good_file, &bytes).unwrap();
    let forged_file = hand.path().join("forged.tar.zst.age");
    forge::forge_with(
        &good_file,
        &format!("age -d -i {} | zstd -d", identity.display()),
        &format!("zstd -q -1 | age -r {recipient}"),
        &forged_file,
        |d| {
            let first = std::fs::read_dir(d.join("binlog"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| !p.to_string_lossy().ends_with(".index"))
                .min()
                .unwrap();
            std::fs::remove_file(first).unwrap();
        },
    );
    let no_binlog = put("2026_02_04", std::fs::read(&forged_file).unwrap(), true).await;
    let check = failed_check(&ws, &ws.conf, &no_binlog);
    assert!(["manifest", "binlog"].contains(&check.as_str()), "{check}");
    let (_, wrong) = age_key(keys.path(), "other.txt");
    let wrong_conf = ws.variant("wrong-identity", |c| c.modern(&recipient, &wrong));
    assert_eq!(failed_check(&ws, &wrong_conf, &good), "decryption");
    for key in [&flipped, &forged, &cut, &no_binlog] {
        store.delete(&format!("{key}.json")).await.unwrap();
        store.delete(key).await.unwrap();
    }

    // expire: dry run, then a listing error (the middle day's listing refused) deletes nothing.
    let out = ws
        .cmd(&["expire", "--keep-last", "1", "--json"])
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(json(&out)["dry_run"], true);
    let stored = || async {
        let mut keys: Vec<String> = store
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .filter(|k| k.contains(&format!("/{p}/")) && !k.starts_with("verified/"))
            .filter(|k| mysqlbackup::catalog::parse_key(k).is_some())
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(stored().await, [k(DAYS[0]), k(DAYS[1]), k(DAYS[2])]);
    // Retention alone here (the checks above recorded verdicts, the newest once failed).
    for o in store.list("verified/").await.unwrap() {
        store.delete(&o.key).await.unwrap();
    }
    proxy.fail_requests_containing(Some(&format!("prefix={}", DAYS[1])));
    let out = ws
        .cmd(&["expire", "--confirm", "--keep-last", "1"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "expire went on after a listing error"
    );
    assert!(proxy.failures() > 0, "the fault was not hit");
    assert_eq!(stored().await, [k(DAYS[0]), k(DAYS[1]), k(DAYS[2])]);
    proxy.fail_requests_containing(None);

    ok(&ws
        .cmd(&["expire", "--confirm", "--keep-last", "1"])
        .output()
        .unwrap());
    assert_eq!(stored().await, [k(DAYS[2])]);
    ok(&ws
        .cmd(&["expire", "--confirm", "--keep-days", "0"])
        .output()
        .unwrap());
    assert_eq!(stored().await, [k(DAYS[2])]);
}

/// `--json` on backup and restore, `backup --stream` (the archive on stdout, the JSON report
/// then on stderr) refused on a terminal, and `cat archive | restore --input -` rebuilding the
/// instance from it.
#[test]
fn json_reports_stream_flag_and_stdin_restore() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default());
    let out = ws.cmd(&["backup", "--json"]).output().unwrap();
    ok(&out);
    let v = json(&out);
    let stored = ws.backup_base.join(v["key"].as_str().unwrap());
    assert_eq!(v["stored"]["location"], stored.display().to_string());
    assert_eq!(v["stored"]["sha1"].as_str().unwrap(), sha1_file(&stored));
    assert!(v["manifest"]["data_binlog"]["file"].is_string(), "{v}");

    // On a terminal --stream refuses (script(1) gives the command one).
    let conf = ws.conf.display().to_string();
    let tty = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{} --conf-path {conf} backup --stream",
            bin().display()
        ))
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(!tty.status.success());
    assert!(
        String::from_utf8_lossy(&tty.stdout).contains("terminal"),
        "{}",
        String::from_utf8_lossy(&tty.stdout)
    );

    let out = ws.cmd(&["backup", "--stream", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"Salted__"));
    let err = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(report["stored"]["location"], "-");
    assert_eq!(
        report["stored"]["sha1"].as_str().unwrap(),
        sha1_bytes(&out.stdout)
    );
    let archive = ws.dir.path().join("streamed.tgz.des3");
    std::fs::write(&archive, &out.stdout).unwrap();

    db.sql("INSERT INTO app.t(v) VALUES ('after-the-stream')");
    db.kill_and_move_away();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; cat {} | {} --conf-path {conf} restore --input - --sha1 {} --json",
            archive.display(),
            bin().display(),
            sha1_bytes(&std::fs::read(&archive).unwrap())
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["source"], "-");
    assert_eq!(v["layout"], "streaming");
    assert!(v["data_binlog"]["position"].as_u64().unwrap() > 0, "{v}");
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t"), "2000");
    assert_eq!(has(&db, "after-the-stream"), 0, "written after the backup");
}

/// Issue 17 bug 11: a damaged `.meta` of another instance's backup fails that backup's entry
/// only. list shows it as damaged, naming it; restore of this instance works; expire deletes
/// nothing of the damaged instance, goes on with this one, and exits 1 saying so.
#[test]
fn a_damaged_sidecar_of_another_instance_blocks_nothing_of_this_one() {
    let mut db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().date("2026_01_01"));
    let day1_key = backup_key(&ws, &[]);
    let day2 = ws.variant("day2", |c| c.date("2026_01_02"));
    let out = ws.cmd_with(&day2, &["backup"]).output().unwrap();
    ok(&out);
    let p = db.port;
    // Instance 2 of the port group (the scheme before records): a complete backup whose
    // .meta is not JSON.
    let ours = ws.backup_base.join(reported_key(&out));
    let bytes = std::fs::read(&ours).unwrap();
    let theirs = key(p, "2026_01_01", 2, ".tgz.des3");
    plant(&ws.backup_base, &theirs, &bytes, None);
    let their_old = key(p, "2025_12_01", 2, ".tgz.des3");
    plant(&ws.backup_base, &their_old, &bytes, None);
    std::fs::write(ws.backup_base.join(format!("{theirs}.meta")), "{ not json").unwrap();

    let listed = ok(&ws.cmd(&["list", "--all"]).output().unwrap());
    let line = listed
        .lines()
        .find(|l| l.starts_with(&theirs))
        .unwrap_or("");
    assert!(
        line.contains("DAMAGED") && line.contains(".meta"),
        "{listed}"
    );
    let v = json(&ws.cmd(&["list", "--json"]).output().unwrap());
    assert_eq!(v["backups"].as_array().unwrap().len(), 4, "{v}");

    let out = ws
        .cmd(&["expire", "--port-group", "--keep-last", "1", "--confirm"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("DAMAGED") && text.contains(&theirs), "{text}");
    assert!(
        ws.backup_base.join(&their_old).exists(),
        "nothing of the damaged instance deleted"
    );
    assert!(
        !ws.backup_base.join(&day1_key).exists(),
        "this instance's old backup expired"
    );

    db.kill_and_move_away();
    let restored = ok(&ws.cmd_with(&day2, &["restore"]).output().unwrap());
    assert!(restored.contains("2026_01_02"), "{restored}");
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t"), "2000");
}

/// Issue 17 bug 9: expire must never leave fewer restorable backups than retention asks for.
/// The newest backup rotted (its bytes no longer match its checksum); retention keeps it (the
/// newest is always kept) and would delete the only restorable one. Expire keeps the newest
/// backup verify found restorable besides the retention set, and says so; with none ever
/// verified it warns.
#[test]
fn expire_keeps_the_newest_backup_verify_found_restorable() {
    let db = Mariadb::start(1);
    seed(&db);
    let ws = Workspace::new(&db, 1, Conf::default().date(DAYS[0]));
    let made: Vec<String> = DAYS
        .iter()
        .map(|d| backup_key(&ws, &["--date-str", d]))
        .collect();
    let out = ws.cmd(&["expire", "--keep-last", "1"]).output().unwrap();
    let text = ok(&out);
    assert!(text.contains("has a recorded good verify"), "warns: {text}");

    ok(&ws.cmd(&["verify", "--all"]).output().unwrap());
    // The newest rots after it was verified.
    let newest = ws.backup_base.join(&made[2]);
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, flip(&bytes)).unwrap();
    let out = ws.cmd(&["verify", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));

    let out = ws
        .cmd(&["expire", "--keep-last", "1", "--confirm"])
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(
        text.contains(&format!("keep: {}", made[1])) && text.contains("found restorable"),
        "keeps the newest restorable one and says why: {text}"
    );
    assert!(ws.backup_base.join(&made[1]).exists());
    assert!(newest.exists(), "the newest is kept as always");
    assert!(
        !ws.backup_base.join(&made[0]).exists(),
        "retention still deletes the rest"
    );
}

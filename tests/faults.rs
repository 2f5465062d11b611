//! Faults: signals, dying backup tools, servers and S3, full disks, concurrent runs, secrets.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http_fault::FaultProxy;
use common::*;
use futures::TryStreamExt;
use object_store::ObjectStore;

fn signal(pid: u32, sig: &str) {
    Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts `mysqlbackup backup` and waits until its backup tool (a [`slow_tool`]) sleeps on
/// `marker`: the stream is under way.
fn backup_until_tool_sleeps(ws: &Workspace, marker: &str) -> Child {
    let child = spawn(ws.cmd(&["backup"]));
    wait_for(
        "the tool to reach its sleep",
        Duration::from_secs(60),
        || !pids_with(&["sleep", marker]).is_empty(),
    );
    child
}

fn finish(child: Child, timeout: Duration) -> (bool, String) {
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < timeout,
            "mysqlbackup did not exit within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn seed(db: &Mariadb, rows: u32) {
    db.sql(&format!(
        "SET SESSION max_recursive_iterations = 10000000; CREATE DATABASE app; \
         CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB; \
         INSERT INTO app.t(v) SELECT MD5(n) FROM (WITH RECURSIVE s(n) AS \
         (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}) SELECT n FROM s) x;"
    ));
}

/// A backup tool that streams for real, then holds its stdout open (a child `sleep`), so the
/// backup is mid-stream for as long as the test wants.
fn slow_tool(dir: &Path, marker: &str) -> PathBuf {
    let body = format!(
        "{} \"$@\"\nsleep {marker}",
        require("mariabackup").display()
    );
    script(&dir.join("slow-tool.sh"), &body)
}

/// The keys of the bucket's pending multipart uploads.
async fn pending_keys(store: &mysqlbackup::store::s3::S3Store) -> Vec<String> {
    let pending = store.list_multipart_uploads("").await.unwrap();
    pending.into_iter().map(|u| u.key).collect()
}

async fn s3_is_clean(store: &mysqlbackup::store::s3::S3Store) {
    let objects: Vec<_> = store.store.list(None).try_collect().await.unwrap();
    assert!(objects.is_empty(), "no object: {objects:?}");
    assert!(
        store.list_multipart_uploads("").await.unwrap().is_empty(),
        "no pending multipart upload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_during_backup_clean_up_and_end_children() {
    let db = Mariadb::start(1);
    seed(&db, 1000);
    let moto = Moto::start();
    let store = moto.bucket("signals").await;
    let scratch = tempfile::tempdir().unwrap();
    for (sig, marker, s3) in [("TERM", "41.25", true), ("INT", "41.75", false)] {
        let tool = slow_tool(scratch.path(), marker);
        let mut conf = Conf::default().tool(&tool);
        if s3 {
            conf = conf.s3(&moto, "signals");
        }
        let ws = Workspace::new(&db, 1, conf);
        let child = backup_until_tool_sleeps(&ws, marker);
        if s3 {
            assert_eq!(
                store.list_multipart_uploads("").await.unwrap().len(),
                1,
                "the upload is under way"
            );
        }
        signal(child.id(), sig);
        let (ok, err) = finish(child, Duration::from_secs(60));
        assert!(!ok, "SIG{sig} must fail the backup");
        assert!(err.contains("interrupted"), "{err}");
        assert!(
            pids_with(&["sleep", marker]).is_empty(),
            "the tool's children were ended"
        );
        assert!(
            pids_with(&[&tool.display().to_string()]).is_empty(),
            "the tool was ended"
        );
        assert!(
            list_files(&ws.backup_base).is_empty(),
            "no partial file: {:?}",
            list_files(&ws.backup_base)
        );
    }
    s3_is_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_tool_killed_or_database_stopped_mid_backup() {
    let mut db = Mariadb::start(1);
    seed(&db, 1000);
    let moto = Moto::start();
    let store = moto.bucket("dying").await;
    let scratch = tempfile::tempdir().unwrap();
    let tool = slow_tool(scratch.path(), "42.5");
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool).s3(&moto, "dying"));

    // The backup tool (the wrapper, mid-stream) is killed.
    let child = backup_until_tool_sleeps(&ws, "42.5");
    for pid in pids_with(&[&tool.display().to_string()]) {
        signal(pid, "KILL");
    }
    let (ok, err) = finish(child, Duration::from_secs(60));
    assert!(!ok);
    assert!(err.contains("signal: 9") || err.contains("failed"), "{err}");
    s3_is_clean(&store).await;

    // The database stops while the backup runs.
    let child = backup_until_tool_sleeps(&ws, "42.5");
    db.stop();
    for pid in pids_with(&["sleep", "42.5"]) {
        signal(pid, "KILL");
    }
    let (ok, err) = finish(child, Duration::from_secs(60));
    assert!(!ok, "a backup whose server died must fail");
    assert!(
        err.contains("mysql") || err.contains("FLUSH") || err.contains("failed"),
        "{err}"
    );
    s3_is_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_dying_mid_upload_fails_the_backup() {
    let db = Mariadb::start(1);
    seed(&db, 1000);
    let mut moto = Moto::start();
    moto.bucket("dies").await;
    let scratch = tempfile::tempdir().unwrap();
    let tool = slow_tool(scratch.path(), "43.5");
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool).s3(&moto, "dies"));
    let child = backup_until_tool_sleeps(&ws, "43.5");
    moto.kill();
    for pid in pids_with(&["sleep", "43.5"]) {
        signal(pid, "KILL");
    }
    let (ok, err) = finish(child, Duration::from_secs(240));
    assert!(!ok);
    assert!(
        err.contains("store") || err.contains("s3"),
        "names the store: {err}"
    );
    assert!(pids_with(&[&tool.display().to_string()]).is_empty());
}

/// SIGKILL cannot be caught: the killed backup leaves its pending upload or `.partial` file.
/// The next backup of the instance removes them (on any day), and nothing of another instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_a_killed_backup_are_removed_by_the_next() {
    let db = Mariadb::start(1);
    seed(&db, 1000);
    let moto = Moto::start();
    let store = moto.bucket("killed").await;
    let port = db.port;
    // Another instance's staging object and pending upload, and an old one of ours.
    let theirs =
        format!("2000_01_01/{port}/mysql-{port}-testhost-9.tgz.des3.0123456789abcdef.uploading");
    let ours_old =
        format!("2000_01_01/{port}/mysql-{port}-testhost-1.tgz.des3.fedcba9876543210.uploading");
    store
        .store
        .put(&theirs.as_str().into(), "x".into())
        .await
        .unwrap();
    for k in [&theirs, &ours_old] {
        let upload = store.store.put_multipart(&k.as_str().into()).await.unwrap();
        drop(upload); // not aborted: pending, as after a crash
    }
    assert_eq!(store.list_multipart_uploads("").await.unwrap().len(), 2);
    let scratch = tempfile::tempdir().unwrap();
    for (marker, s3) in [("44.25", true), ("44.75", false)] {
        let tool = slow_tool(scratch.path(), marker);
        let mut conf = Conf::default().tool(&tool);
        if s3 {
            conf = conf.s3(&moto, "killed");
        }
        let ws = Workspace::new(&db, 1, conf);
        let child = backup_until_tool_sleeps(&ws, marker);
        signal(child.id(), "KILL");
        let (killed_ok, _) = finish(child, Duration::from_secs(30));
        assert!(!killed_ok);
        // Nobody ends the orphaned tool for a killed mysqlbackup; the test does.
        for pid in pids_with(&["sleep", marker]) {
            signal(pid, "KILL");
        }
        let tool_path = tool.display().to_string();
        wait_for("the orphaned tool to end", Duration::from_secs(30), || {
            pids_with(&[&tool_path]).is_empty()
        });
        let real_tool = require("mariabackup");
        let next = ws.variant("real-tool", |c| c.tool(&real_tool));
        let left = list_files(&ws.backup_base);
        if s3 {
            let p = pending_keys(&store).await;
            // The killed run had already removed our old upload; its own is pending now.
            assert_eq!(p.len(), 2, "{p:?}");
            assert!(p.contains(&theirs) && !p.contains(&ours_old), "{p:?}");
        } else {
            assert!(
                left.iter()
                    .any(|p| p.to_string_lossy().ends_with(".partial")),
                "the killed backup left its partial file: {left:?}"
            );
        }

        let err = ok(&ws.cmd_with(&next, &["backup"]).output().unwrap());
        assert!(
            err.contains("removed the leftover of an interrupted backup"),
            "{err}"
        );
        let files: Vec<String> = list_files(&ws.backup_base)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        if s3 {
            assert!(files.is_empty(), "{files:?}");
            let pending = pending_keys(&store).await;
            assert_eq!(
                pending,
                vec![theirs.clone()],
                "only the other instance's upload"
            );
            let mut objects: Vec<String> = store
                .store
                .list(None)
                .map_ok(|o| o.location.to_string())
                .try_collect()
                .await
                .unwrap();
            objects.sort();
            assert_eq!(objects.len(), 3, "{objects:?}");
            assert_eq!(objects[0], theirs);
            let day = &objects[1][..10];
            assert!(
                is_key(&objects[1], port, day, 1, ".tgz.des3"),
                "{objects:?}"
            );
            assert_eq!(objects[2], format!("{}.json", objects[1]), "its record");
        } else {
            let mut files = files;
            files.sort();
            assert_eq!(files.len(), 2, "the backup and its record: {files:?}");
            assert!(
                files[0].starts_with(&format!("mysql-{port}-testhost-1.")),
                "{files:?}"
            );
            assert_eq!(files[1], format!("{}.json", files[0]));
        }
    }
}

#[test]
fn a_second_backup_of_the_same_instance_refuses() {
    let db = Mariadb::start(1);
    seed(&db, 1000);
    let scratch = tempfile::tempdir().unwrap();
    let tool = slow_tool(scratch.path(), "3.5");
    let ws = Workspace::new(&db, 1, Conf::default().tool(&tool).date("2022_02_02"));
    let first = backup_until_tool_sleeps(&ws, "3.5");
    // The same instance, its data dir spelled with a trailing `/`, is the same instance.
    let spelled = format!("{}/", db.data_dir.display());
    let trailing = ws.variant("trailing-slash", |c| c.data_dir(Path::new(&spelled)));
    for conf in [&ws.conf, &trailing] {
        let out = ws.cmd_with(conf, &["backup"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("already working on port"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (ok, err) = finish(first, Duration::from_secs(120));
    assert!(ok, "the first backup is unharmed: {err}");
    let keys = listed_keys(&ws, &[]);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        is_key(&keys[0], db.port, "2022_02_02", 1, ".tgz.des3"),
        "{keys:?}"
    );
    let archive = ws.backup_base.join(&keys[0]);
    let out_dir = tempfile::tempdir().unwrap();
    unpack_with_standard_tools(&archive, &ws.key_file, out_dir.path());
}

/// A restore that fails part-way (S3 gone mid-download, disk full, SIGTERM) leaves no data
/// dir and no server behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_faults_remove_the_half_built_data_dir() {
    let mut db = Mariadb::start(1);
    seed(&db, 200_000);
    let mut moto = Moto::start();
    moto.bucket("rfaults").await;
    let ws = Workspace::new(&db, 1, Conf::default().s3(&moto, "rfaults"));
    let out = ws.cmd(&["backup"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = db.data_dir.clone();
    db.kill_and_move_away();
    let socket = db.socket().display().to_string();

    // SIGTERM as soon as the data dir appears.
    let child = spawn(ws.cmd(&["restore"]));
    wait_for("the data dir", Duration::from_secs(60), || data.exists());
    signal(child.id(), "TERM");
    let (ok, err) = finish(child, Duration::from_secs(120));
    assert!(!ok);
    assert!(err.contains("interrupted"), "{err}");
    assert!(!data.exists(), "SIGTERM: half-built data dir removed");
    assert!(
        pids_with(&["mariadbd", &data.display().to_string()]).is_empty(),
        "no server left"
    );

    // S3 dies mid-download: a proxy holds the object's body part-way until S3 is dead, so
    // the download cannot finish first.
    let proxy = FaultProxy::start(moto.port);
    proxy.hold_bodies_after(64 << 10);
    let via_proxy = ws.variant("via-proxy", |mut c| {
        c.s3 = Some((proxy.port, "rfaults".into(), true));
        c
    });
    let child = spawn(ws.cmd_with(&via_proxy, &["restore"]));
    wait_for("the data dir", Duration::from_secs(60), || data.exists());
    moto.kill();
    proxy.release();
    let (ok, err) = finish(child, Duration::from_secs(240));
    assert!(!ok, "restore without its S3 must fail");
    assert!(
        !data.exists(),
        "S3 gone: half-built data dir removed ({err})"
    );
    let _ = socket;
}

/// SIGKILL cannot be caught: a restore killed while its temporary server applies the binlog
/// leaves that server running on a half-built data dir. catchup_binlog refuses that dir; the
/// next restore (even `--when no-data-dir`) ends the server, replaces the dir and succeeds.
#[test]
fn a_killed_restore_is_replaced_by_the_next() {
    let mut db = Mariadb::start(1);
    seed(&db, 1000);
    let ws = Workspace::new(&db, 1, Conf::default());
    ok(&ws.cmd(&["backup"]).output().unwrap());
    let data = db.data_dir.clone();
    db.kill_and_move_away();
    // A mysql_base whose mariadb-binlog first sleeps: the restore pauses mid binlog apply.
    let base = ws.dir.path().join("slow-base");
    std::fs::create_dir_all(base.join("bin")).unwrap();
    let wrapper = script(
        &base.join("bin/mariadb-binlog"),
        &format!(
            "sleep 45.25\nexec {} \"$@\"",
            require("mariadb-binlog").display()
        ),
    );
    let slow = ws.variant("slow-base", |c| c.mysql_base(&base));
    let child = spawn(ws.cmd_with(&slow, &["restore"]));
    wait_for(
        "the binlog apply to pause",
        Duration::from_secs(120),
        || !pids_with(&["sleep", "45.25"]).is_empty(),
    );
    let server_args = format!("--datadir={}", data.display());
    assert!(
        !pids_with(&["mariadbd", &server_args]).is_empty(),
        "server up"
    );
    // Should an assertion fail, the orphaned server must not outlive the test.
    struct EndOnDrop(String);
    impl Drop for EndOnDrop {
        fn drop(&mut self) {
            for pid in pids_with(&["mariadbd", &self.0]) {
                signal(pid, "KILL");
            }
        }
    }
    let _end = EndOnDrop(server_args.clone());
    signal(child.id(), "KILL");
    let (killed_ok, _) = finish(child, Duration::from_secs(30));
    assert!(!killed_ok);
    for pid in pids_with(&[&wrapper.display().to_string()]) {
        signal(pid, "KILL");
    }
    for pid in pids_with(&["sleep", "45.25"]) {
        signal(pid, "KILL");
    }
    assert!(data.join("mysqlbackup-restore.incomplete").exists());
    assert!(
        !pids_with(&["mariadbd", &server_args]).is_empty(),
        "left running"
    );

    // The half-built dir is no restored instance: catch-up refuses it, naming the marker
    // (its binlog claims a window that was never applied)...
    let out = ws.cmd(&["catchup_binlog"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("mysqlbackup-restore.incomplete"), "{err}");
    assert!(data.join("mysqlbackup-restore.incomplete").exists());
    // ...and `restore --when no-data-dir` takes it for no data dir: it restores again.
    let err = ok(&ws
        .cmd(&["restore", "--when", "no-data-dir"])
        .output()
        .unwrap());
    assert!(
        err.contains("half-built data dir of an interrupted restore"),
        "{err}"
    );
    assert!(
        pids_with(&["mariadbd", &server_args]).is_empty(),
        "the leftover server was ended"
    );
    assert!(!data.join("mysqlbackup-restore.incomplete").exists());
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t"), "1000");
}

#[test]
fn restore_into_a_full_disk_fails_cleanly() {
    let mut db = Mariadb::start(1);
    seed(&db, 50_000);
    let small = tempfile::tempdir().unwrap();
    let mnt = small.path().join("small-fs");
    std::fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success(), "mounting a small tmpfs (tests run as root)");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let target = mnt.join("restored");
    let mut ws = Workspace::new(&db, 1, Conf::default().date("2023_03_03"));

    // A backup into a local store on a full disk fails and leaves no partial file.
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![1u8; 11 << 20]).unwrap();
    let full = ws.variant("full", |c| c.backup_base(&mnt.join("backup")));
    // (The store's first backup: --init creates its dir.)
    let out = ws.cmd_with(&full, &["backup", "--init"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("No space left"), "names the cause: {err}");
    assert_eq!(list_files(&mnt), vec![filler.clone()], "no partial file");
    std::fs::remove_file(&filler).unwrap();

    let out = ws.cmd(&["backup"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.stop();
    // Restore the same backup into a data dir on the small filesystem.
    let conf = std::fs::read_to_string(&ws.conf).unwrap();
    ws.conf = ws.dir.path().join("conf-small.yaml");
    std::fs::write(
        &ws.conf,
        format!(
            "{conf}data_dir: {}\nmy_cnf: {}\n",
            target.display(),
            db.my_cnf().display()
        ),
    )
    .unwrap();
    let out = ws.cmd(&["restore"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("No space left") || err.contains("space"),
        "names the cause: {err}"
    );
    assert!(!target.exists(), "the half-built data dir is removed");
    assert!(list_files(&mnt).is_empty(), "nothing left on the full disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_argv_logs_and_errors() {
    let db = Mariadb::start(1);
    seed(&db, 1000);
    const DB_SECRET: &str = "Db-Secret-7731";
    db.sql(&format!("CREATE USER 'bk'@'localhost' IDENTIFIED BY '{DB_SECRET}'; GRANT ALL ON *.* TO 'bk'@'localhost'"));
    let moto = Moto::start();
    moto.bucket("secrets").await;
    let scratch = tempfile::tempdir().unwrap();
    let tool = slow_tool(scratch.path(), "2.25");
    let ws = Workspace::new(
        &db,
        1,
        Conf::default()
            .tool(&tool)
            .user("bk", DB_SECRET)
            .s3(&moto, "secrets"),
    );
    let secrets = [DB_SECRET, "s3-secret-never-shown", DES3_PASSWORD];
    let child = spawn(ws.cmd(&["backup"]));
    let mut seen_tool = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        for s in secrets {
            assert!(pids_with(&[s]).is_empty(), "{s} visible in a command line");
        }
        seen_tool |= !pids_with(&["mariabackup", "--user=bk"]).is_empty();
        if !pids_with(&["sleep", "2.25"]).is_empty() && seen_tool {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen_tool, "watched the backup tool run");
    let (ok, err) = finish(child, Duration::from_secs(120));
    assert!(ok, "{err}");
    for s in secrets {
        assert!(!err.contains(s), "{s} in the output");
    }
    // A wrong password: the error says so, without the password.
    let bad = Workspace::new(&db, 1, Conf::default().user("bk", "Wrong-Secret-991"));
    let out = bad.cmd(&["backup"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("Access denied"), "{err}");
    assert!(!err.contains("Wrong-Secret-991"), "{err}");
    // A world-readable key file is refused, as a world-readable age identity is: one rule.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bad.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bad.cmd(&["backup"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("world-readable: chmod 600"), "{err}");
}

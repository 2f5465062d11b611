//! Operating a fleet (issue 20) on real MariaDB and S3 servers: watch-replication, the
//! Prometheus metrics file (checked with promtool), a rate-limited backup, progress on a
//! pseudo-terminal, the systemd units (systemd-analyze verify), and the errors that say what
//! to do (a missing bucket, rejected credentials, an unreachable S3 host, a stopped instance, a
//! data dir the server user cannot reach): one line, the documented exit code, nothing written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The error lines of a failed run: exactly one `error:` line (then its causes), which must
/// contain every one of `words`; the exit code must be `code`.
fn one_error(out: &Output, code: i32, words: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    let causes: Vec<&str> = err.lines().filter(|l| l.contains("caused by:")).collect();
    for c in &causes {
        let text = c.trim().trim_start_matches("caused by:").trim();
        assert!(
            !errors[0].contains(text),
            "a cause repeats the error: {err}"
        );
    }
    for w in words {
        assert!(errors[0].contains(w), "{w:?} not in: {err}");
    }
    errors[0].to_string()
}

/// A backup tool that records that it ran, then runs mariabackup.
fn marking_tool(dir: &Path) -> (PathBuf, PathBuf) {
    let marker = dir.join("tool-ran");
    let tool = script(
        &dir.join("mariabackup-marking"),
        &format!(
            "#!/bin/sh\ntouch '{}'\nexec {} \"$@\"\n",
            marker.display(),
            require("mariabackup").display()
        ),
    );
    (tool, marker)
}

/// `promtool check metrics` on the file: passes, with no lint complaint.
fn promtool_ok(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let mut c = Command::new(require("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The value of the sample `series` (name and labels as written) in a metrics text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `watch-replication --once` on a replica with a named channel that runs, then with a second
/// channel whose source is down: exit 0, then 1 naming the broken channel and its error; on a
/// server that replicates from nobody, exit 0 saying so. Without --once it refreshes until
/// SIGINT and exits 0.
#[test]
fn watch_replication_shows_each_channel_and_fails_on_a_broken_one() {
    let db1 = Mariadb::start(1);
    let db2 = Mariadb::start(2);
    repl_user(&db1, "repl-secret");
    db2.sql(&format!(
        "CHANGE MASTER 'peer1' TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', \
         MASTER_PASSWORD='repl-secret', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; \
         START SLAVE 'peer1'",
        db1.port
    ));
    db1.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)");
    wait_for("peer1 applies", Duration::from_secs(30), || {
        db2.sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'app'")
            .trim()
            == "1"
    });
    let ws = Workspace::new(&db2, 2, Conf::default());

    let out = ws
        .cmd(&["watch-replication", "--once", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let snap = json(&out);
    let channels = snap["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1, "{snap}");
    let c = &channels[0];
    assert_eq!(c["name"], "peer1", "{snap}");
    assert_eq!(c["source"], format!("127.0.0.1:{}", db1.port), "{snap}");
    assert_eq!(
        (c["io_running"].as_str(), c["sql_running"].as_str()),
        (Some("Yes"), Some("Yes"))
    );
    assert_eq!(c["ok"], true, "{snap}");
    assert!(
        c["gtid_position"].as_str().unwrap().contains("1-1-"),
        "{snap}"
    );
    let out = ws.cmd(&["watch-replication", "--once"]).output().unwrap();
    let text = ok(&out);
    assert!(
        text.contains("CHANNEL")
            && text.contains("peer1")
            && text.contains(&format!("127.0.0.1:{}", db1.port)),
        "{text}"
    );

    // A second channel to a port where nothing listens: its IO thread cannot connect.
    let dead = free_port();
    db2.sql(&format!(
        "CHANGE MASTER 'gone' TO MASTER_HOST='127.0.0.1', MASTER_PORT={dead}, MASTER_USER='repl', \
         MASTER_PASSWORD='x', MASTER_CONNECT_RETRY=1; START SLAVE 'gone'"
    ));
    wait_for(
        "the dead channel reports its error",
        Duration::from_secs(30),
        || {
            db2.sql("SHOW SLAVE 'gone' STATUS")
                .contains("error connecting")
        },
    );
    let out = ws
        .cmd(&["watch-replication", "--once", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = json(&out);
    let gone = snap["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "gone")
        .unwrap_or_else(|| panic!("{snap}"));
    assert_eq!(gone["ok"], false, "{snap}");
    assert_ne!(gone["io_running"], "Yes", "{snap}");
    assert!(
        gone["last_error"]
            .as_str()
            .unwrap()
            .contains("error connecting"),
        "{snap}"
    );
    let peer1 = snap["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "peer1")
        .unwrap();
    assert_eq!(peer1["ok"], true, "{snap}");

    // Refreshing: several snapshots (one JSON document per line off a terminal) until SIGINT.
    let mut child = ws
        .cmd(&["watch-replication", "--json", "--interval", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut docs: Vec<Value> = Vec::new();
    while docs.len() < 3 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a snapshot within 30 s");
        docs.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    docs.extend(
        rx.try_iter()
            .map(|l| serde_json::from_str::<Value>(&l).unwrap()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(docs.len() >= 3, "{docs:?}");
    assert!(
        docs.iter()
            .all(|d| d["channels"].as_array().unwrap().len() == 2)
    );

    // A server that replicates from nobody.
    let ws1 = Workspace::new(&db1, 1, Conf::default());
    let out = ws1.cmd(&["watch-replication", "--once"]).output().unwrap();
    assert!(ok(&out).contains("no replication channel"));
}

/// Metrics after a backup, a failed backup (the instance stopped) and a restore, each checked
/// by promtool: the failure keeps the last success. The restore runs on a pseudo-terminal
/// (`script`) and draws its progress in percent. The stopped instance's error is one line
/// naming the port and asking whether it runs (exit 3), and nothing is written to the store.
#[test]
fn metrics_progress_and_a_stopped_instance() {
    let mut db = Mariadb::start(1);
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); \
            INSERT INTO app.t SELECT seq, REPEAT(MD5(seq), 8) FROM app.seq_1_to_100000",
    );
    let metrics_dir = tempfile::tempdir().unwrap();
    let prom = metrics_dir.path().join("mysqlbackup.prom");
    let ws = Workspace::new(
        &db,
        1,
        Conf::default().line(&format!("metrics_file: '{}'", prom.display())),
    );
    let out = ws.cmd(&["backup", "--json"]).output().unwrap();
    ok(&out);
    let report = json(&out);
    let text = promtool_ok(&prom);
    let who = format!("{{command=\"backup\",port=\"{}\"}}", db.port);
    let success = sample(
        &text,
        &format!("mysqlbackup_last_success_timestamp_seconds{who}"),
    )
    .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        sample(
            &text,
            &format!("mysqlbackup_last_backup_size_bytes{{port=\"{}\"}}", db.port)
        ),
        report["stored"]["size"].as_f64(),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("mysqlbackup_last_read_bytes{who}")),
        report["tar_bytes"].as_f64(),
        "{text}"
    );
    assert!(
        text.contains("mysqlbackup_last_stage_throughput_bytes_per_second{command=\"backup\""),
        "{text}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("peak RSS"),
        "only with -v"
    );
    assert!(
        report["peak_rss_bytes"].as_u64().unwrap() > 1 << 20,
        "{report}"
    );

    // The instance stopped: one line, exit 3, the store untouched, the failure in the metrics.
    let stored = list_files(&ws.backup_base);
    db.stop();
    let out = ws.cmd(&["backup"]).output().unwrap();
    let line = one_error(
        &out,
        3,
        &[
            "cannot reach the instance on port",
            &db.port.to_string(),
            "is it running",
        ],
    );
    assert!(
        !line.contains("Input/output error: Input/output error"),
        "{line}"
    );
    assert_eq!(list_files(&ws.backup_base), stored);
    let text = promtool_ok(&prom);
    assert_eq!(
        sample(
            &text,
            &format!("mysqlbackup_last_success_timestamp_seconds{who}")
        ),
        Some(success),
        "{text}"
    );
    assert!(
        sample(
            &text,
            &format!("mysqlbackup_last_failure_timestamp_seconds{who}")
        )
        .unwrap()
            >= success,
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("mysqlbackup_last_exit_code{who}")),
        Some(3.0),
        "{text}"
    );

    // Restore on a pseudo-terminal: a progress bar reaching 100%.
    db.kill_and_move_away();
    let cmd = format!(
        "{} --conf-path {} restore",
        bin().display(),
        ws.conf.display()
    );
    let out = Command::new(require("script"))
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("TMPDIR", &ws.tool_tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("restore [") && screen.contains("100%"),
        "{screen}"
    );
    let text = promtool_ok(&prom);
    let restored = format!("{{command=\"restore\",port=\"{}\"}}", db.port);
    assert!(
        sample(
            &text,
            &format!("mysqlbackup_last_success_timestamp_seconds{restored}")
        )
        .is_some(),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("mysqlbackup_last_read_bytes{restored}")),
        report["stored"]["size"].as_f64(),
        "{text}"
    );
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t").trim(), "100000");
}

/// A backup with `--rate-limit` reads the backup tool's stream at the cap: its average from the
/// first byte to the last stays within 10% under it, and the whole backup takes at least the
/// bytes over the cap.
#[test]
fn a_rate_limited_backup_reads_at_the_cap() {
    let db = Mariadb::start(1);
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); \
            INSERT INTO app.t SELECT seq, REPEAT(MD5(seq), 8) FROM app.seq_1_to_100000",
    );
    // zstd + age: the pipeline runs far above the cap even on a loaded machine.
    let keys = tempfile::tempdir().unwrap();
    let (recipient, identity) = age_key(keys.path(), "key.txt");
    let ws = Workspace::new(&db, 1, Conf::default().modern(&recipient, &identity));
    let cap = 8u64 << 20;
    let started = Instant::now();
    let out = ws
        .cmd(&["backup", "--json", "--rate-limit", "8MiB"])
        .output()
        .unwrap();
    ok(&out);
    let wall = started.elapsed().as_secs_f64();
    let report = json(&out);
    let read = &report["backup_tool"];
    let (bytes, secs) = (
        read["bytes"].as_f64().unwrap(),
        read["seconds"].as_f64().unwrap(),
    );
    assert!(bytes > (40 << 20) as f64, "{report}");
    let rate = bytes / secs;
    eprintln!(
        "read {bytes} bytes in {secs:.2} s: {:.2} MiB/s under a cap of 8 MiB/s; whole backup {wall:.1} s",
        rate / (1 << 20) as f64
    );
    assert!(rate <= cap as f64 * 1.01, "{rate} over the cap: {report}");
    assert!(
        rate >= cap as f64 * 0.9,
        "{rate} more than 10% under the cap: {report}"
    );
    assert!(wall >= bytes / cap as f64, "{wall} s for {bytes} bytes");
    assert_eq!(read["rate_limit"], cap, "{report}");
}

/// The store unusable: a missing bucket, rejected credentials (a Garage node checks
/// signatures), a host where nothing listens. Each fails before the backup tool starts, in
/// one line naming the bucket or host, exit 3 (a precondition), nothing written.
#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_store_fails_before_the_backup_tool_starts() {
    let db = Mariadb::start(1);
    let moto = Moto::start();
    let mut garage = Garage::start(1);
    let real = garage.bucket("real").await;
    let settings = garage.settings("real");
    let tools = tempfile::tempdir().unwrap();
    let (tool, marker) = marking_tool(tools.path());
    let dead = free_port();
    let s3 = |host: &str, bucket: &str, access: &str, secret: &str, region: &str| {
        Conf::default()
            .tool(&tool)
            .line(&format!("s3_host: '{host}'"))
            .line(&format!("s3_bucket: '{bucket}'"))
            .line(&format!("s3_access_key: '{access}'"))
            .line(&format!("s3_secret_key: '{secret}'"))
            .line(&format!("s3_region: '{region}'"))
    };
    let cases = [
        (
            "missing bucket",
            s3(
                &format!("127.0.0.1:{}", moto.port),
                "no-such-bucket",
                "AKIAEXAMPLEKEY",
                "s",
                "us-east-1",
            ),
            vec!["no-such-bucket".to_string(), "does not exist".into()],
        ),
        (
            "wrong credentials",
            s3(
                &settings.host,
                "real",
                settings.access_key.expose(),
                "not-the-secret",
                "garage",
            ),
            vec!["s3://real".to_string(), "credentials are rejected".into()],
        ),
        (
            "unreachable host",
            s3(
                &format!("127.0.0.1:{dead}"),
                "b",
                "AKIAEXAMPLEKEY",
                "s",
                "us-east-1",
            ),
            vec![format!("127.0.0.1:{dead}"), "cannot reach".into()],
        ),
    ];
    for (what, conf, words) in cases {
        let ws = Workspace::new(&db, 1, conf);
        let started = Instant::now();
        let out = ws.cmd(&["backup"]).output().unwrap();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let line = one_error(&out, 3, &words);
        eprintln!("{what}: {line} ({:.1} s)", started.elapsed().as_secs_f64());
        assert!(!marker.exists(), "{what}: the backup tool ran");
        assert!(list_files(&ws.backup_base).is_empty(), "{what}");
    }
    use mysqlbackup::store::Store;
    let (objects, leftovers) = real.scan("").await.unwrap();
    assert!(
        objects.is_empty() && leftovers.is_empty(),
        "nothing written to the real bucket"
    );
}

/// A restore run as root whose data dir lies under a dir the server user cannot search (0700,
/// root's) is refused before anything is downloaded, naming the dir and the user (exit 3), and
/// leaves nothing behind; the parents a restore creates under root's umask 077 are 0755.
#[test]
fn a_data_dir_the_server_user_cannot_reach_is_refused_first() {
    if !mysqlbackup::procfs::running_as_root() {
        panic!("this test runs as root (CI does): restore hands its dirs to server_user only then");
    }
    let mut db = Mariadb::start(1);
    let ws = Workspace::new(&db, 1, Conf::default());
    ok(&ws.cmd(&["backup"]).output().unwrap());
    db.stop();
    let locked = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let target = locked.path().join("data");
    let conf = ws.variant("locked", |c| c.data_dir(&target));
    let out = ws
        .cmd_with(&conf, &["restore", "--port", &db.port.to_string()])
        .output()
        .unwrap();
    let line = one_error(
        &out,
        3,
        &[
            "server_user mysql cannot reach",
            &target.display().to_string(),
            &locked.path().display().to_string(),
            "700",
        ],
    );
    eprintln!("{line}");
    assert!(!target.exists(), "nothing created");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("restoring "),
        "refused before the download"
    );

    // Parents the restore creates itself are searchable whatever root's umask (077 here):
    // the restore, whose temporary server runs as that user, succeeds.
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let deep = locked.path().join("made/by/restore/data");
    let conf = ws.variant("deep", |c| c.data_dir(&deep));
    let cmd = format!(
        "umask 077; exec '{}' --conf-path '{}' restore",
        bin().display(),
        conf.display()
    );
    let out = Command::new("sh")
        .args(["-c", &cmd])
        .env("TMPDIR", &ws.tool_tmp)
        .output()
        .unwrap();
    ok(&out);
    for d in ["made", "made/by", "made/by/restore"] {
        let mode = std::fs::metadata(locked.path().join(d))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{d}");
    }
}

/// The systemd units of contrib/systemd pass `systemd-analyze verify` for a port's instance,
/// without a warning (ExecStart pointed at this build's binary, as an install would).
#[test]
fn the_systemd_units_verify() {
    let analyze = require("systemd-analyze");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("/usr/local/bin/mysqlbackup") || p.extension().unwrap() == "timer");
        let text = text.replace("/usr/local/bin/mysqlbackup", &bin().display().to_string());
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(dir.path().join(&name), text).unwrap();
        units.push(name.replace("@.", "@3306."));
    }
    units.sort();
    assert_eq!(
        units,
        [
            "mysqlbackup-backup@3306.service",
            "mysqlbackup-backup@3306.timer",
            "mysqlbackup-binlog@3306.service",
            "mysqlbackup-binlog@3306.timer"
        ]
    );
    for u in &units {
        let out = Command::new(&analyze)
            .args(["verify", "--man=no"])
            .arg(dir.path().join(u))
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(),
            "{u}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

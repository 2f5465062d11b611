//! Prometheus metrics after every command (conf `metrics_file`): a file in the text exposition
//! format for node_exporter's textfile collector, in base units, rewritten atomically (a temp
//! file in the same dir, then a rename) so the collector never reads half a file. Samples of
//! other commands and ports in the file are kept: one file serves a host's whole fleet.

use std::path::Path;

use crate::error::{Error, Result};

use exposition::{Samples, label, read, render};

mod exposition;

/// What one run did, for the metrics file.
#[derive(Debug)]
pub struct Run<'a> {
    /// The command's name as typed in the docs (`backup`, `archive_binlog`, ...).
    pub command: &'a str,
    pub port: u16,
    /// Unix time at the end, in seconds.
    pub ended_at: f64,
    pub seconds: f64,
    pub exit_code: u8,
    /// The command's JSON report (success only): sizes and stages are read from it.
    pub report: Option<&'a serde_json::Value>,
}

/// The samples of one run merged into `samples`.
fn merge(samples: &mut Samples, run: &Run<'_>) {
    // A run `--when` skipped did nothing: it is neither a success nor a failure.
    if run.report.is_some_and(|r| r.get("skipped").is_some()) {
        return;
    }
    let who = format!("command=\"{}\",port=\"{}\"", label(run.command), run.port);
    let port = format!("{{port=\"{}\"}}", run.port);
    let mut set = |name: &str, labels: String, v: f64| {
        samples.insert((name.to_string(), labels), v);
    };
    let of_run = format!("{{{who}}}");
    let ok = run.exit_code == 0;
    let stamp = if ok {
        "mysqlbackup_last_success_timestamp_seconds"
    } else {
        "mysqlbackup_last_failure_timestamp_seconds"
    };
    set(stamp, of_run.clone(), run.ended_at);
    set(
        "mysqlbackup_last_exit_code",
        of_run.clone(),
        run.exit_code.into(),
    );
    set(
        "mysqlbackup_last_duration_seconds",
        of_run.clone(),
        run.seconds,
    );
    // What the last run read and stored, and its stages: this run's alone.
    samples.retain(|(name, labels), _| {
        !(labels.starts_with(&format!("{{{who}"))
            && matches!(
                name.as_str(),
                "mysqlbackup_last_read_bytes"
                    | "mysqlbackup_last_stored_bytes"
                    | "mysqlbackup_last_stage_throughput_bytes_per_second"
            ))
    });
    let Some(r) = run.report.filter(|_| ok) else {
        return;
    };
    let mut set = |name: &str, labels: String, v: f64| {
        samples.insert((name.to_string(), labels), v);
    };
    let num = |v: &serde_json::Value| v.as_f64();
    match run.command {
        "backup" => {
            if let Some(read) = num(&r["tar_bytes"]) {
                set("mysqlbackup_last_read_bytes", of_run.clone(), read);
            }
            if let Some(size) = num(&r["stored"]["size"]) {
                set("mysqlbackup_last_stored_bytes", of_run.clone(), size);
                if !r["key"].is_null() {
                    set("mysqlbackup_last_backup_size_bytes", port.clone(), size);
                    if let Some(t) = r["taken_at"].as_str().and_then(unix_time) {
                        set("mysqlbackup_last_backup_timestamp_seconds", port.clone(), t);
                    }
                }
            }
            for stage in r["stages"].as_array().into_iter().flatten() {
                let (Some(name), Some(bytes), Some(busy)) = (
                    stage["name"].as_str(),
                    num(&stage["bytes_in"]),
                    num(&stage["busy_seconds"]),
                ) else {
                    continue;
                };
                if busy > 0.0 {
                    set(
                        "mysqlbackup_last_stage_throughput_bytes_per_second",
                        format!("{{{who},stage=\"{}\"}}", label(name)),
                        bytes / busy,
                    );
                }
            }
        }
        "restore" | "verify" => {
            let read: f64 = r["backups"]
                .as_array()
                .map(|b| b.iter().filter_map(|b| num(&b["data_bytes"])).sum())
                .or_else(|| num(&r["read_bytes"]))
                .unwrap_or(0.0);
            if read > 0.0 {
                set("mysqlbackup_last_read_bytes", of_run.clone(), read);
            }
        }
        "archive_binlog" => {
            let archived = r["archived"].as_array().cloned().unwrap_or_default();
            let read: f64 = archived.iter().filter_map(|a| num(&a["size"])).sum();
            let stored: f64 = archived.iter().filter_map(|a| num(&a["stored"])).sum();
            set("mysqlbackup_last_read_bytes", of_run.clone(), read);
            set("mysqlbackup_last_stored_bytes", of_run.clone(), stored);
            if let Some(t) = archived
                .iter()
                .filter_map(|a| a["last_event_at"].as_str().and_then(unix_time))
                .reduce(f64::max)
            {
                set(
                    "mysqlbackup_binlog_last_archived_event_timestamp_seconds",
                    port,
                    t,
                );
            }
        }
        _ => {}
    }
}

fn unix_time(rfc3339: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
}

/// How long [`record`] waits for another mysqlbackup writing the same metrics file.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Merges `run` into the metrics file at `path` and replaces it atomically. Runs of other
/// ports write the same file at the same minute (every port's binlog timer): the read, merge
/// and rename happen under a lock on a side file (`.NAME.lock`), so none loses another's
/// samples.
pub fn record(path: &Path, run: &Run<'_>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lock_path = dir.join(format!(".{name}.lock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("open", &lock_path, e))?;
    let started = std::time::Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Failed(format!(
                    "{} stayed locked by another mysqlbackup for {} s",
                    lock_path.display(),
                    LOCK_WAIT.as_secs()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path, e)),
        }
    }
    let written = write_merged(path, dir, &name, run);
    drop(lock);
    written
}

fn write_merged(path: &Path, dir: &Path, name: &str, run: &Run<'_>) -> Result<()> {
    let mut samples = match std::fs::read_to_string(path) {
        Ok(text) => read(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Samples::new(),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    merge(&mut samples, run);
    // Not ending in .prom: the collector skips it while it is written.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, render(&samples))
        .map_err(|e| Error::io("write", &tmp, e))
        .and_then(|_| {
            std::fs::rename(&tmp, path).map_err(|e| Error::io("rename into place", path, e))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a>(command: &'a str, exit: u8, report: Option<&'a serde_json::Value>) -> Run<'a> {
        Run {
            command,
            port: 3306,
            ended_at: 1_700_000_000.5,
            seconds: 2.0,
            exit_code: exit,
            report,
        }
    }

    #[test]
    fn a_failure_keeps_the_last_success_and_other_ports() {
        let report = serde_json::json!({
            "key": "k", "taken_at": "2026-12-04T10:00:00Z", "tar_bytes": 100,
            "stored": {"size": 40},
            "stages": [{"name": "zstd", "bytes_in": 100, "bytes_out": 40, "busy_seconds": 0.5}],
        });
        let mut s = Samples::new();
        merge(&mut s, &run("backup", 0, Some(&report)));
        let mut other = run("backup", 0, Some(&report));
        other.port = 3307;
        merge(&mut s, &other);
        let text = render(&s);
        let mut again = read(&text);
        assert_eq!(again, s, "{text}");
        let mut failed = run("backup", 1, None);
        failed.ended_at += 10.0;
        merge(&mut again, &failed);
        let key = |n: &str, l: &str| (n.to_string(), l.to_string());
        let who = "{command=\"backup\",port=\"3306\"}";
        assert_eq!(
            again[&key("mysqlbackup_last_success_timestamp_seconds", who)],
            1_700_000_000.5
        );
        assert_eq!(
            again[&key("mysqlbackup_last_failure_timestamp_seconds", who)],
            1_700_000_010.5
        );
        assert_eq!(again[&key("mysqlbackup_last_exit_code", who)], 1.0);
        assert!(!again.contains_key(&key("mysqlbackup_last_stored_bytes", who)));
        assert_eq!(
            again[&key("mysqlbackup_last_backup_size_bytes", "{port=\"3306\"}")],
            40.0
        );
        assert_eq!(
            again[&key(
                "mysqlbackup_last_stored_bytes",
                "{command=\"backup\",port=\"3307\"}"
            )],
            40.0
        );
        assert_eq!(
            again[&key(
                "mysqlbackup_last_stage_throughput_bytes_per_second",
                "{command=\"backup\",port=\"3307\",stage=\"zstd\"}"
            )],
            200.0
        );
    }

    #[test]
    fn concurrent_runs_of_other_ports_keep_each_others_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        let threads: Vec<_> = (0..8u16)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let mut r = run("archive_binlog", 0, None);
                        r.port = 3300 + i;
                        record(&path, &r).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let samples = read(&std::fs::read_to_string(&path).unwrap());
        for i in 0..8 {
            let who = format!("{{command=\"archive_binlog\",port=\"{}\"}}", 3300 + i);
            assert!(
                samples.contains_key(&(
                    "mysqlbackup_last_success_timestamp_seconds".to_string(),
                    who.clone()
                )),
                "{who} lost"
            );
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_skipped_run_is_no_success() {
        let skipped = serde_json::json!({"skipped": "--when condition does not hold"});
        let mut s = Samples::new();
        merge(&mut s, &run("backup", 0, Some(&skipped)));
        assert!(s.is_empty(), "{s:?}");
    }
}

//! Test harness: private MariaDB instances and a private S3 server (moto) per test, on free
//! ports in temp dirs, stopped on drop; a typed conf per test; every wait bounded.
//!
//! The README's test command (scripts/test.sh) installs MariaDB, mariabackup and moto; when
//! they are missing these helpers fail loudly rather than skip.

#![allow(dead_code, unused_imports)]

pub mod fake_mysql;
pub mod forge;
pub mod garage;
pub mod http_fault;
pub mod keys;
pub mod mariadb;
pub mod proxy;
pub mod s3;
pub mod tools;
pub mod workspace;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub use garage::Garage;
pub use keys::*;
pub use mariadb::*;
pub use s3::*;
pub use tools::*;
pub use workspace::*;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `cond` up to `timeout`, polling.
pub fn wait_for(what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
    wait_for_or(what, timeout, cond, String::new);
}

/// As [`wait_for`]; on timeout the panic message carries `diagnose()` (e.g. server state).
pub fn wait_for_or(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> bool,
    diagnose: impl Fn() -> String,
) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() >= timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                diagnose()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn require(bin: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(bin);
        if p.is_file() {
            return p;
        }
    }
    panic!("{bin} is not installed: run scripts/test.sh, which installs it");
}

/// Asserts that a mysqlbackup run succeeded (printing its stderr if not); returns its stderr
/// (the log) followed by its stdout (the report, unless the archive went there).
pub fn ok(out: &Output) -> String {
    let mut err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.stdout.starts_with(b"Salted__") && !out.stdout.starts_with(b"age-encryption") {
        err.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    assert!(
        out.status.success(),
        "mysqlbackup failed: {}\n{err}",
        out.status
    );
    err
}

/// Pids of processes whose command line contains every one of `parts`.
pub fn pids_with(parts: &[&str]) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if parts.iter().all(|p| cmd.contains(p)) {
            out.push(pid);
        }
    }
    out
}

/// Writes an executable bash script with `body` at `path`; returns the path.
pub fn script(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, format!("#!/bin/bash\n{body}\n")).unwrap();
    Command::new("chmod").arg("+x").arg(path).status().unwrap();
    path.to_path_buf()
}

/// Recursively lists files under `dir` (empty when it does not exist).
/// A `--json` run's report (its stdout), or a panic showing what it printed instead.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(list_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

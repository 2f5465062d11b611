//! Backup keys in tests: what a backup reported, what `list` shows, what a record says, and
//! whether a key is the one a test expects (keys name the second they were taken, so tests
//! match them by day, port, host, instance and chain).

use std::path::Path;
use std::process::Output;

use super::workspace::Workspace;

/// The key a `backup` run reported (`key: ...` on stdout).
pub fn reported_key(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap_or_else(|| {
            panic!(
                "no key in the report: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .trim()
        .to_string()
}

/// Runs `backup` with `args`, asserts success, returns the key it reported.
pub fn backup_key(ws: &Workspace, args: &[&str]) -> String {
    let mut a = vec!["backup"];
    a.extend_from_slice(args);
    let out = ws.cmd(&a).output().unwrap();
    super::ok(&out);
    reported_key(&out)
}

/// Whether `key` is a backup of `port` by `testhost` instance `instance` filed under `day`,
/// in the chain of `suffix` (the scheme with the time).
pub fn is_key(key: &str, port: u16, day: &str, instance: u32, suffix: &str) -> bool {
    key.starts_with(&format!("{day}/{port}/mysql-{port}-testhost-{instance}."))
        && key.ends_with(&format!(".full{suffix}"))
}

/// The keys `list --json` shows (newest first).
pub fn listed_keys(ws: &Workspace, args: &[&str]) -> Vec<String> {
    let mut a = vec!["list", "--json"];
    a.extend_from_slice(args);
    let out = ws.cmd(&a).output().unwrap();
    super::ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_string())
        .collect()
}

/// The record beside a local backup (`{archive}.json`).
pub fn record(archive: &Path) -> serde_json::Value {
    let path = format!("{}.json", archive.display());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The SHA-1 a local backup's record holds.
pub fn recorded_sha1(archive: &Path) -> String {
    record(archive)["sha1"].as_str().unwrap().to_string()
}

/// The newest local backup of `port` by `testhost` instance `instance` filed under `day` in the
/// chain of `suffix` (the scheme with the time); panics naming what is there when none.
pub fn local_backup(
    base: &Path,
    port: u16,
    day: &str,
    instance: u32,
    suffix: &str,
) -> std::path::PathBuf {
    let dir = base.join(day).join(port.to_string());
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| format!("{day}/{port}/{}", e.file_name().to_string_lossy()))
                .filter(|k| is_key(k, port, day, instance, suffix))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    let key = found.pop().unwrap_or_else(|| {
        panic!(
            "no backup under {}: {:?}",
            dir.display(),
            super::list_files(&dir)
        )
    });
    base.join(key)
}

/// Rewrites a local single-object backup's record to hold the digests and size of the bytes
/// at `archive` now (what a forger, or a store that lost a tail under a matching record, does).
pub fn rerecord(archive: &Path) {
    use sha2::Digest;
    let bytes = std::fs::read(archive).unwrap();
    let mut r = record(archive);
    r["sha1"] = super::sha1_bytes(&bytes).into();
    r["sha256"] = hex::encode(sha2::Sha256::digest(&bytes)).into();
    r["size"] = (bytes.len() as u64).into();
    r["objects"][0]["size"] = (bytes.len() as u64).into();
    std::fs::write(
        format!("{}.json", archive.display()),
        serde_json::to_vec_pretty(&r).unwrap(),
    )
    .unwrap();
}

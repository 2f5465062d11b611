//! The restored dirs handed to the server's OS user, and the check, before anything is
//! written, that this user can reach them at all.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::{Error, Result};
use crate::mysql::mycnf::MyCnf;

/// Run as root, extraction and prepare leave root's files; the server runs as another user
/// and could not open them. The data dir and binlog dir are wholly this restore's (created, or
/// found empty), so they are handed to conf `server_user` (e.g. `mysql`), never to a user the
/// archive names. Returns a warning when the restored my.cnf runs the instance as another user.
pub async fn hand_over(
    server_user: &str,
    cnf: &MyCnf,
    data_dir: &Path,
    binlog_dir: &Path,
) -> Result<Option<String>> {
    if !crate::procfs::running_as_root() {
        return Ok(None);
    }
    let mut dirs = vec![data_dir];
    if !binlog_dir.starts_with(data_dir) {
        dirs.push(binlog_dir);
    }
    for dir in dirs {
        tracing::info!("handing {} to user {server_user}", dir.display());
        // chown(1) resolves the name through NSS (LDAP users too) and sets the user's group.
        let mut cmd = tokio::process::Command::new("chown");
        cmd.args(["-R", "--no-dereference", &format!("{server_user}:")])
            .arg(dir)
            .stdin(Stdio::null());
        crate::procfs::no_secrets(&mut cmd);
        let out = cmd
            .output()
            .await
            .map_err(|e| Error::io("run", "chown", e))?;
        if !out.status.success() {
            return Err(Error::Failed(format!(
                "cannot hand {} to conf server_user {server_user}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(match cnf.get("user") {
        Some(u) if !u.is_empty() && u != server_user && u != "root" => Some(format!(
            "the restored my.cnf runs the instance as user {u}, but its files belong to \
             {server_user} (conf server_user): set server_user: {u}, or chown them"
        )),
        _ => None,
    })
}

/// Run as root, checks before anything is downloaded that `server_user`, whom the restored
/// dirs are handed to and whose temporary server opens them, can reach them: every existing
/// dir above each must be searchable by that user (a 0700 parent is not), else the server
/// would die at its start, after the whole download and prepare. Names the dir and the user.
pub async fn check_reachable(server_user: &str, dirs: &[&Path]) -> Result<()> {
    if !crate::procfs::running_as_root() {
        return Ok(());
    }
    let mut above: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let Ok(dir) = std::path::absolute(dir) else {
            continue;
        };
        for a in dir.ancestors().skip(1) {
            if a.is_dir() && !above.iter().any(|p| p == a) {
                above.push(a.to_path_buf());
            }
        }
    }
    above.sort_by_key(|p| p.components().count());
    // The user's own view of each dir, root first: the first it cannot search is printed.
    let mut cmd = tokio::process::Command::new("runuser");
    cmd.args(["-u", server_user, "--", "sh", "-c"])
        .arg(r#"for d; do [ -x "$d" ] || { printf '%s' "$d"; exit 3; }; done"#)
        .arg("sh")
        .args(&above)
        .stdin(Stdio::null());
    crate::procfs::no_secrets(&mut cmd);
    cmd.kill_on_drop(true);
    // A user lookup through a directory service can hang: bounded.
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output())
        .await
        .map_err(|_| {
            Error::Failed(format!(
                "checking what conf server_user {server_user} can reach took over 30 s \
                 (runuser hung: is the user's directory service answering?)"
            ))
        })?
        .map_err(|e| Error::io("run", "runuser", e))?;
    match out.status.code() {
        Some(0) => Ok(()),
        Some(3) => {
            let blocked = PathBuf::from(String::from_utf8_lossy(&out.stdout).into_owned());
            let mode = std::fs::metadata(&blocked)
                .map(|m| {
                    format!(
                        "{:o}",
                        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777
                    )
                })
                .unwrap_or_else(|_| "?".into());
            let target = dirs
                .iter()
                .find(|d| std::path::absolute(d).is_ok_and(|d| d.starts_with(&blocked)))
                .unwrap_or(&dirs[0]);
            Err(Error::Refused(format!(
                "conf server_user {server_user} cannot reach {}: {} (mode {mode}) is not \
                 searchable by {server_user}, so the restored instance could not start; make \
                 it so (e.g. chmod o+x {}), restore elsewhere, or set server_user",
                target.display(),
                blocked.display(),
                blocked.display()
            )))
        }
        _ => Err(Error::Config(format!(
            "conf server_user {server_user}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

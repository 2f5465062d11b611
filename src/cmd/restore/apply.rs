//! After extraction: prepare the data, hand it to the server's user, and apply the binlog
//! events newer than the data on a temporary server (generated configuration, no binlog, no
//! networking), leaving `gtid_slave_pos` consistent with what was applied.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use mysql_async::prelude::Queryable;

use crate::archive::manifest::BinlogCoords;
use crate::config::Settings;
use crate::error::{Error, Result, excerpt};
use crate::mysql::binlog::{Gtid, Scan, scan_from};
use crate::mysql::mycnf::{Edit, MyCnf};
use crate::mysql::replication::{quote, resume_position};
use crate::mysql::server::TempServer;
use crate::mysql::server_config::{Dirs, Purpose, ServerConfig, run_as_owner_of};
use crate::mysql::{exec, find_binary};

/// How much of a tool's stderr an error quotes.
const STDERR_EXCERPT: usize = 2000;

/// Makes the backup tool's `backup-my.cnf` (read by `--prepare`) safe: it comes from the
/// archive, and a path in it would make prepare read or write files elsewhere. Directory
/// options become `./` (the target dir), any other absolute or `..` value is commented out.
pub fn sanitize_backup_cnf(data_dir: &Path) -> Result<()> {
    let path = data_dir.join("backup-my.cnf");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let cnf = MyCnf::parse(&text);
    let safe = cnf.rewrite(Some("not followed: the file comes from the archive"), |e| {
        if e.key.starts_with("plugin") {
            return Some(Edit::CommentOut(
                "plugins are not loaded from an archive".into(),
            ));
        }
        let v = e.value.as_deref()?;
        if !(v.starts_with('/') || v.starts_with('~') || v.contains("..")) {
            return None;
        }
        if e.key.ends_with("_dir") || e.key.ends_with("_directory") || e.key.ends_with("_path") {
            Some(Edit::Set("./".into()))
        } else {
            Some(Edit::CommentOut("not a path inside the backup".into()))
        }
    });
    if safe != text {
        std::fs::write(&path, safe).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(())
}

/// `mariabackup --prepare` in place, with no option file but the backup's own
/// (sanitized) `backup-my.cnf`.
pub async fn prepare(s: &Settings, tools: &[&str], data_dir: &Path) -> Result<()> {
    let tool = match &s.backup_tool {
        Some(t) => t.clone(),
        None => find_binary(&s.mysql_base, tools).ok_or_else(|| {
            Error::Refused(format!("no {} found to prepare the data", tools.join("/")))
        })?,
    };
    sanitize_backup_cnf(data_dir)?;
    tracing::info!("preparing {} with {}", data_dir.display(), tool.display());
    let mut cmd = tokio::process::Command::new(&tool);
    cmd.arg("--no-defaults")
        .arg("--prepare")
        .arg(format!("--target-dir={}", data_dir.display()))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    crate::procfs::no_secrets(&mut cmd);
    let out = crate::cancel::or_cancelled(async {
        cmd.output().await.map_err(|e| Error::io("run", &tool, e))
    })
    .await?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(20).collect();
        return Err(Error::BackupTool {
            tool: format!("{} --prepare", tool.display()),
            status: out.status.to_string(),
            stderr_tail: excerpt(
                &tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                STDERR_EXCERPT,
            ),
        });
    }
    Ok(())
}

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
            return Err(Error::Refused(format!(
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

/// What the binlog apply did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub files: Vec<String>,
    /// `gtid_slave_pos` after the apply, when it had to move (events of other origins).
    pub slave_pos: Option<String>,
}

/// Scans the window (`files` in `binlog_dir`, the first from `from.position`): its GTIDs
/// and whether it holds LOAD DATA events.
pub fn scan_window(binlog_dir: &Path, files: &[String], from: &BinlogCoords) -> Result<Scan> {
    let mut scan = Scan::default();
    for f in files {
        let path = binlog_dir.join(f);
        let file = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let start = if *f == from.file { from.position } else { 4 };
        scan_from(
            std::io::BufReader::with_capacity(1 << 20, file),
            start,
            &mut scan,
        )
        .map_err(|e| Error::format("binlog", format!("{f}: {e}")))?;
    }
    Ok(scan)
}

/// The last GTID per domain among `gtids` that another server than `own_server_id`
/// originated: the transactions restore applied that reached this instance through
/// replication.
pub fn foreign_tail(gtids: &[Gtid], own_server_id: u32) -> String {
    let mut last: std::collections::BTreeMap<u32, Gtid> = Default::default();
    for g in gtids.iter().filter(|g| g.server != own_server_id) {
        last.insert(g.domain, *g);
    }
    last.values()
        .map(Gtid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts a temporary server on the restored data, pipes the binlog events after `from`
/// (`mariadb-binlog --disable-log-bin`) into it, moves `gtid_slave_pos` past the applied
/// transactions of other origins, and shuts it down.
pub async fn apply_binlog(
    s: &Settings,
    cnf: &MyCnf,
    dirs: &Dirs,
    from: &BinlogCoords,
    files: &[String],
) -> Result<Applied> {
    let need = |names: &[&str]| {
        find_binary(&s.mysql_base, names).ok_or_else(|| {
            Error::Refused(format!(
                "{} not found under {} or on PATH",
                names[0],
                s.mysql_base.display()
            ))
        })
    };
    let mariadbd = need(&["mariadbd", "mysqld"])?;
    let binlog_tool = need(&["mariadb-binlog", "mysqlbinlog"])?;
    let client = need(&["mariadb", "mysql"])?;
    let (dir, files2, from2) = (dirs.binlog_dir.clone(), files.to_vec(), from.clone());
    let scan = tokio::task::spawn_blocking(move || scan_window(&dir, &files2, &from2))
        .await
        .map_err(|e| Error::stage("binlog", e.to_string()))??;
    if scan.load_data {
        tracing::warn!(
            "the binlog window holds LOAD DATA events: mariadb-binlog turns them into LOAD DATA \
             LOCAL INFILE of files it writes into the data dir, so the client reads local files"
        );
    }
    let config = ServerConfig::generate(
        Some(cnf),
        dirs,
        Purpose::ApplyBinlog,
        &s.server_options,
        run_as_owner_of(&dirs.data_dir)?.as_deref(),
    )?;
    let mut server =
        TempServer::start(&mariadbd, &config, &s.mysql_user, s.root_password.clone()).await?;
    let result = async {
        tracing::info!(
            "applying binlog from {}:{} ({} files, {} transactions)",
            from.file,
            from.position,
            files.len(),
            scan.gtids.len()
        );
        let paths: Vec<PathBuf> = files.iter().map(|f| dirs.binlog_dir.join(f)).collect();
        let tools = Tools {
            binlog: &binlog_tool,
            client: &client,
            local_load: &config.tmp_dir,
            local_infile: scan.load_data,
        };
        pipe_events(s, &tools, &server, from.position, &paths).await?;
        let mut conn = server.endpoint.connect().await?;
        let (own, slave): (u32, String) = conn
            .query_first("SELECT @@server_id, @@gtid_slave_pos")
            .await
            .map_err(|e| crate::error::Error::mysql("SELECT @@server_id, @@gtid_slave_pos", e))?
            .unwrap_or_default();
        let foreign = foreign_tail(&scan.gtids, own);
        let merged = resume_position(&slave, &foreign);
        if merged == resume_position(&slave, "") {
            return Ok(Applied {
                files: files.to_vec(),
                slave_pos: None,
            });
        }
        tracing::info!(
            "gtid_slave_pos {slave:?} -> {merged:?} (applied transactions of other servers)"
        );
        exec(
            &mut conn,
            &format!("SET GLOBAL gtid_slave_pos = {}", quote(&merged)),
        )
        .await?;
        Ok(Applied {
            files: files.to_vec(),
            slave_pos: Some(merged),
        })
    }
    .await;
    match result {
        Ok(a) => {
            server.shutdown().await?;
            Ok(a)
        }
        Err(e) => {
            server.kill().await;
            Err(e)
        }
    }
}

/// The binlog tools and how they run.
struct Tools<'a> {
    binlog: &'a Path,
    client: &'a Path,
    /// Where `mariadb-binlog` writes the files of LOAD DATA events (inside the data dir).
    local_load: &'a Path,
    /// Whether the client may read local files (only when the window has LOAD DATA events).
    local_infile: bool,
}

/// `mariadb-binlog ... | mariadb ...` into the temporary server; errors quote at most an
/// excerpt of what the tools said, the client's first (a failing client makes the reader die
/// of a broken pipe). Both are waited for together, so neither blocks on a full stderr pipe.
async fn pipe_events(
    s: &Settings,
    t: &Tools<'_>,
    server: &TempServer,
    position: u64,
    paths: &[PathBuf],
) -> Result<()> {
    let socket = server.endpoint.socket.clone();
    crate::cancel::or_cancelled(async move {
        let mut rcmd = tokio::process::Command::new(t.binlog);
        rcmd.arg("--no-defaults")
            .arg("--disable-log-bin")
            // The server writes GTIDs of several origins interleaved in one domain when
            // gtid_strict_mode is off (MariaDB's default); the tool would refuse them.
            .arg("--skip-gtid-strict-mode")
            .arg(format!("--local-load={}", t.local_load.display()))
            .arg(format!("--start-position={position}"))
            .args(paths)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        crate::procfs::no_secrets(&mut rcmd);
        let mut reader = rcmd.spawn().map_err(|e| Error::io("run", t.binlog, e))?;
        let events: Stdio = reader
            .stdout
            .take()
            .expect("piped")
            .try_into()
            .map_err(|e| Error::io("pipe", t.binlog, e))?;
        let mut cmd = tokio::process::Command::new(t.client);
        cmd.args([
            "--no-defaults",
            "--binary-mode",
            "--max-allowed-packet=1G",
            &format!("--local-infile={}", u8::from(t.local_infile)),
            &format!("--user={}", s.mysql_user),
        ])
        .arg(format!("--socket={}", socket.display()))
        .stdin(events)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env_remove("MYSQL_PWD");
        crate::procfs::no_secrets(&mut cmd);
        if let Some(p) = &s.root_password {
            cmd.env("MYSQL_PWD", p.expose());
        }
        let (out, rout) = tokio::join!(cmd.output(), reader.wait_with_output());
        let out = out.map_err(|e| Error::io("run", t.client, e))?;
        let rout = rout.map_err(|e| Error::io("run", t.binlog, e))?;
        if !out.status.success() {
            return Err(Error::Refused(format!(
                "applying binlog events failed ({}): {}",
                out.status,
                excerpt(String::from_utf8_lossy(&out.stderr).trim(), STDERR_EXCERPT)
            )));
        }
        if !rout.status.success() {
            return Err(Error::Refused(format!(
                "{} failed ({}): {}",
                t.binlog.display(),
                rout.status,
                excerpt(String::from_utf8_lossy(&rout.stderr).trim(), STDERR_EXCERPT)
            )));
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_cnf_paths_stay_in_the_target() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("backup-my.cnf"),
            "[mysqld]\ninnodb_checksum_algorithm=crc32\ninnodb_undo_directory=./\n\
             innodb_log_group_home_dir=/etc/x\ninnodb_buffer_pool_filename=/etc/passwd\n\
             plugin_load=file_key_management\n!include /etc/evil.cnf\n",
        )
        .unwrap();
        sanitize_backup_cnf(tmp.path()).unwrap();
        let c = MyCnf::load(&tmp.path().join("backup-my.cnf")).unwrap();
        assert_eq!(c.get("innodb_log_group_home_dir"), Some("./"));
        assert_eq!(c.get("innodb_undo_directory"), Some("./"));
        assert_eq!(c.get("innodb_buffer_pool_filename"), None);
        assert_eq!(c.get("innodb_checksum_algorithm"), Some("crc32"));
        assert_eq!(c.get("plugin_load"), None);
        assert!(c.includes().is_empty());
    }
}

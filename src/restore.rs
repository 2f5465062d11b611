//! The `restore` command: stream a stored backup straight into a new data dir, prepare it,
//! apply the binlog events that are in the backup's binlog but not in its data, and leave the
//! binlog in place. On any failure everything this restore created is removed; a data dir it
//! did not create is never touched (it must be empty or missing to begin with, or the
//! half-built dir of a killed restore, marked with [`INCOMPLETE_MARKER`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use crate::archive::manifest::BinlogCoords;
use crate::backup::{load_password, when_allows};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::mycnf::MyCnf;
use crate::mysql::server::TempServer;
use crate::mysql::{Endpoint, find_binary};
use crate::pipeline::fetch_stream;
use crate::sink::extract::{ExtractReport, Layout, Targets, extract};
use crate::source::fetch::locate;

/// What a restore did.
#[derive(Clone, Debug)]
pub struct RestoreReport {
    pub source: String,
    pub data_dir: PathBuf,
    pub layout: Layout,
    pub data_binlog: Option<BinlogCoords>,
    pub binlog_files_applied: Vec<String>,
    pub seconds: f64,
}

impl std::fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "restored: {}", self.source)?;
        writeln!(f, "data_dir: {}", self.data_dir.display())?;
        writeln!(f, "layout: {:?}", self.layout)?;
        if let Some(c) = &self.data_binlog {
            writeln!(
                f,
                "binlog applied from: {}:{} (gtid {})",
                c.file, c.position, c.gtid
            )?;
        }
        writeln!(
            f,
            "binlog files applied: {}",
            self.binlog_files_applied.join(",")
        )?;
        write!(f, "seconds: {:.1}", self.seconds)
    }
}

/// A file a restore puts in the data dir it builds and removes when it succeeded. A data dir
/// holding it is the half-built one of a restore that was killed (SIGKILL, a crash, a reboot:
/// nothing could clean up), which the next restore may replace.
pub const INCOMPLETE_MARKER: &str = "mysqlbackup-restore.incomplete";

/// Directories this restore created (removed on failure), a pre-existing empty data dir
/// (emptied on failure), and the markers to remove on success.
#[derive(Default, Debug)]
struct Created {
    dirs: Vec<PathBuf>,
    emptied: Vec<PathBuf>,
    markers: Vec<PathBuf>,
}

/// Whether `dir` has no entries.
fn is_empty_dir(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .next()
        .is_none())
}

/// Removes everything in `dir`, keeping `dir`.
fn empty_dir(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let r = if p.is_dir() && !p.is_symlink() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if let Err(err) = r {
                tracing::error!("could not remove {}: {err}", p.display());
            }
        }
    }
}

impl Created {
    /// Makes `dir` ready: it must be missing or empty (or, for the data dir, the half-built
    /// one of a killed restore, which is replaced). Records what to undo.
    fn claim(&mut self, dir: &Path, data_dir: bool) -> Result<()> {
        if dir.exists() {
            if data_dir && dir.join(INCOMPLETE_MARKER).exists() {
                recover_interrupted(dir)?;
            }
            let empty = is_empty_dir(dir)?;
            if !empty && data_dir {
                return Err(Error::Refused(format!(
                    "data dir {} is not empty: refusing to restore over it",
                    dir.display()
                )));
            }
            if empty && !self.emptied.iter().any(|d| d == dir) {
                self.emptied.push(dir.to_path_buf());
            }
        } else {
            let mut top = dir.to_path_buf();
            while let Some(parent) = top.parent() {
                if parent.as_os_str().is_empty() || parent.exists() {
                    break;
                }
                top = parent.to_path_buf();
            }
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            self.dirs.push(top);
        }
        if data_dir {
            let marker = dir.join(INCOMPLETE_MARKER);
            std::fs::write(
                &marker,
                "a mysqlbackup restore is building this data dir; if none runs, it was \
                 interrupted and the next restore replaces this dir\n",
            )
            .map_err(|e| Error::io("write", &marker, e))?;
            self.markers.push(marker);
        }
        Ok(())
    }

    fn undo(&self) {
        for d in &self.dirs {
            if let Err(e) = std::fs::remove_dir_all(d) {
                tracing::error!("could not remove {}: {e}", d.display());
            }
        }
        for d in &self.emptied {
            empty_dir(d);
        }
    }

    /// The restore succeeded: the data dir is no longer half-built.
    fn finish(&self) -> Result<()> {
        for m in &self.markers {
            std::fs::remove_file(m).map_err(|e| Error::io("remove", m, e))?;
        }
        Ok(())
    }
}

/// Replaces the half-built data dir of a killed restore: ends what that restore left running
/// on it (its temporary server, a prepare), then empties it. Runs under the instance lock, so
/// no live restore of this instance owns the dir.
fn recover_interrupted(dir: &Path) -> Result<()> {
    tracing::warn!(
        "{} is the half-built data dir of an interrupted restore: removing it",
        dir.display()
    );
    let args = [
        format!("--datadir={}", dir.display()),
        format!("--target-dir={}", dir.display()),
    ];
    for (sig, wait) in [
        ("TERM", std::time::Duration::from_secs(120)),
        ("KILL", std::time::Duration::from_secs(10)),
    ] {
        let pids = crate::procfs::pids_with_arg(&args);
        if pids.is_empty() {
            break;
        }
        for pid in &pids {
            tracing::warn!("ending process {pid} left on {} (SIG{sig})", dir.display());
            let _ = std::process::Command::new("kill")
                .args([&format!("-{sig}"), &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let started = std::time::Instant::now();
        while !crate::procfs::pids_with_arg(&args).is_empty() && started.elapsed() < wait {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    if let Some(pid) = crate::procfs::pids_with_arg(&args).first() {
        return Err(Error::Refused(format!(
            "process {pid} still runs on the half-built data dir {}",
            dir.display()
        )));
    }
    empty_dir(dir);
    Ok(())
}

/// Where the data and binlog go, given the backup's my.cnf.
fn targets_for(s: &Settings, cnf: Option<&MyCnf>) -> Targets {
    let data_dir = if s.data_dir_explicit {
        s.data_dir.clone()
    } else {
        cnf.and_then(MyCnf::datadir)
            .unwrap_or_else(|| s.data_dir.clone())
    };
    let binlog_dir = cnf
        .and_then(|c| c.get("log_bin").map(str::to_string))
        .filter(|v| v.starts_with('/'))
        .and_then(|v| Path::new(&v).parent().map(Path::to_path_buf))
        .unwrap_or_else(|| data_dir.clone());
    Targets {
        data_dir,
        binlog_dir,
    }
}

/// Runs a restore. Returns None when `--when` skipped it.
pub async fn restore(
    s: &Settings,
    key: Option<&str>,
    allow_other_port: bool,
) -> Result<Option<RestoreReport>> {
    if !when_allows(s).await {
        tracing::info!(
            "--when {:?} does not hold: nothing to do",
            s.when.expect("set")
        );
        return Ok(None);
    }
    let _lock = crate::lock::lock_instance(s, "restore")?;
    if Endpoint::from_settings(s).is_running().await {
        return Err(Error::Refused(format!(
            "the instance on port {} is running: stop it before restoring",
            s.port
        )));
    }
    Created::default().claim_check(&s.data_dir)?;
    let password = load_password(s)?;
    let located = locate(s, key).await?;
    tracing::info!("restoring {}", located.location);
    let started = std::time::Instant::now();
    let created = Arc::new(Mutex::new(Created::default()));

    let port = if allow_other_port { 0 } else { s.port };
    let result = restore_into(s, &located, password, port, created.clone())
        .await
        .and_then(|done| created.lock().expect("lock").finish().map(|()| done));
    match result {
        Ok((report, applied, coords)) => {
            if s.clean_after_restore
                && let Some(p) = located.local_path()
            {
                for f in [p.clone(), crate::sink::local::sidecar_path(p)] {
                    if let Err(e) = std::fs::remove_file(&f) {
                        tracing::warn!(
                            "--clean-after-restore: could not remove {}: {e}",
                            f.display()
                        );
                    }
                }
            }
            Ok(Some(RestoreReport {
                source: located.location.clone(),
                data_dir: report.targets.data_dir.clone(),
                layout: report.layout,
                data_binlog: coords,
                binlog_files_applied: applied,
                seconds: started.elapsed().as_secs_f64(),
            }))
        }
        Err(e) => {
            created.lock().expect("lock").undo();
            Err(e)
        }
    }
}

impl Created {
    /// Fails early, before any download, when the configured data dir holds anything (but the
    /// half-built dir of a killed restore, replaced at [`Created::claim`]).
    fn claim_check(&self, dir: &Path) -> Result<()> {
        if dir.exists() && !dir.join(INCOMPLETE_MARKER).exists() && !is_empty_dir(dir)? {
            return Err(Error::Refused(format!(
                "data dir {} is not empty: refusing to restore over it",
                dir.display()
            )));
        }
        Ok(())
    }
}

async fn restore_into(
    s: &Settings,
    located: &crate::source::fetch::Located,
    password: Vec<u8>,
    port: u16,
    created: Arc<Mutex<Created>>,
) -> Result<(ExtractReport, Vec<String>, Option<BinlogCoords>)> {
    let stream = located.open().await?;
    let settings = s.clone();
    let c2 = created.clone();
    let report = fetch_stream(
        stream,
        &located.sha1,
        &password,
        s.key_derivation,
        move |reader| {
            extract(reader, port, &mut |cnf| {
                let t = targets_for(&settings, cnf);
                let mut c = c2.lock().expect("lock");
                c.claim(&t.data_dir, true)?;
                if t.binlog_dir != t.data_dir {
                    c.claim(&t.binlog_dir, false)?;
                }
                Ok(t)
            })
        },
    )
    .await?;
    let data_dir = report.targets.data_dir.clone();
    tracing::info!(
        "extracted {} bytes into {}",
        report.bytes,
        data_dir.display()
    );

    // The instance's my.cnf: written where conf expects it if that is inside the data dir.
    let my_cnf_path = if s.my_cnf.starts_with(&s.data_dir) && !s.data_dir_explicit {
        data_dir.join(
            s.my_cnf
                .strip_prefix(&s.data_dir)
                .unwrap_or(Path::new("my.cnf")),
        )
    } else {
        s.my_cnf.clone()
    };
    if let Some(cnf) = &report.my_cnf
        && !my_cnf_path.exists()
    {
        std::fs::write(&my_cnf_path, cnf).map_err(|e| Error::io("write", &my_cnf_path, e))?;
    }

    let flavor_tools: &[&str] = match report.manifest.as_ref().map(|m| m.flavor.as_str()) {
        Some("mysql") => &["xtrabackup"],
        _ => &["mariabackup", "mariadb-backup", "xtrabackup"],
    };
    if report.layout == Layout::Streaming {
        prepare(s, flavor_tools, &data_dir).await?;
    }
    hand_over(&my_cnf_path, &data_dir, &report.targets.binlog_dir).await?;

    let coords = match report.manifest.as_ref().and_then(|m| m.data_binlog.clone()) {
        Some(c) => Some(c),
        None => std::fs::read_to_string(data_dir.join("xtrabackup_binlog_info"))
            .ok()
            .map(|t| BinlogCoords::parse_binlog_info(&t))
            .transpose()?,
    };
    let mut applied = Vec::new();
    if let Some(c) = &coords {
        let files: Vec<String> = report
            .binlog_files
            .iter()
            .filter(|f| f.as_str() >= c.file.as_str())
            .cloned()
            .collect();
        if files.first() != Some(&c.file) {
            return Err(Error::format(
                "archive",
                format!(
                    "the data backup stops in binlog {} but the archive's binlog holds {:?}",
                    c.file, report.binlog_files
                ),
            ));
        }
        apply_binlog(
            s,
            &my_cnf_path,
            &data_dir,
            &report.targets.binlog_dir,
            c,
            &files,
        )
        .await?;
        applied = files;
    } else {
        tracing::warn!("no binlog coordinates in the backup: no binlog applied");
    }
    Ok((report, applied, coords))
}

/// Run as root, extraction and prepare leave root's files; the server runs as my.cnf's `user`
/// (e.g. mysql) and could not open them. The data dir and binlog dir are wholly this restore's
/// (created, or found empty), so they are handed to that user, as the original tool did.
async fn hand_over(my_cnf: &Path, data_dir: &Path, binlog_dir: &Path) -> Result<()> {
    if !crate::procfs::running_as_root() {
        return Ok(());
    }
    let user = match MyCnf::load(my_cnf)
        .ok()
        .and_then(|c| c.get("user").map(str::to_string))
    {
        Some(u) if u != "root" => u,
        _ => return Ok(()),
    };
    let mut dirs = vec![data_dir];
    if !binlog_dir.starts_with(data_dir) {
        dirs.push(binlog_dir);
    }
    for dir in dirs {
        tracing::info!("handing {} to user {user}", dir.display());
        // chown(1) resolves the name through NSS (LDAP users too) and sets the user's group.
        let out = tokio::process::Command::new("chown")
            .args(["-R", "--no-dereference", &format!("{user}:")])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| Error::io("run", "chown", e))?;
        if !out.status.success() {
            return Err(Error::Refused(format!(
                "cannot hand {} to my.cnf user {user}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}

async fn prepare(s: &Settings, tools: &[&str], data_dir: &Path) -> Result<()> {
    let tool = match &s.backup_tool {
        Some(t) => t.clone(),
        None => find_binary(&s.mysql_base, tools).ok_or_else(|| {
            Error::Refused(format!("no {} found to prepare the data", tools.join("/")))
        })?,
    };
    tracing::info!("preparing {} with {}", data_dir.display(), tool.display());
    let mut cmd = tokio::process::Command::new(&tool);
    cmd.arg("--prepare")
        .arg(format!("--target-dir={}", data_dir.display()))
        .stdin(Stdio::null())
        .kill_on_drop(true);
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
            stderr_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(())
}

/// Starts the server read-only without binlog or replication on a private socket, pipes the
/// binlog events after `from` (mariadb-binlog --disable-log-bin) into it, and shuts it down.
async fn apply_binlog(
    s: &Settings,
    my_cnf: &Path,
    data_dir: &Path,
    binlog_dir: &Path,
    from: &BinlogCoords,
    files: &[String],
) -> Result<()> {
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
    let extra = [
        "--skip-log-bin",
        "--skip-slave-start",
        "--read-only",
        "--skip-networking",
    ]
    .map(String::from);
    let mut server = TempServer::start(
        &mariadbd,
        my_cnf.exists().then_some(my_cnf),
        data_dir,
        &extra,
        &s.mysql_user,
        s.root_password.clone(),
    )
    .await?;
    tracing::info!(
        "applying binlog from {}:{} ({} files)",
        from.file,
        from.position,
        files.len()
    );
    let socket = server.endpoint.socket.clone();
    let user = s.mysql_user.clone();
    let password = s.root_password.clone();
    let paths: Vec<PathBuf> = files.iter().map(|f| binlog_dir.join(f)).collect();
    let position = from.position;
    let applied = crate::cancel::or_cancelled(async move {
        let mut reader = tokio::process::Command::new(&binlog_tool)
            .arg("--no-defaults")
            .arg("--disable-log-bin")
            .arg(format!("--start-position={position}"))
            .args(&paths)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io("run", &binlog_tool, e))?;
        let events: Stdio = reader
            .stdout
            .take()
            .expect("piped")
            .try_into()
            .map_err(|e| Error::io("pipe", &binlog_tool, e))?;
        let mut cmd = tokio::process::Command::new(&client);
        cmd.args(["--no-defaults", "--binary-mode", &format!("--user={user}")])
            .arg(format!("--socket={}", socket.display()))
            .stdin(events)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env_remove("MYSQL_PWD");
        if let Some(p) = &password {
            cmd.env("MYSQL_PWD", p.expose());
        }
        let out = cmd
            .output()
            .await
            .map_err(|e| Error::io("run", &client, e))?;
        let rout = reader
            .wait_with_output()
            .await
            .map_err(|e| Error::io("run", &binlog_tool, e))?;
        if !rout.status.success() {
            return Err(Error::Refused(format!(
                "{} failed ({}): {}",
                binlog_tool.display(),
                rout.status,
                String::from_utf8_lossy(&rout.stderr).trim()
            )));
        }
        if !out.status.success() {
            return Err(Error::Refused(format!(
                "applying binlog events failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    })
    .await;
    if let Err(e) = applied {
        server.kill().await;
        return Err(e);
    }
    server.shutdown().await
}

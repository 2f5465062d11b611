//! The backup tool (`mariabackup`/`xtrabackup`) as a child process: its stdout is the
//! xbstream, its stderr is kept (the last lines) for error reports.
//!
//! The password, if any, reaches the child through the `MYSQL_PWD` environment variable,
//! never its argv (which `ps` shows to every user).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::secret::Secret;

pub mod series;

/// Lines of stderr kept for the error report.
const TAIL_LINES: usize = 25;

/// How to run the backup tool.
#[derive(Clone, Debug)]
pub struct BackupToolConfig {
    pub program: PathBuf,
    /// The instance's my.cnf, passed as `--defaults-file` so the tool finds the data dir.
    pub defaults_file: Option<PathBuf>,
    pub socket: PathBuf,
    pub user: String,
    pub password: Option<Secret>,
    /// The tool's own scratch dir (`--tmpdir`).
    pub tmpdir: Option<PathBuf>,
    /// Pass `--binlog-info=ON` (mariabackup): the binlog coordinates of the data are what
    /// restore applies from, so an option file's `binlog-info=OFF` must not drop them.
    pub force_binlog_info: bool,
}

impl BackupToolConfig {
    /// The argv (without the program), secrets excluded.
    pub fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(f) = &self.defaults_file {
            a.push(format!("--defaults-file={}", f.display()));
        }
        a.extend([
            "--backup".to_string(),
            "--stream=xbstream".to_string(),
            format!("--user={}", self.user),
            format!("--socket={}", self.socket.display()),
        ]);
        if let Some(t) = &self.tmpdir {
            a.push(format!("--tmpdir={}", t.display()));
        }
        if self.force_binlog_info {
            a.push("--binlog-info=ON".to_string());
        }
        a
    }

    /// Short name for messages.
    pub fn name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A running backup tool.
pub struct BackupTool {
    name: String,
    child: Child,
    stderr: JoinHandle<String>,
    group: ProcessGroup,
}

/// The tool's process group (it runs in its own): killed whole when this is dropped before
/// the tool exited, so that nothing it started (a wrapper script's children) is orphaned.
struct ProcessGroup {
    pgid: Option<u32>,
}

impl ProcessGroup {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // std has no killpg; kill(1) does it without unsafe code.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

impl BackupTool {
    /// Starts the tool; its stdout is returned to be read. The child is killed if this value is
    /// dropped before [`BackupTool::wait`].
    pub fn spawn(cfg: &BackupToolConfig) -> Result<(Self, ChildStdout)> {
        let mut cmd = Command::new(&cfg.program);
        cmd.args(cfg.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd.env_remove("MYSQL_PWD");
        for v in crate::config::SECRET_ENV {
            cmd.env_remove(v);
        }
        if let Some(p) = &cfg.password {
            cmd.env("MYSQL_PWD", p.expose());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io("start backup tool", &cfg.program, e))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let stderr = tokio::spawn(async move {
            let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            Vec::from(tail).join("\n")
        });
        Ok((
            BackupTool {
                name: cfg.name(),
                group: ProcessGroup { pgid: child.id() },
                child,
                stderr,
            },
            stdout,
        ))
    }

    /// Waits for the tool to exit; a non-zero exit or a signal is an error carrying the tail of
    /// its stderr. Returns that tail.
    pub async fn wait(mut self) -> Result<String> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| Error::io("wait for", Path::new(&self.name), e))?;
        // Whatever the tool left running would hold its stderr open.
        self.group.kill();
        let tail = self.stderr.await.unwrap_or_default();
        if status.success() {
            tracing::debug!(
                "{} finished: {}",
                self.name,
                tail.lines().last().unwrap_or("")
            );
            return Ok(tail);
        }
        Err(Error::BackupTool {
            tool: self.name,
            status: status.to_string(),
            stderr_tail: tail,
        })
    }

    /// Kills the tool and reaps it (used when the stream must stop early).
    pub async fn kill(mut self) -> String {
        self.group.kill();
        let _ = self.child.kill().await;
        self.stderr.await.unwrap_or_default()
    }
}

//! A server started by mysqlbackup itself (binlog apply, catch-up): private socket, no
//! networking unless asked, bounded waits, always stopped (killed on drop).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::Endpoint;
use super::mycnf::MyCnf;
use crate::config::Secret;
use crate::error::{Error, Result};

/// How long a server may take to start or to stop.
pub const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a clean shutdown may take before the server is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(300);

/// The server's error log named by `log-error` in its defaults file (relative to the data
/// dir), where a server that fails to start writes why.
fn error_log(cnf: Option<&MyCnf>, data_dir: &Path) -> Option<PathBuf> {
    let log = cnf?.get("log-error").filter(|l| !l.is_empty())?;
    Some(data_dir.join(log))
}

/// The stem of the pid file the instance itself uses. The server names its default relay logs
/// (and a bare `log-bin`) after it: `{stem}-relay-bin` in the data dir. A temporary server with
/// another stem would not find relay logs the instance made (and refuse to start with a channel
/// configured), and would leave relay logs the instance does not find. The pid file itself goes
/// in the data dir, so an instance pid-file in a directory that does not exist now (a /run dir
/// after reboot) does not stop the temporary server.
fn instance_pid_stem(cnf: Option<&MyCnf>) -> String {
    let named = cnf.and_then(|c| {
        c.pid_file().or_else(|| {
            c.get("log-basename")
                .filter(|b| !b.is_empty())
                .map(PathBuf::from)
        })
    });
    // Without either, the server uses its hostname with the last `.ext` replaced by `.pid`.
    let name = named.unwrap_or_else(|| PathBuf::from(crate::procfs::hostname()));
    name.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "mysql".into())
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A running server owned by mysqlbackup.
pub struct TempServer {
    child: Option<Child>,
    pub endpoint: Endpoint,
    pub data_dir: PathBuf,
}

impl TempServer {
    /// Starts `mariadbd` on `data_dir` with the instance's `defaults_file` (if any), a private
    /// socket in the data dir, and `extra` options; waits until it answers. The pid file's name
    /// (and so the default relay log name) stays the instance's own, so that replication state
    /// the instance made is found here, and state made here is found when it starts normally.
    pub async fn start(
        program: &Path,
        defaults_file: Option<&Path>,
        data_dir: &Path,
        extra: &[String],
        user: &str,
        password: Option<Secret>,
    ) -> Result<Self> {
        let socket = data_dir.join("mysqlbackup.sock");
        let cnf = defaults_file.and_then(|f| MyCnf::load(f).ok());
        let mut cmd = Command::new(program);
        if let Some(f) = defaults_file {
            cmd.arg(format!("--defaults-file={}", f.display()));
        } else {
            cmd.arg("--no-defaults");
        }
        cmd.arg(format!("--datadir={}", data_dir.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!(
                "--pid-file={}",
                data_dir
                    .join(format!("{}.pid", instance_pid_stem(cnf.as_ref())))
                    .display()
            ))
            .args(extra);
        if crate::procfs::running_as_root() && cnf.as_ref().and_then(|c| c.get("user")).is_none() {
            cmd.arg("--user=root");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| Error::io("start server", program, e))?;
        let mut server = TempServer {
            child: Some(child),
            endpoint: Endpoint {
                socket,
                user: user.to_string(),
                password,
            },
            data_dir: data_dir.to_path_buf(),
        };
        let started = Instant::now();
        loop {
            if crate::cancel::check().is_err() {
                server.kill().await;
                return Err(Error::Interrupted);
            }
            if server.endpoint.is_running().await && server.endpoint.connect().await.is_ok() {
                return Ok(server);
            }
            let child = server.child.as_mut().expect("running");
            if let Some(status) = child
                .try_wait()
                .map_err(|e| Error::io("wait for server", program, e))?
            {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err).await;
                }
                if let Some(log) = error_log(cnf.as_ref(), data_dir) {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    err.push_str(&format!("\n(from {}:)\n{text}", log.display()));
                }
                return Err(Error::Refused(format!(
                    "server on {} exited ({status}) while starting:\n{}",
                    data_dir.display(),
                    last_lines(&err, 15)
                )));
            }
            if started.elapsed() > START_TIMEOUT {
                server.kill().await;
                return Err(Error::Refused(format!(
                    "server on {} not ready after {START_TIMEOUT:?}",
                    data_dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Shuts the server down cleanly (SHUTDOWN), killing it after [`STOP_TIMEOUT`].
    pub async fn shutdown(mut self) -> Result<()> {
        if let Ok(mut conn) = self.endpoint.connect().await {
            let _ = conn.query_drop("SHUTDOWN").await;
        }
        let mut child = self.child.take().expect("running");
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(Error::Refused(format!(
                "server on {} exited with {status} at shutdown",
                self.data_dir.display()
            ))),
            Ok(Err(e)) => Err(Error::io("wait for server", &self.data_dir, e)),
            Err(_) => {
                let _ = child.kill().await;
                Err(Error::Refused(format!(
                    "server on {} did not stop within {STOP_TIMEOUT:?}; killed",
                    self.data_dir.display()
                )))
            }
        }
    }

    /// Kills the server (failure paths).
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem_for(cnf: &str) -> String {
        instance_pid_stem(Some(&MyCnf::parse(cnf)))
    }

    #[test]
    fn the_pid_stem_is_the_instances_own() {
        assert_eq!(
            stem_for("[mysqld]\npid-file=/run/mysqld/mysqld.pid\n"),
            "mysqld"
        );
        assert_eq!(stem_for("[mysqld]\nlog-basename=db7\n"), "db7");
        let host = crate::procfs::hostname();
        let expected = Path::new(&host).file_stem().unwrap().to_string_lossy();
        assert_eq!(stem_for("[mysqld]\nport=3306\n"), expected);
        assert_eq!(instance_pid_stem(None), expected);
    }
}

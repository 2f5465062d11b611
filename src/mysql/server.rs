//! A server started by mysqlbackup itself (binlog apply, catch-up) from a generated
//! configuration: private socket, no networking, bounded waits, always stopped (killed on
//! drop).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tokio::process::{Child, Command};

use super::Endpoint;
use super::server_config::ServerConfig;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// How long a server may take to start or to stop.
pub const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a clean shutdown may take before the server is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(300);

/// The last `n` lines of `text`, each cut to 300 characters.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| crate::error::excerpt(l, 300))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A running server owned by mysqlbackup.
pub struct TempServer {
    child: Option<Child>,
    pub endpoint: Endpoint,
    pub data_dir: PathBuf,
    tmp_dir: PathBuf,
}

/// A plugin name or library file name as a server accepts them (no path, no option syntax).
fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !s.starts_with(['.', '-'])
}

impl TempServer {
    /// Starts `mariadbd` with a generated configuration (see [`ServerConfig`]): private
    /// socket, pid file and error log in the data dir, a private tmpdir; waits until it
    /// answers. Its stdout and stderr go nowhere: everything it says is in its error log.
    ///
    /// A server without grant tables (`--skip-grant-tables`) also skips the plugins installed
    /// with INSTALL PLUGIN/SONAME (the `mysql.plugin` table), which the instance's own start
    /// loads: a table of such an engine would not open. So such a server, once up, reads
    /// `mysql.plugin`, and when a plugin there is not loaded it is started again with
    /// `--plugin-load-add` for each (libraries from the server's own plugin dir only).
    pub async fn start(
        program: &Path,
        config: &ServerConfig,
        user: &str,
        password: Option<Secret>,
    ) -> Result<Self> {
        let server = Self::start_once(program, config, user, password.clone()).await?;
        if !config.args.iter().any(|a| a == "--skip-grant-tables") {
            return Ok(server);
        }
        let sql = "SELECT p.name, p.dl FROM mysql.plugin p LEFT JOIN information_schema.plugins i \
                   ON i.plugin_name = p.name WHERE i.plugin_name IS NULL";
        let missing: Result<Vec<(String, String)>> = async {
            let mut conn = server.endpoint.connect().await?;
            conn.query(sql).await.map_err(|e| Error::mysql(sql, e))
        }
        .await;
        let missing = match missing {
            Ok(m) => m,
            Err(e) => {
                let mut server = server;
                server.kill().await;
                return Err(e);
            }
        };
        let mut extra = Vec::new();
        for (name, dl) in missing {
            if plain_name(&name) && plain_name(&dl) {
                extra.push(format!("--plugin-load-add={name}={dl}"));
            } else {
                tracing::warn!("mysql.plugin names {name:?} in {dl:?}: not loaded");
            }
        }
        if extra.is_empty() {
            return Ok(server);
        }
        tracing::info!(
            "restarting the temporary server with the installed plugins: {}",
            extra.join(" ")
        );
        server.shutdown().await?;
        let mut config = config.clone();
        config.args.extend(extra);
        Self::start_once(program, &config, user, password).await
    }

    async fn start_once(
        program: &Path,
        config: &ServerConfig,
        user: &str,
        password: Option<Secret>,
    ) -> Result<Self> {
        let data_dir = config.data_dir.as_path();
        for o in &config.left_out {
            tracing::info!("temporary server: my.cnf option {o} left out");
        }
        for o in &config.outside {
            tracing::warn!(
                "temporary server: my.cnf option {o} left out: it points outside the target dirs"
            );
        }
        std::fs::create_dir_all(&config.tmp_dir)
            .map_err(|e| Error::io("create directory", &config.tmp_dir, e))?;
        // The server runs as the data dir's owner (my.cnf `user`), who must write its tmpdir.
        let owner = std::fs::metadata(data_dir).map_err(|e| Error::io("stat", data_dir, e))?;
        std::os::unix::fs::chown(
            &config.tmp_dir,
            Some(std::os::unix::fs::MetadataExt::uid(&owner)),
            Some(std::os::unix::fs::MetadataExt::gid(&owner)),
        )
        .map_err(|e| Error::io("chown", &config.tmp_dir, e))?;
        let socket = data_dir.join("mysqlbackup.sock");
        let error_log = data_dir.join("mysqlbackup-server.err");
        let mut cmd = Command::new(program);
        cmd.args(&config.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for v in crate::config::SECRET_ENV {
            cmd.env_remove(v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::io("start server", program, e))?;
        let mut server = TempServer {
            child: Some(child),
            endpoint: Endpoint {
                socket,
                user: user.to_string(),
                password,
                label: "the temporary server".into(),
                temporary: true,
            },
            data_dir: data_dir.to_path_buf(),
            tmp_dir: config.tmp_dir.clone(),
        };
        let started = Instant::now();
        loop {
            if crate::cancel::check().is_err() {
                server.kill().await;
                return Err(Error::Interrupted);
            }
            if server.endpoint.is_running().await {
                match server.endpoint.connect().await {
                    Ok(_) => return Ok(server),
                    // A refused login is refused on every attempt: say so at once.
                    Err(Error::Mysql {
                        source: mysql_async::Error::Server(e),
                        ..
                    }) if matches!(e.code, 1044 | 1045 | 1698) => {
                        server.kill().await;
                        return Err(Error::Failed(format!(
                            "the temporary server on {} refused the login of {}: {}",
                            data_dir.display(),
                            user,
                            e.message
                        )));
                    }
                    Err(_) => {}
                }
            }
            let child = server.child.as_mut().expect("running");
            if let Some(status) = child
                .try_wait()
                .map_err(|e| Error::io("wait for server", program, e))?
            {
                let text = std::fs::read_to_string(&error_log).unwrap_or_default();
                let err = format!("(from {}:)\n{text}", error_log.display());
                return Err(Error::Failed(format!(
                    "server on {} exited ({status}) while starting:\n{}",
                    data_dir.display(),
                    last_lines(&err, 15)
                )));
            }
            if started.elapsed() > START_TIMEOUT {
                server.kill().await;
                return Err(Error::Failed(format!(
                    "server on {} not ready after {START_TIMEOUT:?}",
                    data_dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Shuts the server down cleanly (SHUTDOWN), killing it after [`STOP_TIMEOUT`].
    pub async fn shutdown(mut self) -> Result<()> {
        let mut child = self.child.take().expect("running");
        let asked = match self.endpoint.connect().await {
            Ok(mut conn) => conn.query_drop("SHUTDOWN").await.is_ok(),
            Err(_) => false,
        };
        // SIGTERM shuts a server down as cleanly (our login may no longer be accepted, or may
        // lack SHUTDOWN, once a server started without grant tables has loaded them).
        if !asked && let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let waited = tokio::time::timeout(STOP_TIMEOUT, child.wait()).await;
        self.remove_tmp_dir();
        match waited {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(Error::Failed(format!(
                "server on {} exited with {status} at shutdown",
                self.data_dir.display()
            ))),
            Ok(Err(e)) => Err(Error::io("wait for server", &self.data_dir, e)),
            Err(_) => {
                let _ = child.kill().await;
                Err(Error::Failed(format!(
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
        self.remove_tmp_dir();
    }

    /// Removes the private tmpdir (it sits in the data dir, where a server would list it as a
    /// database).
    fn remove_tmp_dir(&self) {
        if let Err(e) = std::fs::remove_dir_all(&self.tmp_dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("could not remove {}: {e}", self.tmp_dir.display());
        }
    }
}

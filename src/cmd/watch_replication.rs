//! `watch-replication`: the state of every replication channel of the instance, one row per
//! channel, refreshed in place until Ctrl-C, or one snapshot (`--once`) whose exit code says
//! whether every channel runs: the successor of the original tool's `watch-slave.sh`.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::Endpoint;
use crate::mysql::replication::{ChannelStatus, status};

/// One channel's row.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelRow {
    /// The channel's name ("" for MariaDB's default connection).
    pub name: String,
    /// `host:port` of its source.
    pub source: String,
    pub io_running: String,
    pub sql_running: String,
    /// Seconds behind its source (none while the SQL thread is stopped or not connected).
    pub seconds_behind: Option<u64>,
    /// What the instance has executed (MariaDB `gtid_slave_pos`, MySQL `Executed_Gtid_Set`).
    pub gtid_position: String,
    /// The last IO or SQL thread error, "" when none.
    pub last_error: String,
    /// Both threads run and no error is reported.
    pub ok: bool,
}

impl ChannelRow {
    fn of(c: &ChannelStatus) -> Self {
        let last_error = [&c.last_sql_error, &c.last_io_error]
            .into_iter()
            .find(|e| !e.is_empty())
            .cloned()
            .unwrap_or_default();
        ChannelRow {
            name: c.name.clone(),
            source: c.master.clone(),
            io_running: c.io_running.clone(),
            sql_running: c.sql_running.clone(),
            seconds_behind: c.seconds_behind,
            gtid_position: c.executed.to_string(),
            ok: c.running() && last_error.is_empty(),
            last_error,
        }
    }
}

/// A snapshot of every channel of the instance.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub port: u16,
    /// When it was read, RFC 3339 UTC.
    pub at: String,
    pub channels: Vec<ChannelRow>,
}

impl Snapshot {
    /// Every channel runs without error (true when there is none).
    pub fn healthy(&self) -> bool {
        self.channels.iter().all(|c| c.ok)
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.channels.is_empty() {
            return write!(
                f,
                "port {} at {}: no replication channel (not a replica)",
                self.port, self.at
            );
        }
        writeln!(f, "port {} at {}", self.port, self.at)?;
        let rows: Vec<[String; 7]> = self
            .channels
            .iter()
            .map(|c| {
                [
                    if c.name.is_empty() {
                        "(default)".into()
                    } else {
                        c.name.clone()
                    },
                    c.source.clone(),
                    c.io_running.clone(),
                    c.sql_running.clone(),
                    c.seconds_behind
                        .map(|s| format!("{s}s"))
                        .unwrap_or_else(|| "-".into()),
                    if c.gtid_position.is_empty() {
                        "-".into()
                    } else {
                        c.gtid_position.clone()
                    },
                    if c.last_error.is_empty() {
                        "-".into()
                    } else {
                        c.last_error.clone()
                    },
                ]
            })
            .collect();
        let head = [
            "CHANNEL",
            "SOURCE",
            "IO",
            "SQL",
            "BEHIND",
            "GTID",
            "LAST ERROR",
        ];
        let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r.iter()).take(6) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i < 6 {
                        format!("{c:<w$}", w = widths[i])
                    } else {
                        c.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        write!(f, "{}", line(head.to_vec()))?;
        for r in &rows {
            write!(f, "\n{}", line(r.iter().map(String::as_str).collect()))?;
        }
        Ok(())
    }
}

/// Reads one snapshot.
pub async fn snapshot(s: &Settings) -> Result<Snapshot> {
    let mut conn = Endpoint::from_settings(s).connect().await?;
    let info = crate::mysql::server_info(&mut conn).await?;
    let channels = status(&mut conn, info.kind.dialect().as_ref()).await?;
    let _ = conn.disconnect().await;
    let mut channels: Vec<ChannelRow> = channels.iter().map(ChannelRow::of).collect();
    channels.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Snapshot {
        port: s.port,
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        channels,
    })
}

/// Prints a snapshot every `interval` until Ctrl-C: on a terminal in place (the screen
/// redrawn), otherwise one after another (`json`: one JSON document per line).
pub async fn watch(s: &Settings, interval: Duration, json: bool) -> Result<()> {
    let tty = std::io::stdout().is_terminal();
    loop {
        let snap = tokio::select! {
            r = snapshot(s) => r,
            _ = crate::cancel::cancelled() => return Ok(()),
        };
        let text = match snap {
            Ok(snap) if json => {
                serde_json::to_string(&snap).map_err(|e| Error::stage("json", e.to_string()))?
            }
            Ok(snap) => snap.to_string(),
            // A server restarting is worth watching through: say so and keep going.
            Err(e) if json => serde_json::json!({
                "port": s.port,
                "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "error": crate::error::report_lines(&e).join(": "),
            })
            .to_string(),
            Err(e) => format!("port {}: {e}", s.port),
        };
        let mut out = std::io::stdout().lock();
        let written = if tty && !json {
            write!(
                out,
                "\x1b[H\x1b[2J{text}\n(every {}s; Ctrl-C ends)\n",
                interval.as_secs_f64()
            )
        } else {
            writeln!(out, "{text}")
        };
        written
            .and_then(|_| out.flush())
            .map_err(|e| Error::io("write", "stdout", e))?;
        drop(out);
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = crate::cancel::cancelled() => return Ok(()),
        }
    }
}

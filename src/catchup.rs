//! `catchup_binlog` and `setup_replication`.
//!
//! catchup_binlog starts the restored (stopped) instance under its temporary server-id, so that
//! peers' copies of events this instance originated before it died are applied, not skipped as
//! its own; resets relay logs and slave state, starts every channel explicitly, waits until each
//! is < 1 s behind, stops replication and shuts down. The data dir then starts normally with its
//! real server-id (from my.cnf) and its channels, which resume from its GTID position.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::backup::when_allows;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::replication::{self, Dialect};
use crate::mysql::server::TempServer;
use crate::mysql::{Endpoint, Flavor, exec, find_binary};

fn flavor_of_install(s: &Settings) -> Flavor {
    if find_binary(&s.mysql_base, &["mariadbd"]).is_some() {
        Flavor::MariaDb
    } else {
        Flavor::MySql
    }
}

/// Catches the stopped instance up from its peers. Returns None when `--when` skipped it.
pub async fn catchup(s: &Settings) -> Result<Option<String>> {
    if !when_allows(s).await {
        return Ok(None);
    }
    let _lock = crate::lock::lock_instance(s, "catch up")?;
    if Endpoint::from_settings(s).is_running().await {
        return Err(Error::Refused(format!(
            "the instance on port {} is running: catchup_binlog needs it stopped",
            s.port
        )));
    }
    if !s.data_dir.is_dir() {
        return Err(Error::Refused(format!(
            "no data dir at {}: restore first",
            s.data_dir.display()
        )));
    }
    let flavor = flavor_of_install(s);
    if flavor == Flavor::MySql {
        // A fresh server_uuid, so that peers' copies of our own old events are accepted.
        let auto = s.data_dir.join("auto.cnf");
        if auto.exists() {
            std::fs::remove_file(&auto).map_err(|e| Error::io("remove", &auto, e))?;
        }
    }
    let program = find_binary(&s.mysql_base, &["mariadbd", "mysqld"]).ok_or_else(|| {
        Error::Refused(format!(
            "no mariadbd/mysqld under {} or on PATH",
            s.mysql_base.display()
        ))
    })?;
    let extra = vec![
        format!("--server-id={}", s.temp_server_id),
        "--skip-slave-start".to_string(),
        "--read-only".to_string(),
        "--skip-networking".to_string(),
    ];
    tracing::info!(
        "starting {} with temporary server-id {}",
        s.data_dir.display(),
        s.temp_server_id
    );
    let server = TempServer::start(
        &program,
        s.my_cnf.exists().then_some(s.my_cnf.as_path()),
        &s.data_dir,
        &extra,
        &s.mysql_user,
        s.root_password.clone(),
    )
    .await?;
    let result = run_catchup(s, &server.endpoint, Dialect(flavor)).await;
    match result {
        Ok(summary) => {
            server.shutdown().await?;
            Ok(Some(summary))
        }
        Err(e) => {
            if let Ok(mut c) = server.endpoint.connect().await {
                let _ = exec(&mut c, Dialect(flavor).stop_all()).await;
            }
            let _ = server.shutdown().await;
            Err(e)
        }
    }
}

async fn run_catchup(s: &Settings, endpoint: &Endpoint, d: Dialect) -> Result<String> {
    let mut conn = endpoint.connect().await?;
    exec(&mut conn, d.stop_all()).await?;
    let channels = if s.replication.source.is_empty() {
        replication::status(&mut conn, d)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect()
    } else {
        replication::setup_channels(&mut conn, d, &s.replication).await?
    };
    if channels.is_empty() {
        return Err(Error::Refused(
            "no replication channel: set `replication.source` in conf or run setup_replication"
                .into(),
        ));
    }
    for ch in &channels {
        exec(&mut conn, &d.reset(ch)).await?;
    }
    if d.0 == Flavor::MariaDb {
        // Ask peers for exactly what the data lacks: per domain, from the later of the binlog's
        // end (our own events, which under the temporary server-id are not "ours") and the
        // slave position (what replication applied, absent from the binlog without
        // log_slave_updates).
        let (binlog, slave): (Option<String>, Option<String>) = conn
            .query_first("SELECT @@gtid_binlog_pos, @@gtid_slave_pos")
            .await
            .map_err(|e| Error::mysql("SELECT @@gtid_binlog_pos, @@gtid_slave_pos", e))?
            .unwrap_or_default();
        let resume = replication::resume_position(
            binlog.as_deref().unwrap_or(""),
            slave.as_deref().unwrap_or(""),
        );
        tracing::info!("resuming from gtid {resume}");
        exec(
            &mut conn,
            &format!(
                "SET GLOBAL gtid_slave_pos = {}",
                replication::quote(&resume)
            ),
        )
        .await?;
    }
    replication::start_channels(&mut conn, d, &channels).await?;
    let timeout = Duration::from_secs(s.replication.catchup_timeout.unwrap_or(3600));
    let st = replication::wait_caught_up(&mut conn, d, timeout).await?;
    // Stopped, not reset: MariaDB's RESET SLAVE deletes master-{channel}.info, so the
    // instance would start with channels that have no host or user. The relay logs carry the
    // instance's own names (see TempServer) and everything in them was executed.
    exec(&mut conn, d.stop_all()).await?;
    let gtid: Option<String> = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .ok()
        .flatten();
    Ok(format!(
        "caught up from: {}\ngtid_binlog_pos: {}",
        st.iter()
            .map(|c| format!("{} ({})", c.name, c.master))
            .collect::<Vec<_>>()
            .join(", "),
        gtid.unwrap_or_default()
    ))
}

/// (Re)creates the channels from conf on the running instance and starts each.
pub async fn setup_replication(s: &Settings) -> Result<Option<String>> {
    if !when_allows(s).await {
        return Ok(None);
    }
    let endpoint = Endpoint::from_settings(s);
    let mut conn = endpoint.connect().await?;
    let info = crate::mysql::server_info(&mut conn).await?;
    let d = Dialect(info.flavor);
    if s.replication.source.is_empty() {
        return Err(Error::Config("`replication.source` lists no peer".into()));
    }
    let channels = replication::setup_channels(&mut conn, d, &s.replication).await?;
    replication::start_channels(&mut conn, d, &channels).await?;
    let states = replication::wait_running(&mut conn, d, SETUP_WAIT).await?;
    let _ = conn.disconnect().await;
    let mut report = format!("channels started: {}", channels.join(", "));
    for c in &states {
        report.push_str(&format!("\n{}", c.line()));
        if !c.running() {
            report.push_str(&format!(
                " (not connected after {}s; it keeps retrying every {}s)",
                SETUP_WAIT.as_secs(),
                s.replication.connect_retry.unwrap_or(10)
            ));
        }
    }
    Ok(Some(report))
}

/// How long setup_replication waits for its channels to connect before reporting their state.
const SETUP_WAIT: Duration = Duration::from_secs(15);

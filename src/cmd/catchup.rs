//! `catchup_binlog`: starts the restored (stopped) instance under its temporary server-id, so that
//! peers' copies of events this instance originated before it died are applied, not skipped as
//! its own; resets relay logs and slave state, starts every channel explicitly, reads every
//! peer's GTID position, and waits until the instance has applied all of it and each channel is
//! < 1 s behind; then stops replication and shuts down. The data dir then starts normally with
//! its real server-id (from my.cnf) and its channels, which resume from its GTID position.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::when_allows;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::mycnf::MyCnf;
use crate::mysql::replication::{self, Dialect, channel_name};

mod peers;
use crate::mysql::server::TempServer;
use crate::mysql::server_config::{Dirs, Purpose, ServerConfig};
use crate::mysql::{Endpoint, Flavor, exec, find_binary};
use peers::Channel;

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
    let temp_id = s.checked_temp_server_id()?;
    let _lock = crate::lock::lock_instance(s, "catch up")?;
    super::refuse_half_built(s, "catchup_binlog")?;
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
    let cnf = if s.my_cnf.exists() {
        Some(MyCnf::load(&s.my_cnf)?)
    } else {
        None
    };
    let config = ServerConfig::generate(
        cnf.as_ref(),
        &Dirs {
            data_dir: s.data_dir.clone(),
            binlog_dir: s.binlog_dir.clone(),
        },
        Purpose::Catchup { server_id: temp_id },
        &s.server_options,
        crate::mysql::server_config::run_as_owner_of(&s.data_dir)?.as_deref(),
    )?;
    tracing::info!(
        "starting {} with temporary server-id {temp_id}",
        s.data_dir.display()
    );
    let server =
        TempServer::start(&program, &config, &s.mysql_user, s.root_password.clone()).await?;
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
    // The server started without grant tables: this session has every privilege whatever the
    // backup user's grants, and keeps them once the tables are loaded for replicated account
    // statements (GRANT, CREATE USER) to apply. LOCAL: not written to the binlog, where it
    // would be a transaction of the temporary server-id.
    exec(&mut conn, "FLUSH LOCAL PRIVILEGES").await?;
    exec(&mut conn, d.stop_all()).await?;
    let channels: Vec<Channel> = if s.replication.source.is_empty() {
        replication::status(&mut conn, d)
            .await?
            .into_iter()
            .map(|c| Channel {
                name: c.name,
                host: c.host,
                port: c.port,
                ignore_domains: c.ignore_domains,
                do_domains: c.do_domains,
            })
            .collect()
    } else {
        replication::setup_channels(&mut conn, d, &s.replication).await?;
        s.replication
            .source
            .iter()
            .map(|p| Channel {
                name: channel_name(p),
                host: p.host.clone(),
                port: p.port,
                ignore_domains: Vec::new(),
                do_domains: Vec::new(),
            })
            .collect()
    };
    if channels.is_empty() {
        return Err(Error::Refused(
            "no replication channel: set `replication.source` in conf or run setup_replication"
                .into(),
        ));
    }
    // The domain filters of every channel, however it was made.
    let states = replication::status(&mut conn, d).await?;
    let mut channels = channels;
    for ch in &mut channels {
        if let Some(st) = states
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&ch.name))
        {
            ch.ignore_domains = st.ignore_domains.clone();
            ch.do_domains = st.do_domains.clone();
        }
    }
    let mut have = String::new();
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
        have = resume.clone();
    }
    // The peers are read before RESET SLAVE, which deletes the master info files that may
    // hold the account to read them with.
    let probe = peers::probe(s, d, &channels, &have).await?;
    for ch in &channels {
        exec(&mut conn, &d.reset(&ch.name)).await?;
    }
    if d.0 == Flavor::MariaDb {
        let resume = &have;
        exec(
            &mut conn,
            &format!("SET GLOBAL gtid_slave_pos = {}", replication::quote(resume)),
        )
        .await?;
    }
    replication::start_channels(&mut conn, d, &probe.reachable).await?;
    let target = probe.target;
    let timeout = Duration::from_secs(s.replication.catchup_timeout.unwrap_or(3600));
    let st = replication::wait_caught_up(&mut conn, d, &probe.reachable, &target, timeout).await?;
    // Stopped, not reset: MariaDB's RESET SLAVE deletes master-{channel}.info, so the
    // instance would start with channels that have no host or user. The relay logs carry the
    // instance's own names (see ServerConfig) and everything in them was executed.
    exec(&mut conn, d.stop_all()).await?;
    let gtid: Option<String> = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .ok()
        .flatten();
    let mut report = format!(
        "caught up from: {}\npeers' position reached: {target}\ngtid_binlog_pos: {}",
        st.iter()
            .map(|c| format!("{} ({})", c.name, c.master))
            .collect::<Vec<_>>()
            .join(", "),
        gtid.unwrap_or_default()
    );
    for u in &probe.unreachable {
        report.push_str(&format!("\nunreachable, not caught up from: {u}"));
    }
    Ok(report)
}

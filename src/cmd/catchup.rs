//! `catchup_binlog`: starts the restored (stopped) instance under its temporary server-id, so that
//! peers' copies of events this instance originated before it died are applied, not skipped as
//! its own; resets relay logs and slave state, starts every channel explicitly, reads every
//! peer's GTID position, and waits until the instance has applied all of it and each channel is
//! < 1 s behind; then stops replication and shuts down. The data dir then starts normally with
//! its real server-id (from my.cnf) and its channels, which resume from its GTID position.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::when_allows;
use crate::config::{Secret, Settings};
use crate::error::{Error, Result};
use crate::mysql::mycnf::MyCnf;
use crate::mysql::replication::{self, Dialect, channel_name, connect_peer};
use crate::mysql::server::TempServer;
use crate::mysql::server_config::{Dirs, Purpose, ServerConfig};
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
    let temp_id = s.checked_temp_server_id()?;
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

/// A channel and the peer it reads from.
struct Channel {
    name: String,
    host: String,
    port: u16,
    /// The domains it ignores, or keeps alone (its peer's other domains never arrive).
    ignore_domains: Vec<u32>,
    do_domains: Vec<u32>,
}

/// The account to read a peer's position with: conf `replication`, else the channel's own
/// (its master info file in the data dir).
fn peer_account(s: &Settings, ch: &Channel) -> Result<(String, Secret)> {
    if let Some(user) = &s.replication.user {
        return Ok((
            user.clone(),
            s.replication.password.clone().unwrap_or_default(),
        ));
    }
    replication::master_info_credentials(&s.data_dir, &ch.name).ok_or_else(|| {
        Error::Config(format!(
            "to read the position of peer {}:{} (channel {}), set `replication.user` and \
             `replication.password` in conf",
            ch.host, ch.port, ch.name
        ))
    })
}

/// Every peer's GTID position now, merged per domain (MariaDB), or their executed GTID sets
/// joined (MySQL): what the instance must have applied to be caught up. A peer that cannot be
/// read fails at once, naming its channel.
async fn peers_position(s: &Settings, d: Dialect, channels: &[Channel]) -> Result<String> {
    let sql = match d.0 {
        Flavor::MariaDb => "SELECT @@GLOBAL.gtid_binlog_pos",
        Flavor::MySql => "SELECT @@GLOBAL.gtid_executed",
    };
    let mut merged = String::new();
    for ch in channels {
        let (user, password) = peer_account(s, ch)?;
        let named = |e: Error| {
            Error::Refused(format!(
                "channel {} ({}:{}): cannot read the peer's position: {e}",
                ch.name, ch.host, ch.port
            ))
        };
        let mut conn = connect_peer(&ch.host, ch.port, &user, password.expose())
            .await
            .map_err(named)?;
        let pos: Option<Option<String>> = conn
            .query_first(sql)
            .await
            .map_err(|e| named(Error::mysql(sql, e)))?;
        let _ = conn.disconnect().await;
        let mut pos = pos.flatten().unwrap_or_default().replace('\n', "");
        if d.0 == Flavor::MariaDb {
            pos = replication::replicated_domains(&pos, &ch.ignore_domains, &ch.do_domains);
        }
        tracing::info!(
            "peer {}:{} (channel {}) is at {pos}",
            ch.host,
            ch.port,
            ch.name
        );
        merged = match d.0 {
            Flavor::MariaDb => replication::resume_position(&merged, &pos),
            Flavor::MySql if merged.is_empty() => pos,
            Flavor::MySql if pos.is_empty() => merged,
            Flavor::MySql => format!("{merged},{pos}"),
        };
    }
    Ok(merged)
}

async fn run_catchup(s: &Settings, endpoint: &Endpoint, d: Dialect) -> Result<String> {
    let mut conn = endpoint.connect().await?;
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
    let names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
    for ch in &names {
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
    replication::start_channels(&mut conn, d, &names).await?;
    let target = peers_position(s, d, &channels).await?;
    let timeout = Duration::from_secs(s.replication.catchup_timeout.unwrap_or(3600));
    let st = replication::wait_caught_up(&mut conn, d, &target, timeout).await?;
    // Stopped, not reset: MariaDB's RESET SLAVE deletes master-{channel}.info, so the
    // instance would start with channels that have no host or user. The relay logs carry the
    // instance's own names (see ServerConfig) and everything in them was executed.
    exec(&mut conn, d.stop_all()).await?;
    let gtid: Option<String> = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .ok()
        .flatten();
    Ok(format!(
        "caught up from: {}\npeers' position reached: {target}\ngtid_binlog_pos: {}",
        st.iter()
            .map(|c| format!("{} ({})", c.name, c.master))
            .collect::<Vec<_>>()
            .join(", "),
        gtid.unwrap_or_default()
    ))
}

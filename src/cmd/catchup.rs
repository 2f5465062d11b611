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
use crate::mysql::gtid::{Gtid, GtidSet, Position};
use crate::mysql::mycnf::MyCnf;
use crate::mysql::replication::{self, Dialect, ServerKind, channel_name};

mod peers;
use crate::mysql::server::TempServer;
use crate::mysql::server_config::{Dirs, Purpose, ServerConfig};
use crate::mysql::{Endpoint, Flavor, exec, find_binary};
use peers::Channel;

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
    let program = find_binary(&s.mysql_base, &["mariadbd", "mysqld"]).ok_or_else(|| {
        Error::Refused(format!(
            "no mariadbd/mysqld under {} or on PATH",
            s.mysql_base.display()
        ))
    })?;
    let kind = ServerKind::of_binary(&program).await?;
    let d = kind.dialect();
    if kind.flavor == Flavor::MySql {
        // A fresh server_uuid, so that peers' copies of our own old events are accepted.
        let auto = s.data_dir.join("auto.cnf");
        if auto.exists() {
            std::fs::remove_file(&auto).map_err(|e| Error::io("remove", &auto, e))?;
        }
    }
    let cnf = if s.my_cnf.exists() {
        Some(MyCnf::load(&s.my_cnf)?)
    } else {
        None
    };
    let mut config = ServerConfig::generate(
        cnf.as_ref(),
        &Dirs {
            data_dir: s.data_dir.clone(),
            binlog_dir: s.binlog_dir.clone(),
        },
        Purpose::Catchup { server_id: temp_id },
        &s.server_options,
        crate::mysql::server_config::run_as_owner_of(&s.data_dir)?.as_deref(),
    )?;
    config.speak(d.as_ref());
    tracing::info!(
        "starting {} ({kind}) with temporary server-id {temp_id}",
        s.data_dir.display()
    );
    let own_server_id = cnf
        .as_ref()
        .and_then(|c| c.get("server_id"))
        .and_then(|v| v.trim().parse::<u32>().ok());
    let server =
        TempServer::start(&program, &config, &s.mysql_user, s.root_password.clone()).await?;
    // The server started without grant tables: this session has every privilege whatever the
    // backup user's grants, and keeps them once the tables are loaded for replicated account
    // statements (GRANT, CREATE USER) to apply; everything below runs on it, the failure path
    // too. LOCAL: not written to the binlog, where it would be a transaction of the temporary
    // server-id.
    let conn = async {
        let mut conn = server.endpoint.connect().await?;
        exec(&mut conn, "SET SESSION wait_timeout = 31536000").await?;
        exec(&mut conn, "FLUSH LOCAL PRIVILEGES").await?;
        Ok::<_, Error>(conn)
    }
    .await;
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            let _ = server.shutdown().await;
            return Err(e);
        }
    };
    let result = run_catchup(s, &mut conn, d.as_ref(), own_server_id).await;
    match result {
        Ok(summary) => {
            let _ = conn.query_drop("SHUTDOWN").await;
            server.shutdown().await?;
            Ok(Some(summary))
        }
        Err(e) => {
            let _ = exec(&mut conn, &d.stop_all()).await;
            let _ = conn.query_drop("SHUTDOWN").await;
            let _ = server.shutdown().await;
            Err(e)
        }
    }
}

/// Catch-up on a started server (ours, under its temporary server-id): (re)creates or reads its
/// channels, reads every peer, starts the reachable ones' channels and waits until the server
/// has everything they have; stops the channels. Returns the report.
pub async fn run_catchup(
    s: &Settings,
    conn: &mut mysql_async::Conn,
    d: &dyn Dialect,
    own_server_id: Option<u32>,
) -> Result<String> {
    exec(conn, &d.stop_all()).await?;
    let channels: Vec<Channel> = if s.replication.source.is_empty() {
        replication::status(conn, d)
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
        replication::setup_channels(conn, d, &s.replication).await?;
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
    let states = replication::status(conn, d).await?;
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
    let (have, resume) = match d.kind().flavor {
        Flavor::MariaDb => {
            // Ask peers for exactly what the data lacks: per domain, from the later of the
            // binlog's end (our own events, which under the temporary server-id are not
            // "ours") and the slave position (what replication applied, absent from the
            // binlog without log_slave_updates).
            let sql = "SELECT @@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_binlog_state";
            let (binlog, slave, state): (Option<String>, Option<String>, Option<String>) = conn
                .query_first(sql)
                .await
                .map_err(|e| Error::mysql(sql, e))?
                .unwrap_or_default();
            let (binlog, slave) = (binlog.unwrap_or_default(), slave.unwrap_or_default());
            let logged =
                Gtid::list(&format!("{},{slave}", state.unwrap_or_default()).replace('\n', ""));
            let resume = Position::lenient(&binlog).merge(&Position::lenient(&slave));
            tracing::info!("resuming from gtid {resume}");
            (peers::Have::MariaDb(logged), Some(resume))
        }
        Flavor::MySql => {
            let sql = d.executed_query();
            let executed: Option<String> = conn
                .query_first(sql)
                .await
                .map_err(|e| Error::mysql(sql, e))?;
            let executed = GtidSet::parse(&executed.unwrap_or_default())?;
            tracing::info!("the data has executed {executed}");
            (peers::Have::MySql(executed), None)
        }
    };
    // The peers are read before RESET SLAVE, which deletes the master info files that may
    // hold the account to read them with.
    let probe = peers::probe(s, d, &channels, &have, own_server_id).await?;
    // Only the channels catch-up runs: RESET SLAVE would delete an unreachable peer's
    // master info file, and the instance could not replicate from it when it is back.
    for ch in &probe.reachable {
        exec(conn, &d.reset(ch)).await?;
    }
    if let Some(resume) = &resume {
        exec(
            conn,
            &format!(
                "SET GLOBAL gtid_slave_pos = {}",
                replication::quote(&resume.to_string())
            ),
        )
        .await?;
    }
    replication::start_channels(conn, d, &probe.reachable).await?;
    let target = probe.target;
    let timeout = Duration::from_secs(s.replication.catchup_timeout.unwrap_or(3600));
    let started = std::time::Instant::now();
    let st = replication::wait_caught_up(conn, d, &probe.reachable, &target, timeout).await?;
    if !probe.needed.is_empty() {
        wait_for_own(
            conn,
            &probe.needed,
            timeout.saturating_sub(started.elapsed()),
        )
        .await?;
    }
    // Stopped, not reset: MariaDB's RESET SLAVE deletes master-{channel}.info, so the
    // instance would start with channels that have no host or user. The relay logs carry the
    // instance's own names (see ServerConfig) and everything in them was executed.
    exec(conn, &d.stop_all()).await?;
    let gtid: Option<String> = conn.query_first(d.executed_query()).await.ok().flatten();
    let mut report = format!(
        "caught up from: {}\npeers' position reached: {target}\nexecuted: {}",
        st.iter()
            .map(|c| format!("{} ({})", c.name, c.master))
            .collect::<Vec<_>>()
            .join(", "),
        gtid.unwrap_or_default().replace('\n', "")
    );
    for u in &probe.unreachable {
        report.push_str(&format!(
            "\nunreachable, not caught up from: {u} (what only it received of this \
             instance's is not here)"
        ));
    }
    Ok(report)
}

/// Waits until the instance has logged each of its own transactions that a peer held in its
/// relay log ([`peers::Probe::needed`]): compared per server in each domain, so that another
/// server's later transaction in a shared domain is not taken for it.
async fn wait_for_own(
    conn: &mut mysql_async::Conn,
    needed: &[peers::Gtid],
    timeout: Duration,
) -> Result<()> {
    let started = std::time::Instant::now();
    let sql = "SELECT @@gtid_binlog_state, @@gtid_slave_pos, @@log_bin";
    loop {
        crate::cancel::check()?;
        let (state, slave, log_bin): (Option<String>, Option<String>, Option<String>) = conn
            .query_first(sql)
            .await
            .map_err(|e| Error::mysql(sql, e))?
            .unwrap_or_default();
        let mut have = peers::Logged::default();
        have.add(Gtid::list(&state.unwrap_or_default().replace('\n', "")));
        let slave = Position::lenient(&slave.unwrap_or_default());
        // Without a binlog only the slave position tells, per domain.
        let no_binlog = log_bin.as_deref() == Some("0");
        let missing: Vec<String> = needed
            .iter()
            .filter(|g| {
                let applied = no_binlog && slave.get(g.domain).is_some_and(|p| p.seq >= g.seq);
                !(have.has(g) || applied)
            })
            .map(ToString::to_string)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(Error::Failed(format!(
                "catch-up timed out before this instance had its own transactions {} back from \
                 the peers that held them in their relay logs",
                missing.join(", ")
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

//! What catch-up needs of each peer: whether it can be reached, what it has logged, and what it
//! has received but perhaps not yet applied (its relay logs). Caught up means having everything
//! every reachable peer has *received*, not only what it has logged: a lagging or delayed
//! replica of the dead instance holds that instance's last events in its relay log only, and an
//! instance that started under its own server-id before they arrived would skip them as its own.

use mysql_async::prelude::Queryable;

use crate::config::{Secret, Settings};
use crate::error::{Error, Result};
use crate::mysql::Flavor;
pub use crate::mysql::binlog::Gtid;
use crate::mysql::replication::{self, CatchupRequire, Dialect, PeerConn, try_connect_peer};

/// A channel and the peer it reads from.
pub struct Channel {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// The domains it ignores, or keeps alone (its peer's other domains never arrive).
    pub ignore_domains: Vec<u32>,
    pub do_domains: Vec<u32>,
}

impl Channel {
    fn label(&self) -> String {
        format!("{} ({}:{})", self.name, self.host, self.port)
    }
}

/// What the peers hold, read before catch-up starts its channels.
pub struct Probe {
    /// What the instance must have applied to be caught up: per domain, the latest GTID that
    /// any reachable peer has logged, or received of this instance's own (MySQL: their GTID
    /// sets joined).
    pub target: String,
    /// The channels whose peer answered: the ones catch-up starts and waits for.
    pub reachable: Vec<String>,
    /// `channel (host:port): why` of each peer that could not be reached.
    pub unreachable: Vec<String>,
    /// This instance's own transactions that a peer has received but nobody has logged yet
    /// (MariaDB): catch-up is complete only once the instance has each of them.
    pub needed: Vec<Gtid>,
}

/// What a set of binlog states (`@@gtid_binlog_state`: the last GTID of every server in
/// every domain) has logged: whether `g` is among it. A domain's sequence numbers are compared
/// per server, so another server's later GTID in the same domain does not hide a missing one.
#[derive(Default)]
pub struct Logged(std::collections::BTreeMap<(u32, u32), u64>);

impl Logged {
    pub fn add(&mut self, list: &str) {
        for g in Gtid::list(list) {
            let e = self.0.entry((g.domain, g.server)).or_insert(g.seq);
            *e = (*e).max(g.seq);
        }
    }
    pub fn has(&self, g: &Gtid) -> bool {
        self.0
            .get(&(g.domain, g.server))
            .is_some_and(|seq| *seq >= g.seq)
    }
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

/// One reachable peer as read: its logged position and, per channel of its own, what it has
/// received, whether its SQL thread runs, and whether it logs what it applies.
struct PeerState {
    logged: String,
    /// `@@gtid_binlog_state` (MariaDB).
    state: String,
    log_replica_updates: bool,
    received: Vec<(String, String, bool)>,
}

async fn read_peer(
    conn: &mut mysql_async::Conn,
    d: Dialect,
    ch: &Channel,
    user: &str,
) -> Result<PeerState> {
    let sql = match d.0 {
        Flavor::MariaDb => {
            "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_binlog_state, @@GLOBAL.log_slave_updates"
        }
        Flavor::MySql => {
            "SELECT @@GLOBAL.gtid_executed, @@GLOBAL.gtid_executed, @@GLOBAL.log_slave_updates"
        }
    };
    let named = |what: String| Error::Failed(format!("channel {}: {what}", ch.label()));
    let row: Option<(Option<String>, Option<String>, Option<String>)> = conn
        .query_first(sql)
        .await
        .map_err(|e| named(format!("cannot read the peer's position: {e}")))?;
    let (logged, state, lsu) = row.unwrap_or_default();
    let only_replicated = |pos: &str| match d.0 {
        Flavor::MariaDb => replication::replicated_domains(pos, &ch.ignore_domains, &ch.do_domains),
        Flavor::MySql => pos.to_string(),
    };
    let channels = replication::status(conn, d).await.map_err(|e| {
        named(format!(
            "cannot read what the peer has received ({e}); without it catch-up cannot know that \
             nothing of ours waits in its relay log: grant it `GRANT SLAVE MONITOR ON *.* TO \
             {user}` (MySQL: REPLICATION CLIENT)"
        ))
    })?;
    Ok(PeerState {
        logged: only_replicated(&logged.unwrap_or_default().replace('\n', "")),
        state: state.unwrap_or_default().replace('\n', ""),
        log_replica_updates: lsu
            .as_deref()
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("ON")),
        received: channels
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    only_replicated(&c.received),
                    c.sql_running == "Yes",
                )
            })
            .collect(),
    })
}

/// Reads every peer. `have` is what the instance itself has logged (MariaDB: its
/// `gtid_binlog_state` and `gtid_slave_pos`); `own_server_id` its real server-id (None when
/// unknown: then every received transaction counts as possibly its own). A peer that does not
/// answer is unreachable (an error when conf `replication.catchup_require` is `all`, or when
/// no peer answers); one that answers and refuses fails at once. So does a peer that holds in
/// its relay log a transaction of this instance's that nobody has logged, and will never pass
/// it on: its SQL thread is stopped, or it does not log what it applies. (Only this instance's
/// own transactions are at stake: once it runs under its real server-id it would skip them as
/// its own; everything else its channels fetch later.)
pub async fn probe(
    s: &Settings,
    d: Dialect,
    channels: &[Channel],
    have: &str,
    own_server_id: Option<u32>,
) -> Result<Probe> {
    let mut probe = Probe {
        target: String::new(),
        reachable: Vec::new(),
        unreachable: Vec::new(),
        needed: Vec::new(),
    };
    let mut states = Vec::new();
    for ch in channels {
        let (user, password) = peer_account(s, ch)?;
        let mut conn = match try_connect_peer(&ch.host, ch.port, &user, password.expose()).await {
            Ok(PeerConn::Up(conn)) => conn,
            Ok(PeerConn::Unreachable(why)) => {
                tracing::warn!("peer unreachable: {}: {why}", ch.label());
                probe.unreachable.push(format!("{}: {why}", ch.label()));
                continue;
            }
            Err(e) => {
                return Err(Error::Failed(format!(
                    "channel {}: cannot read the peer's position: {e}",
                    ch.label()
                )));
            }
        };
        let state = read_peer(&mut conn, d, ch, &user).await;
        let _ = conn.disconnect().await;
        let state = state?;
        tracing::info!(
            "peer {} has logged {}, received {}",
            ch.label(),
            state.logged,
            state
                .received
                .iter()
                .map(|(n, r, _)| format!("{r} ({})", if n.is_empty() { "default" } else { n }))
                .collect::<Vec<_>>()
                .join(", ")
        );
        probe.reachable.push(ch.name.clone());
        states.push((ch, state));
    }
    if probe.reachable.is_empty() {
        return Err(Error::Failed(format!(
            "no peer could be reached, so nothing written since the backup can be caught up: {}",
            probe.unreachable.join("; ")
        )));
    }
    if s.replication.catchup_require == CatchupRequire::All && !probe.unreachable.is_empty() {
        return Err(Error::Failed(format!(
            "conf replication.catchup_require is `all` and these peers could not be reached: {}",
            probe.unreachable.join("; ")
        )));
    }
    probe.target = match d.0 {
        Flavor::MariaDb => {
            let (target, needed) = mariadb_target(&states, have, own_server_id)?;
            probe.needed = needed;
            target
        }
        Flavor::MySql => states
            .iter()
            .flat_map(|(_, st)| {
                std::iter::once(st.logged.clone()).chain(st.received.iter().map(|r| r.1.clone()))
            })
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(","),
    };
    Ok(probe)
}

/// Per domain, the latest GTID any peer logged, and this instance's own transactions that a
/// peer received and nobody logged (see [`probe`]); fails at once on such a transaction held
/// by a peer that will never log it.
fn mariadb_target(
    states: &[(&Channel, PeerState)],
    have: &str,
    own_server_id: Option<u32>,
) -> Result<(String, Vec<Gtid>)> {
    let mut logged = Logged::default();
    logged.add(have);
    let mut target = String::new();
    for (_, st) in states {
        logged.add(&st.state);
        logged.add(&st.logged);
        target = replication::resume_position(&target, &st.logged);
    }
    let mut needed: Vec<Gtid> = Vec::new();
    let mut stuck = Vec::new();
    for (ch, st) in states {
        for (their_channel, received, sql_running) in &st.received {
            for g in Gtid::list(received) {
                if own_server_id.is_some_and(|id| id != g.server) || logged.has(&g) {
                    continue;
                }
                if !sql_running || !st.log_replica_updates {
                    let why = if !sql_running {
                        format!(
                            "its SQL thread of channel '{their_channel}' is stopped (START SLAVE \
                             '{their_channel}' SQL_THREAD on it)"
                        )
                    } else {
                        "it does not log what it applies (log_slave_updates=OFF)".to_string()
                    };
                    stuck.push(format!(
                        "peer {} has received {g} into its relay log, which neither this instance \
                         nor any peer has logged, and will not pass it on: {why}",
                        ch.label()
                    ));
                } else if !needed.contains(&g) {
                    needed.push(g);
                }
            }
        }
    }
    if !stuck.is_empty() {
        return Err(Error::Failed(format!(
            "catch-up cannot be complete: {}; an instance started without those transactions \
             would skip them as its own when they arrive",
            stuck.join("; ")
        )));
    }
    for g in &needed {
        target = replication::resume_position(&target, &g.to_string());
    }
    Ok((target, needed))
}

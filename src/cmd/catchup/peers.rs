//! What catch-up needs of each peer: whether it can be reached, what it has logged, and what it
//! has received but perhaps not yet applied (its relay logs). Caught up means having everything
//! every reachable peer has *received*, not only what it has logged: a lagging or delayed
//! replica of the dead instance holds that instance's last events in its relay log only, and an
//! instance that started under its own server-id before they arrived would skip them as its own.

use mysql_async::prelude::Queryable;

use crate::config::{Secret, Settings};
use crate::error::{Error, Result};
use crate::mysql::Flavor;
pub use crate::mysql::gtid::Gtid;
use crate::mysql::gtid::{GtidPos, GtidSet, Position};
use crate::mysql::replication::{
    self, CatchupRequire, Dialect, PeerConn, ServerKind, try_connect_peer,
};

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
    /// any reachable peer has logged, or received of this instance's own (MySQL: the union of
    /// every set they executed or received).
    pub target: GtidPos,
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
    pub fn add(&mut self, gtids: impl IntoIterator<Item = Gtid>) {
        for g in gtids {
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
    logged: GtidPos,
    /// `@@gtid_binlog_state` (MariaDB): the last GTID of every server in every domain.
    state: Vec<Gtid>,
    /// `@@server_uuid` (MySQL).
    uuid: String,
    log_replica_updates: bool,
    received: Vec<(String, GtidPos, bool)>,
}

/// Reads a peer in its own dialect (it may be another version than the instance's), after
/// checking it is of the instance's flavor.
async fn read_peer(
    conn: &mut mysql_async::Conn,
    ours: ServerKind,
    ch: &Channel,
    user: &str,
) -> Result<PeerState> {
    let named = |what: String| Error::Failed(format!("channel {}: {what}", ch.label()));
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(|e| named(format!("cannot read the peer's version: {e}")))?;
    let kind = ServerKind::parse(&version.unwrap_or_default())?;
    if kind.flavor != ours.flavor {
        return Err(named(format!(
            "the peer is {kind} and this instance {ours}: replication between flavors is not \
             supported"
        )));
    }
    let d = kind.dialect();
    let sql = match kind.flavor {
        Flavor::MariaDb => format!(
            "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_binlog_state, @@GLOBAL.{}",
            d.log_replica_updates()
        ),
        Flavor::MySql => format!(
            "SELECT @@GLOBAL.gtid_executed, @@GLOBAL.server_uuid, @@GLOBAL.{}",
            d.log_replica_updates()
        ),
    };
    let row: Option<(Option<String>, Option<String>, Option<String>)> = conn
        .query_first(sql)
        .await
        .map_err(|e| named(format!("cannot read the peer's position: {e}")))?;
    let (logged, state, lsu) = row.unwrap_or_default();
    let only_replicated = |pos: GtidPos| match pos {
        GtidPos::MariaDb(p) => GtidPos::MariaDb(p.replicated(&ch.ignore_domains, &ch.do_domains)),
        other => other,
    };
    let channels = replication::status(conn, d.as_ref()).await.map_err(|e| {
        named(format!(
            "cannot read what the peer has received ({e}); without it catch-up cannot know that \
             nothing of ours waits in its relay log: grant it `GRANT SLAVE MONITOR ON *.* TO \
             {user}` (MySQL: REPLICATION CLIENT)"
        ))
    })?;
    let logged = d
        .parse_position(&logged.unwrap_or_default())
        .map_err(|e| named(format!("its executed position: {e}")))?;
    let (state, uuid) = match kind.flavor {
        Flavor::MariaDb => (
            Gtid::list(&state.unwrap_or_default().replace('\n', "")),
            String::new(),
        ),
        Flavor::MySql => (Vec::new(), state.unwrap_or_default()),
    };
    Ok(PeerState {
        logged: only_replicated(logged),
        state,
        uuid,
        log_replica_updates: lsu
            .as_deref()
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("ON")),
        received: channels
            .into_iter()
            .map(|c| {
                let running = c.sql_running == "Yes";
                (c.name, only_replicated(c.received), running)
            })
            .collect(),
    })
}

/// Reads every peer. `have` is what the instance itself has logged (MariaDB: its
/// `gtid_binlog_state` and `gtid_slave_pos`; MySQL: its `gtid_executed`); `own_server_id` its real server-id (None when
/// unknown: then every received transaction counts as possibly its own). A peer that does not
/// answer is unreachable (an error when conf `replication.catchup_require` is `all`, or when
/// no peer answers); one that answers and refuses fails at once. So does a peer that holds in
/// its relay log a transaction of this instance's that nobody has logged, and will never pass
/// it on: its SQL thread is stopped, or it does not log what it applies. (Only this instance's
/// own transactions are at stake: once it runs under its real server-id it would skip them as
/// its own; everything else its channels fetch later.)
pub async fn probe(
    s: &Settings,
    d: &dyn Dialect,
    channels: &[Channel],
    have: &Have,
    own_server_id: Option<u32>,
) -> Result<Probe> {
    let mut probe = Probe {
        target: GtidPos::MariaDb(Position::default()),
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
        let state = read_peer(&mut conn, d.kind(), ch, &user).await;
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
    probe.target = match have {
        Have::MariaDb(have) => {
            let (target, needed) = mariadb_target(&states, have, own_server_id)?;
            probe.needed = needed;
            GtidPos::MariaDb(target)
        }
        Have::MySql(have) => GtidPos::MySql(mysql_target(&states, have)?),
    };
    Ok(probe)
}

/// What the instance itself has, in its flavor's terms.
pub enum Have {
    /// Every GTID of its binlog state and slave position.
    MariaDb(Vec<Gtid>),
    /// Its `gtid_executed`.
    MySql(GtidSet),
}

/// Everything the peers can send (what each logged: all it executed, or only its own
/// transactions without log_replica_updates) or will send (what they received and will apply
/// and log). Fails at once on a transaction the instance lacks that no peer can or will send:
/// one a peer applied without logging it, or received and will never pass on (its SQL thread
/// is stopped, or it does not log what it applies). Unlike MariaDB's, a MySQL GTID names its
/// origin by server UUID, which catch-up changes: every such transaction counts.
fn mysql_target(states: &[(&Channel, PeerState)], have: &GtidSet) -> Result<GtidSet> {
    let mut executed = have.clone();
    for (_, st) in states {
        if let GtidPos::MySql(s) = &st.logged {
            executed = executed.union(s);
        }
    }
    let mut target = GtidSet::default();
    let mut stuck = Vec::new();
    for (_, st) in states {
        // What a peer can send: its binlog, which without log_replica_updates holds its own
        // transactions only (the others it applied come from their origin or another peer).
        if let GtidPos::MySql(s) = &st.logged {
            target = target.union(&if st.log_replica_updates {
                s.clone()
            } else {
                s.of_server(&st.uuid)
            });
        }
    }
    for (ch, st) in states {
        if let (false, GtidPos::MySql(s)) = (st.log_replica_updates, &st.logged) {
            let lost = s.difference(&target).difference(have);
            if !lost.is_empty() {
                stuck.push(format!(
                    "peer {} applied {lost} without logging it (log_replica_updates=OFF), and \
                     no peer can send it",
                    ch.label()
                ));
            }
        }
        for (their_channel, received, sql_running) in &st.received {
            let GtidPos::MySql(received) = received else {
                continue;
            };
            let missing = received.difference(&executed);
            if missing.is_empty() {
                continue;
            }
            if !sql_running || !st.log_replica_updates {
                stuck.push(format!(
                    "peer {} has received {missing} into the relay log of its channel \
                     '{their_channel}', which neither this instance nor any peer has executed, \
                     and will not pass it on: {}",
                    ch.label(),
                    if *sql_running {
                        "it does not log what it applies (log_replica_updates=OFF)"
                    } else {
                        "its SQL thread is stopped"
                    }
                ));
            } else {
                target = target.union(&missing);
            }
        }
    }
    if !stuck.is_empty() {
        return Err(Error::Failed(format!(
            "catch-up cannot be complete: {}",
            stuck.join("; ")
        )));
    }
    Ok(target)
}

/// Per domain, the latest GTID any peer logged, and this instance's own transactions that a
/// peer received and nobody logged (see [`probe`]); fails at once on such a transaction held
/// by a peer that will never log it.
fn mariadb_target(
    states: &[(&Channel, PeerState)],
    have: &[Gtid],
    own_server_id: Option<u32>,
) -> Result<(Position, Vec<Gtid>)> {
    let mut logged = Logged::default();
    logged.add(have.iter().copied());
    let mut target = Position::default();
    for (_, st) in states {
        logged.add(st.state.iter().copied());
        if let GtidPos::MariaDb(p) = &st.logged {
            logged.add(p.domains().filter_map(|d| p.get(d)));
            target = target.merge(p);
        }
    }
    let mut needed: Vec<Gtid> = Vec::new();
    let mut stuck = Vec::new();
    for (ch, st) in states {
        for (their_channel, received, sql_running) in &st.received {
            let GtidPos::MariaDb(received) = received else {
                continue;
            };
            for g in received.domains().filter_map(|d| received.get(d)) {
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
        target.include(*g);
    }
    Ok((target, needed))
}

//! The replication simulation: a channel's state, the IO thread connecting to its source through
//! the `World`, the SQL thread applying what was received.

use super::gtid::{GtidList, GtidSet};
use super::{PeerInfo, Personality, State};

/// A snapshot of one replication channel (MariaDB: connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeChannel {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub connect_retry: u32,
    pub ssl: bool,
    pub get_public_key: bool,
    /// MySQL MASTER_AUTO_POSITION / SOURCE_AUTO_POSITION.
    pub auto_position: bool,
    /// MariaDB MASTER_USE_GTID as shown in Using_Gtid: "No", "Slave_Pos" or "Current_Pos".
    pub use_gtid: String,
    pub ignore_domain_ids: Vec<u32>,
    pub do_domain_ids: Vec<u32>,
    /// "No", "Connecting" or "Yes".
    pub io: String,
    /// "No" or "Yes".
    pub sql: String,
    /// What the IO thread received: MySQL Retrieved_Gtid_Set, MariaDB Gtid_IO_Pos.
    pub received: String,
    pub last_io_errno: u32,
    pub last_io_error: String,
    /// Status polls seen since START.
    pub polls: u32,
    /// Whether the SQL thread has applied what was received (Exec == Read).
    pub applied: bool,
    /// Connection attempts since START.
    pub retries: u32,
    /// The peer's server id and uuid once connected.
    pub master_server_id: String,
    pub master_uuid: String,
}

impl FakeChannel {
    pub(super) fn new(name: &str, p: Personality) -> FakeChannel {
        FakeChannel {
            name: name.to_string(),
            host: String::new(),
            port: 3306,
            user: String::new(),
            password: String::new(),
            connect_retry: 60,
            ssl: false,
            get_public_key: false,
            auto_position: false,
            // MariaDB 10.10+ defaults to Slave_Pos.
            use_gtid: if p.is_mariadb() { "Slave_Pos" } else { "No" }.to_string(),
            ignore_domain_ids: Vec::new(),
            do_domain_ids: Vec::new(),
            io: "No".into(),
            sql: "No".into(),
            received: String::new(),
            last_io_errno: 0,
            last_io_error: String::new(),
            polls: 0,
            applied: false,
            retries: 0,
            master_server_id: "0".into(),
            master_uuid: String::new(),
        }
    }

    pub(super) fn running(&self) -> bool {
        self.io != "No" || self.sql != "No"
    }
}

/// The IO thread's connection attempt against what the World holds for host:port.
pub(super) fn connect(p: Personality, ch: &mut FakeChannel, peer: Option<&PeerInfo>) {
    ch.retries += 1;
    let word = if p.says_source() { "source" } else { "master" };
    let (host, port, user, retry, n) = (&ch.host, ch.port, &ch.user, ch.connect_retry, ch.retries);
    let prefix = if p.is_mariadb() {
        format!(
            "error connecting to master '{user}@{host}:{port}' - retry-time: {retry}  maximum-retries: 100000  message: "
        )
    } else {
        format!(
            "error connecting to {word} '{user}@{host}:{port}' - retry-time: {retry} retries: {n} message: "
        )
    };
    match peer {
        None => {
            ch.io = "Connecting".into();
            ch.last_io_errno = 2003;
            ch.last_io_error = match p {
                _ if p.is_mariadb() => format!(
                    "{prefix}Can't connect to server on '{host}' (111 \"Connection refused\")"
                ),
                Personality::MySql57 => {
                    format!("{prefix}Can't connect to MySQL server on '{host}' (111)")
                }
                _ => format!("{prefix}Can't connect to MySQL server on '{host}:{port}' (111)"),
            };
            ch.master_server_id = "0".into();
            ch.master_uuid = String::new();
        }
        Some(peer) if peer.require_secure && !ch.ssl && !ch.get_public_key => {
            ch.io = "Connecting".into();
            ch.last_io_errno = 2061;
            ch.last_io_error = format!(
                "{prefix}Authentication plugin 'caching_sha2_password' reported error: Authentication requires secure connection."
            );
        }
        Some(peer) => {
            ch.io = "Yes".into();
            ch.last_io_errno = 0;
            ch.last_io_error = String::new();
            ch.received = peer.position.clone();
            ch.master_server_id = peer.server_id.clone();
            ch.master_uuid = peer.server_uuid.clone();
        }
    }
}

/// The SQL thread applies what the channel received.
pub(super) fn apply(st: &mut State, name: &str) {
    let p = st.p;
    let Some(ch) = st.channels.get(name) else {
        return;
    };
    let received = ch.received.clone();
    if p.is_mysql() {
        let Some(got) = GtidSet::parse(&received) else {
            return;
        };
        let mine = GtidSet::parse(&st.var("gtid_executed").unwrap_or_default()).unwrap_or_default();
        st.vars
            .insert("gtid_executed".into(), Some(mine.union(&got).to_string()));
    } else {
        let Some(got) = GtidList::parse(&received) else {
            return;
        };
        let mut filtered = GtidList::default();
        for (d, v) in &got.0 {
            if ch.ignore_domain_ids.contains(d)
                || (!ch.do_domain_ids.is_empty() && !ch.do_domain_ids.contains(d))
            {
                continue;
            }
            filtered.0.insert(*d, *v);
        }
        let slave =
            GtidList::parse(&st.var("gtid_slave_pos").unwrap_or_default()).unwrap_or_default();
        st.vars.insert(
            "gtid_slave_pos".into(),
            Some(slave.merge_max(&filtered).to_string()),
        );
        // Applied events are binlogged on a replica with log_bin and log_slave_updates.
        let on = |v: Option<String>| matches!(v.as_deref(), Some("1") | Some("ON"));
        if on(st.var("log_bin")) && on(st.var("log_slave_updates")) {
            for var in ["gtid_binlog_pos", "gtid_binlog_state"] {
                let cur = GtidList::parse(&st.var(var).unwrap_or_default()).unwrap_or_default();
                st.vars
                    .insert(var.into(), Some(cur.merge_max(&filtered).to_string()));
            }
        }
    }
    if let Some(ch) = st.channels.get_mut(name) {
        ch.applied = true;
    }
}

//! A fake MySQL/MariaDB server for integration tests: it speaks the wire protocol (opensrv-mysql),
//! accepts only each server version's replication syntax, answers with that version's status
//! columns and errors, and simulates replication channels between fakes registered in a `World`.
//!
//! It is an oracle for the code under test: its GTID arithmetic is its own, independent of the
//! crate's.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use opensrv_mysql::{
    AsyncMysqlIntermediary, AsyncMysqlShim, Column, ColumnFlags, ColumnType, ErrorKind, InitWriter,
    OkResponse, ParamParser, QueryResultWriter, StatementMetaWriter,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::{JoinHandle, JoinSet};

// ---------------------------------------------------------------------------------------------
// Personalities
// ---------------------------------------------------------------------------------------------

/// Which real server the fake imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Personality {
    MariaDb1011,
    MariaDb114,
    MySql57,
    MySql8021,
    MySql80,
    MySql84,
}

impl Personality {
    pub const ALL: [Personality; 6] = [
        Personality::MariaDb1011,
        Personality::MariaDb114,
        Personality::MySql57,
        Personality::MySql8021,
        Personality::MySql80,
        Personality::MySql84,
    ];

    /// The version string of the handshake and of `SELECT VERSION()`.
    pub fn version(self) -> &'static str {
        match self {
            Personality::MariaDb1011 => "10.11.6-MariaDB-log",
            Personality::MariaDb114 => "11.4.4-MariaDB-log",
            Personality::MySql57 => "5.7.44-log",
            Personality::MySql8021 => "8.0.21",
            Personality::MySql80 => "8.0.36",
            Personality::MySql84 => "8.4.3",
        }
    }

    pub fn is_mariadb(self) -> bool {
        matches!(self, Personality::MariaDb1011 | Personality::MariaDb114)
    }

    pub fn is_mysql(self) -> bool {
        !self.is_mariadb()
    }

    /// MySQL words its messages with "source"/"replica" from 8.0.22 on.
    fn says_source(self) -> bool {
        matches!(self, Personality::MySql80 | Personality::MySql84)
    }

    /// `START SLAVE`, `SHOW SLAVE STATUS`, ...
    fn has_slave_kw(self) -> bool {
        self != Personality::MySql84
    }

    /// `START REPLICA`, `SHOW REPLICA STATUS`, ... (MariaDB 10.5+, MySQL 8.0.22+).
    fn has_replica_kw(self) -> bool {
        !matches!(self, Personality::MySql57 | Personality::MySql8021)
    }

    /// `MASTER_*` options and `CHANGE MASTER` in MySQL.
    fn has_master_opts(self) -> bool {
        matches!(
            self,
            Personality::MySql57 | Personality::MySql8021 | Personality::MySql80
        )
    }

    /// `SOURCE_*` options and `CHANGE REPLICATION SOURCE` (MySQL 8.0.23+).
    fn has_source_opts(self) -> bool {
        matches!(self, Personality::MySql80 | Personality::MySql84)
    }

    fn product(self) -> &'static str {
        if self.is_mariadb() {
            "MariaDB"
        } else {
            "MySQL"
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GTID arithmetic (independent of the crate's own)
// ---------------------------------------------------------------------------------------------

/// A MySQL GTID set: server uuid (lowercase) -> sorted, disjoint, non-adjacent closed intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet(BTreeMap<String, Vec<(u64, u64)>>);

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

impl GtidSet {
    /// Parses "uuid:1-5:7,uuid2:3"; whitespace (newlines too) is ignored; "" is the empty set.
    pub fn parse(s: &str) -> Option<GtidSet> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let mut set = GtidSet::default();
        for part in s.split(',') {
            if part.is_empty() {
                continue;
            }
            let mut it = part.split(':');
            let uuid = it.next()?;
            if !is_uuid(uuid) {
                return None;
            }
            let uuid = uuid.to_ascii_lowercase();
            let mut any = false;
            for iv in it {
                any = true;
                let (a, b) = match iv.split_once('-') {
                    Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
                    None => {
                        let a = iv.parse::<u64>().ok()?;
                        (a, a)
                    }
                };
                if a == 0 || b < a {
                    return None;
                }
                set.add(&uuid, a, b);
            }
            if !any {
                return None;
            }
        }
        Some(set)
    }

    fn add(&mut self, uuid: &str, a: u64, b: u64) {
        let ivs = self.0.entry(uuid.to_ascii_lowercase()).or_default();
        ivs.push((a, b));
        ivs.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in ivs.drain(..) {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *ivs = merged;
    }

    pub fn union(&self, other: &GtidSet) -> GtidSet {
        let mut out = self.clone();
        for (uuid, ivs) in &other.0 {
            for (a, b) in ivs {
                out.add(uuid, *a, *b);
            }
        }
        out
    }

    pub fn is_subset(&self, other: &GtidSet) -> bool {
        self.0.iter().all(|(uuid, ivs)| {
            let theirs = other.0.get(uuid).map(Vec::as_slice).unwrap_or(&[]);
            ivs.iter()
                .all(|(a, b)| theirs.iter().any(|(c, d)| c <= a && b <= d))
        })
    }

    /// Number of transactions in the set.
    pub fn count(&self) -> u64 {
        self.0
            .values()
            .flat_map(|ivs| ivs.iter().map(|(a, b)| b - a + 1))
            .sum()
    }
}

impl std::fmt::Display for GtidSet {
    /// MySQL's own rendering: lowercase uuids in order, ",\n" between uuids.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(uuid, ivs)| {
                let mut s = uuid.clone();
                for (a, b) in ivs {
                    if a == b {
                        s.push_str(&format!(":{a}"));
                    } else {
                        s.push_str(&format!(":{a}-{b}"));
                    }
                }
                s
            })
            .collect();
        f.write_str(&parts.join(",\n"))
    }
}

/// A MariaDB GTID list "domain-server-seq,...": per domain the last GTID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidList(BTreeMap<u32, (u32, u64)>);

impl GtidList {
    pub fn parse(s: &str) -> Option<GtidList> {
        let mut l = GtidList::default();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let mut it = part.split('-');
            let d = it.next()?.parse::<u32>().ok()?;
            let srv = it.next()?.parse::<u32>().ok()?;
            let seq = it.next()?.parse::<u64>().ok()?;
            if it.next().is_some() {
                return None;
            }
            l.0.insert(d, (srv, seq));
        }
        Some(l)
    }

    /// Per domain the GTID with the higher sequence number.
    pub fn merge_max(&self, other: &GtidList) -> GtidList {
        let mut out = self.clone();
        for (d, (srv, seq)) in &other.0 {
            match out.0.get(d) {
                Some((_, s)) if s >= seq => {}
                _ => {
                    out.0.insert(*d, (*srv, *seq));
                }
            }
        }
        out
    }

    pub fn seq(&self, domain: u32) -> Option<u64> {
        self.0.get(&domain).map(|(_, s)| *s)
    }

    fn count(&self) -> u64 {
        self.0.values().map(|(_, s)| *s).sum()
    }
}

impl std::fmt::Display for GtidList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(d, (srv, seq))| format!("{d}-{srv}-{seq}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

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
    fn new(name: &str, p: Personality) -> FakeChannel {
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

    fn running(&self) -> bool {
        self.io != "No" || self.sql != "No"
    }
}

struct State {
    p: Personality,
    vars: BTreeMap<String, Option<String>>,
    channels: BTreeMap<String, FakeChannel>,
    statements: Vec<String>,
    require_secure: bool,
    apply_polls: u32,
}

/// What a replica sees of its source when it connects.
#[derive(Clone)]
struct PeerInfo {
    require_secure: bool,
    position: String,
    server_id: String,
    server_uuid: String,
}

impl State {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(&name.to_ascii_lowercase()).cloned().flatten()
    }

    fn peer_info(&self) -> PeerInfo {
        PeerInfo {
            require_secure: self.require_secure,
            position: if self.p.is_mysql() {
                self.var("gtid_executed").unwrap_or_default()
            } else {
                self.var("gtid_binlog_pos").unwrap_or_default()
            },
            server_id: self.var("server_id").unwrap_or_else(|| "0".into()),
            server_uuid: self.var("server_uuid").unwrap_or_default(),
        }
    }
}

fn default_vars(p: Personality, port: u16, socket: &Path) -> BTreeMap<String, Option<String>> {
    let mut v: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut set = |k: &str, val: &str| {
        v.insert(k.to_string(), Some(val.to_string()));
    };
    set("version", p.version());
    set(
        "version_comment",
        if p.is_mariadb() {
            "MariaDB Server"
        } else {
            "MySQL Community Server - GPL"
        },
    );
    set("datadir", "/var/lib/mysql/");
    set("log_bin", "1");
    set("log_bin_basename", "/var/lib/mysql/binlog");
    set("log_bin_index", "/var/lib/mysql/binlog.index");
    set("server_id", "1");
    set("log_slave_updates", "1");
    set("read_only", "0");
    set("port", &port.to_string());
    set("socket", &socket.to_string_lossy());
    set("hostname", "fake");
    set("wait_timeout", "28800");
    set("interactive_timeout", "28800");
    set("autocommit", "1");
    set("lower_case_table_names", "0");
    set("character_set_server", "utf8mb4");
    set("time_zone", "SYSTEM");
    set("system_time_zone", "UTC");
    set(
        "sql_mode",
        "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
    );
    set(
        "binlog_format",
        if p.is_mariadb() { "MIXED" } else { "ROW" },
    );
    set("log_bin_basename", "/var/lib/mysql/mysql-bin");
    set("relay_log", "");
    if p.is_mariadb() {
        set("max_allowed_packet", "16777216");
        set("gtid_binlog_pos", "");
        set("gtid_slave_pos", "");
        set("gtid_binlog_state", "");
        set("gtid_current_pos", "");
        set("gtid_domain_id", "0");
        set("gtid_strict_mode", "0");
        set("gtid_ignore_duplicates", "0");
        set("default_master_connection", "");
        set("log_bin_compress", "0");
        set("slave_parallel_threads", "0");
    } else {
        let uuid = format!("3e11fa47-71ca-11e1-9e33-c80aa9{port:06x}");
        set("server_uuid", &uuid);
        set("gtid_mode", "ON");
        set("enforce_gtid_consistency", "ON");
        set("gtid_executed", "");
        set("gtid_purged", "");
        set("super_read_only", "0");
        set(
            "max_allowed_packet",
            if p == Personality::MySql57 {
                "4194304"
            } else {
                "67108864"
            },
        );
        match p {
            Personality::MySql57 => {
                set("master_info_repository", "FILE");
                set("relay_log_info_repository", "FILE");
            }
            Personality::MySql8021 | Personality::MySql80 => {
                set("master_info_repository", "TABLE");
                set("relay_log_info_repository", "TABLE");
            }
            _ => {}
        }
        if matches!(p, Personality::MySql80 | Personality::MySql84) {
            set("log_replica_updates", "1");
        }
        if p != Personality::MySql84 {
            set(
                "default_authentication_plugin",
                if p == Personality::MySql57 {
                    "mysql_native_password"
                } else {
                    "caching_sha2_password"
                },
            );
        }
    }
    v
}

/// Variables a `SET GLOBAL` may not change (ER_INCORRECT_GLOBAL_LOCAL_VAR).
const READ_ONLY_VARS: &[&str] = &[
    "version",
    "version_comment",
    "datadir",
    "log_bin",
    "log_bin_basename",
    "log_bin_index",
    "server_uuid",
    "gtid_executed",
    "gtid_binlog_pos",
    "gtid_current_pos",
    "log_slave_updates",
    "log_replica_updates",
    "port",
    "socket",
    "hostname",
    "lower_case_table_names",
    "relay_log",
];

// ---------------------------------------------------------------------------------------------
// World and server handle
// ---------------------------------------------------------------------------------------------

/// The registry through which a replica finds its source by "host:port".
#[derive(Clone, Default)]
pub struct World(Arc<Mutex<HashMap<String, Weak<Mutex<State>>>>>);

impl World {
    pub fn new() -> World {
        World::default()
    }

    fn lookup(&self, host: &str, port: u16) -> Option<PeerInfo> {
        let peer = self
            .0
            .lock()
            .unwrap()
            .get(&format!("{host}:{port}"))
            .and_then(Weak::upgrade)?;
        let info = peer.lock().unwrap().peer_info();
        Some(info)
    }
}

/// One fake server; it stops listening, and its connections end, when dropped.
pub struct FakeServer {
    state: Arc<Mutex<State>>,
    world: World,
    port: u16,
    socket: PathBuf,
    tasks: Vec<JoinHandle<()>>,
}

static NEXT_CONN_ID: AtomicU32 = AtomicU32::new(1);

impl FakeServer {
    /// Listens on 127.0.0.1:<free port> and on a Unix socket at `dir/fake.sock`; registers itself
    /// in `world` as "127.0.0.1:<port>".
    pub async fn start(world: &World, p: Personality, dir: &Path) -> FakeServer {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let socket = dir.join("fake.sock");
        let _ = std::fs::remove_file(&socket);
        let unix = UnixListener::bind(&socket).unwrap();
        let state = Arc::new(Mutex::new(State {
            p,
            vars: default_vars(p, port, &socket),
            channels: BTreeMap::new(),
            statements: Vec::new(),
            require_secure: false,
            apply_polls: 2,
        }));
        world
            .0
            .lock()
            .unwrap()
            .insert(format!("127.0.0.1:{port}"), Arc::downgrade(&state));
        let (s1, w1) = (state.clone(), world.clone());
        let tcp_task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = tcp.accept().await {
                while conns.try_join_next().is_some() {}
                let (r, w) = stream.into_split();
                conns.spawn(serve(s1.clone(), w1.clone(), r, w));
            }
        });
        let (s2, w2) = (state.clone(), world.clone());
        let unix_task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = unix.accept().await {
                while conns.try_join_next().is_some() {}
                let (r, w) = stream.into_split();
                conns.spawn(serve(s2.clone(), w2.clone(), r, w));
            }
        });
        FakeServer {
            state,
            world: world.clone(),
            port,
            socket,
            tasks: vec![tcp_task, unix_task],
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn socket(&self) -> PathBuf {
        self.socket.clone()
    }

    pub fn personality(&self) -> Personality {
        self.state.lock().unwrap().p
    }

    /// Every COM_QUERY text received, in order, across all connections.
    pub fn statements(&self) -> Vec<String> {
        self.state.lock().unwrap().statements.clone()
    }

    /// Sets a global variable (created if new); GTID variables are stored as the server would
    /// print them.
    pub fn set_var(&self, name: &str, value: &str) {
        let mut st = self.state.lock().unwrap();
        let value = normalize_var(st.p, name, value);
        st.vars.insert(name.to_ascii_lowercase(), Some(value));
    }

    pub fn var(&self, name: &str) -> Option<String> {
        let st = self.state.lock().unwrap();
        computed_var(&st, &name.to_ascii_lowercase()).flatten()
    }

    /// As a source, refuse a channel's IO thread unless the channel uses SSL or public-key
    /// retrieval (caching_sha2_password with a cold cache).
    pub fn require_secure_auth(&self, on: bool) {
        self.state.lock().unwrap().require_secure = on;
    }

    /// A pre-existing channel, as if an operator had configured it (no SSL, no public key).
    pub fn add_channel(&self, name: &str, host: &str, port: u16) {
        let mut st = self.state.lock().unwrap();
        let p = st.p;
        let ch = st
            .channels
            .entry(name.to_string())
            .or_insert_with(|| FakeChannel::new(name, p));
        ch.host = host.to_string();
        ch.port = port;
        if ch.user.is_empty() {
            ch.user = "repl".into();
        }
    }

    /// How many status polls a started channel shows lag before it has applied what it
    /// received (default 2).
    pub fn set_apply_polls(&self, n: u32) {
        self.state.lock().unwrap().apply_polls = n;
    }

    pub fn channel(&self, name: &str) -> Option<FakeChannel> {
        self.state.lock().unwrap().channels.get(name).cloned()
    }

    pub fn channels(&self) -> Vec<FakeChannel> {
        self.state
            .lock()
            .unwrap()
            .channels
            .values()
            .cloned()
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let key = format!("127.0.0.1:{}", self.port);
        let mut w = self.world.0.lock().unwrap();
        if w.get(&key)
            .is_some_and(|s| s.as_ptr() == Arc::as_ptr(&self.state))
        {
            w.remove(&key);
        }
        drop(w);
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn normalize_var(p: Personality, name: &str, value: &str) -> String {
    let name = name.to_ascii_lowercase();
    if p.is_mysql()
        && (name == "gtid_executed" || name == "gtid_purged")
        && let Some(set) = GtidSet::parse(value)
    {
        return set.to_string();
    }
    if p.is_mariadb()
        && name.starts_with("gtid_")
        && name.ends_with("_pos")
        && let Some(l) = GtidList::parse(value)
    {
        return l.to_string();
    }
    value.to_string()
}

/// A variable's value, computing the derived ones; None if no such variable.
fn computed_var(st: &State, name: &str) -> Option<Option<String>> {
    if st.p.is_mariadb() && name == "gtid_current_pos" {
        let a = GtidList::parse(&st.var("gtid_binlog_pos").unwrap_or_default()).unwrap_or_default();
        let b = GtidList::parse(&st.var("gtid_slave_pos").unwrap_or_default()).unwrap_or_default();
        return Some(Some(a.merge_max(&b).to_string()));
    }
    st.vars.get(name).cloned()
}

// ---------------------------------------------------------------------------------------------
// Wire plumbing: transcript tap on the read side, error rewriting on the write side
// ---------------------------------------------------------------------------------------------

/// Splits a byte stream into MySQL packets (sequence id, payload).
#[derive(Default)]
struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    fn push(&mut self, bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if self.buf.len() < 4 {
                break;
            }
            let len =
                self.buf[0] as usize | (self.buf[1] as usize) << 8 | (self.buf[2] as usize) << 16;
            if self.buf.len() < 4 + len {
                break;
            }
            let seq = self.buf[3];
            let payload = self.buf[4..4 + len].to_vec();
            self.buf.drain(..4 + len);
            out.push((seq, payload));
        }
        out
    }
}

/// Records every COM_QUERY (a command packet: sequence 0, first byte 0x03) into the transcript,
/// before the protocol library sees it (it answers some queries itself).
struct Tap<R> {
    inner: R,
    framer: Framer,
    state: Arc<Mutex<State>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tap<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            for (seq, payload) in this.framer.push(&buf.filled()[before..]) {
                if seq == 0 && payload.first() == Some(&0x03) {
                    let q = String::from_utf8_lossy(&payload[1..]).into_owned();
                    this.state.lock().unwrap().statements.push(q);
                }
            }
        }
        res
    }
}

/// Errors are written through opensrv with a placeholder code and a marker before the message
/// ("\0FAKE<code>:<sqlstate>:"), because its ErrorKind lacks MySQL's 3xxx codes; this writer
/// rewrites such error packets into the real code and SQL state.
const MARK: &[u8] = b"\0FAKE";

struct Rewrite<W> {
    inner: W,
    framer: Framer,
    out: Vec<u8>,
}

fn rewrite_packet(seq: u8, payload: Vec<u8>) -> Vec<u8> {
    let mut payload = payload;
    if payload.first() == Some(&0xFF) && payload.len() > 9 && payload[9..].starts_with(MARK) {
        let rest = &payload[9 + MARK.len()..];
        let text = String::from_utf8_lossy(rest).into_owned();
        let mut parts = text.splitn(3, ':');
        let code: u16 = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1105);
        let sqlstate = parts.next().unwrap_or("HY000").to_string();
        let msg = parts.next().unwrap_or("").to_string();
        let mut p = vec![0xFF];
        p.extend_from_slice(&code.to_le_bytes());
        p.push(b'#');
        p.extend_from_slice(sqlstate.as_bytes());
        p.extend_from_slice(msg.as_bytes());
        payload = p;
    }
    let len = payload.len();
    let mut out = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, seq];
    out.extend_from_slice(&payload);
    out
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Rewrite<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        for (seq, payload) in this.framer.push(buf) {
            let packet = rewrite_packet(seq, payload);
            this.out.extend_from_slice(&packet);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while !this.out.is_empty() {
            match Pin::new(&mut this.inner).poll_write(cx, &this.out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    this.out.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.as_mut().poll_flush(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

async fn serve<R, W>(state: Arc<Mutex<State>>, world: World, r: R, w: W)
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let shim = Shim {
        state: state.clone(),
        world,
        db: None,
        conn_id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
    };
    let tap = Tap {
        inner: r,
        framer: Framer::default(),
        state,
    };
    let rw = Rewrite {
        inner: w,
        framer: Framer::default(),
        out: Vec::new(),
    };
    let _ = AsyncMysqlIntermediary::run_on(shim, tap, rw).await;
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

enum Reply {
    Ok,
    Rows(Vec<String>, Vec<Vec<Option<String>>>),
    Err(u16, &'static str, String),
}

fn err(code: u16, msg: impl Into<String>) -> Reply {
    let state = match code {
        1064 | 1305 => "42000",
        1046 => "3D000",
        _ => "HY000",
    };
    Reply::Err(code, state, msg.into())
}

struct Shim {
    state: Arc<Mutex<State>>,
    world: World,
    db: Option<String>,
    conn_id: u32,
}

async fn send<W: AsyncWrite + Send + Unpin>(
    reply: Reply,
    results: QueryResultWriter<'_, W>,
) -> io::Result<()> {
    match reply {
        Reply::Ok => results.completed(OkResponse::default()).await,
        Reply::Err(code, sqlstate, msg) => {
            let mut m = MARK.to_vec();
            m.extend_from_slice(format!("{code}:{sqlstate}:{msg}").as_bytes());
            results.error(ErrorKind::ER_UNKNOWN_ERROR, &m[..]).await
        }
        Reply::Rows(names, rows) => {
            let cols: Vec<Column> = names
                .iter()
                .map(|n| Column {
                    table: String::new(),
                    column: n.clone(),
                    coltype: ColumnType::MYSQL_TYPE_VAR_STRING,
                    colflags: ColumnFlags::empty(),
                })
                .collect();
            let mut w = results.start(&cols).await?;
            for row in rows {
                for v in row {
                    w.write_col(v.as_deref())?;
                }
                w.end_row().await?;
            }
            w.finish().await
        }
    }
}

#[async_trait::async_trait]
impl<W: AsyncWrite + Send + Unpin> AsyncMysqlShim<W> for Shim {
    type Error = io::Error;

    fn version(&self) -> String {
        self.state.lock().unwrap().p.version().to_string()
    }

    fn connect_id(&self) -> u32 {
        self.conn_id
    }

    async fn on_prepare<'a>(
        &'a mut self,
        _query: &'a str,
        info: StatementMetaWriter<'a, W>,
    ) -> io::Result<()> {
        let mut m = MARK.to_vec();
        m.extend_from_slice(
            b"1295:HY000:This command is not supported in the prepared statement protocol yet",
        );
        info.error(ErrorKind::ER_UNKNOWN_ERROR, &m[..]).await
    }

    async fn on_execute<'a>(
        &'a mut self,
        _id: u32,
        _params: ParamParser<'a>,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        send(
            err(1243, "Unknown prepared statement handler given to EXECUTE"),
            results,
        )
        .await
    }

    async fn on_close<'a>(&'a mut self, _stmt: u32)
    where
        W: 'async_trait,
    {
    }

    async fn on_query<'a>(
        &'a mut self,
        query: &'a str,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        let reply = self.execute(query).await;
        send(reply, results).await
    }

    async fn on_init<'a>(&'a mut self, db: &'a str, w: InitWriter<'a, W>) -> io::Result<()> {
        self.db = Some(db.to_string());
        w.ok().await
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser helpers
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tk {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    SysVar(String),
    UserVar(String),
    Sym(char),
}

#[derive(Debug, Clone)]
struct Tok {
    t: Tk,
    at: usize,
    end: usize,
}

/// Tokenizes; Err(offset) at a character no statement can contain.
fn lex(q: &str) -> Result<Vec<Tok>, usize> {
    let b: Vec<char> = q.chars().collect();
    // Byte offsets of each char.
    let offs: Vec<usize> = q.char_indices().map(|(i, _)| i).chain([q.len()]).collect();
    let mut i = 0;
    let mut out = Vec::new();
    let word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#'
            || (c == '-'
                && b.get(i + 1) == Some(&'-')
                && b.get(i + 2).is_none_or(|c| c.is_whitespace()))
        {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
            continue;
        }
        let t = if c == '\'' || c == '"' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(offs[start]);
                };
                if ch == quote {
                    if b.get(i + 1) == Some(&quote) {
                        s.push(quote);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                if ch == '\\' {
                    let Some(&n) = b.get(i + 1) else {
                        return Err(offs[start]);
                    };
                    match n {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        '0' => s.push('\0'),
                        'b' => s.push('\u{8}'),
                        'Z' => s.push('\u{1a}'),
                        '%' | '_' => {
                            s.push('\\');
                            s.push(n);
                        }
                        other => s.push(other),
                    }
                    i += 2;
                    continue;
                }
                s.push(ch);
                i += 1;
            }
            Tk::Str(s)
        } else if c == '`' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(offs[start]);
                };
                if ch == '`' {
                    if b.get(i + 1) == Some(&'`') {
                        s.push('`');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(ch);
                i += 1;
            }
            Tk::Quoted(s)
        } else if c == '@' && b.get(i + 1) == Some(&'@') {
            i += 2;
            let s0 = i;
            while i < b.len() && (word_char(b[i]) || b[i] == '.') {
                i += 1;
            }
            if i == s0 {
                return Err(offs[start]);
            }
            Tk::SysVar(b[s0..i].iter().collect())
        } else if c == '@' {
            i += 1;
            let s0 = i;
            while i < b.len() && word_char(b[i]) {
                i += 1;
            }
            Tk::UserVar(b[s0..i].iter().collect())
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                i += 1;
            }
            if i < b.len() && word_char(b[i]) {
                while i < b.len() && word_char(b[i]) {
                    i += 1;
                }
                Tk::Word(b[start..i].iter().collect())
            } else {
                Tk::Num(b[start..i].iter().collect())
            }
        } else if word_char(c) {
            while i < b.len() && word_char(b[i]) {
                i += 1;
            }
            Tk::Word(b[start..i].iter().collect())
        } else if "=,();.-+*<>!:".contains(c) {
            i += 1;
            Tk::Sym(c)
        } else {
            return Err(offs[start]);
        };
        out.push(Tok {
            t,
            at: offs[start],
            end: offs[i],
        });
    }
    // A trailing ';' ends the statement.
    if matches!(
        out.last(),
        Some(Tok {
            t: Tk::Sym(';'),
            ..
        })
    ) {
        out.pop();
    }
    Ok(out)
}

/// Parse failure at a byte offset.
type PResult<T> = Result<T, usize>;

struct Parser<'a> {
    toks: &'a [Tok],
    i: usize,
    qlen: usize,
}

impl<'a> Parser<'a> {
    fn new(toks: &'a [Tok], qlen: usize) -> Self {
        Parser { toks, i: 0, qlen }
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.qlen, |t| t.at)
    }

    fn fail<T>(&self) -> PResult<T> {
        Err(self.pos())
    }

    fn peek(&self) -> Option<&'a Tk> {
        self.toks.get(self.i).map(|t| &t.t)
    }

    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tk::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.kw(kw) { Ok(()) } else { self.fail() }
    }

    fn sym(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tk::Sym(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, c: char) -> PResult<()> {
        if self.sym(c) { Ok(()) } else { self.fail() }
    }

    fn string(&mut self) -> PResult<String> {
        match self.peek() {
            Some(Tk::Str(s)) => {
                self.i += 1;
                Ok(s.clone())
            }
            _ => self.fail(),
        }
    }

    fn opt_string(&mut self) -> Option<String> {
        match self.peek() {
            Some(Tk::Str(s)) => {
                self.i += 1;
                Some(s.clone())
            }
            _ => None,
        }
    }

    fn uint(&mut self) -> PResult<u64> {
        match self.peek() {
            Some(Tk::Num(n)) if !n.contains('.') => {
                let v = n.parse().map_err(|_| self.pos())?;
                self.i += 1;
                Ok(v)
            }
            _ => self.fail(),
        }
    }

    fn end(&self) -> PResult<()> {
        if self.i == self.toks.len() {
            Ok(())
        } else {
            self.fail()
        }
    }
}

fn parse_error(p: Personality, q: &str, at: usize) -> Reply {
    let near: String = q[at..].chars().take(80).collect();
    let line = q[..at].matches('\n').count() + 1;
    err(
        1064,
        format!(
            "You have an error in your SQL syntax; check the manual that corresponds to your {} server version for the right syntax to use near '{near}' at line {line}",
            p.product()
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Replication statements
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// MySQL without FOR CHANNEL (all channels), MariaDB ALL SLAVES.
    All,
    Named(String),
    /// MariaDB without a connection name: @@default_master_connection.
    Default(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StatusStyle {
    MariaAll,
    MariaOne,
    MySlave,
    MyReplica,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Threads {
    io: bool,
    sql: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Int(u64),
    Word(String),
    List(Vec<u64>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Opt {
    Host,
    Port,
    User,
    Password,
    ConnectRetry,
    AutoPosition,
    Ssl,
    GetPublicKey,
    UseGtid,
    IgnoreDomainIds,
    DoDomainIds,
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum VType {
    Str,
    Int,
    Num,
    Word,
    List,
}

#[derive(Debug, Clone, PartialEq)]
enum Repl {
    Change(String, Vec<(Opt, Val)>),
    Start(Target, Threads),
    Stop(Target, Threads),
    Reset(Target, bool),
    Show(Target, StatusStyle),
    ResetBinlogs,
}

/// The option's meaning and value type in this version's CHANGE statement, or None (1064).
fn option_kind(p: Personality, name: &str) -> Option<(Opt, VType)> {
    let n = name.to_ascii_uppercase();
    let (prefix, rest) = if let Some(r) = n.strip_prefix("MASTER_") {
        ("MASTER", r.to_string())
    } else if let Some(r) = n.strip_prefix("SOURCE_") {
        ("SOURCE", r.to_string())
    } else {
        ("", n.clone())
    };
    if p.is_mariadb() {
        if prefix == "SOURCE" {
            return None;
        }
        return match n.as_str() {
            "MASTER_HOST" => Some((Opt::Host, VType::Str)),
            "MASTER_PORT" => Some((Opt::Port, VType::Int)),
            "MASTER_USER" => Some((Opt::User, VType::Str)),
            "MASTER_PASSWORD" => Some((Opt::Password, VType::Str)),
            "MASTER_CONNECT_RETRY" => Some((Opt::ConnectRetry, VType::Int)),
            "MASTER_USE_GTID" => Some((Opt::UseGtid, VType::Word)),
            "MASTER_SSL" => Some((Opt::Ssl, VType::Int)),
            "IGNORE_DOMAIN_IDS" => Some((Opt::IgnoreDomainIds, VType::List)),
            "DO_DOMAIN_IDS" => Some((Opt::DoDomainIds, VType::List)),
            "IGNORE_SERVER_IDS" => Some((Opt::Ignored, VType::List)),
            "MASTER_LOG_FILE" | "RELAY_LOG_FILE" | "MASTER_SSL_CA" | "MASTER_SSL_CAPATH"
            | "MASTER_SSL_CERT" | "MASTER_SSL_KEY" | "MASTER_SSL_CIPHER" | "MASTER_SSL_CRL"
            | "MASTER_SSL_CRLPATH" => Some((Opt::Ignored, VType::Str)),
            "MASTER_LOG_POS"
            | "RELAY_LOG_POS"
            | "MASTER_DELAY"
            | "MASTER_SSL_VERIFY_SERVER_CERT"
            | "MASTER_DEMOTE_TO_SLAVE" => Some((Opt::Ignored, VType::Int)),
            "MASTER_HEARTBEAT_PERIOD" => Some((Opt::Ignored, VType::Num)),
            _ => None,
        };
    }
    match prefix {
        "MASTER" if !p.has_master_opts() => return None,
        "SOURCE" if !p.has_source_opts() => return None,
        _ => {}
    }
    if !prefix.is_empty() {
        return match rest.as_str() {
            "HOST" => Some((Opt::Host, VType::Str)),
            "PORT" => Some((Opt::Port, VType::Int)),
            "USER" => Some((Opt::User, VType::Str)),
            "PASSWORD" => Some((Opt::Password, VType::Str)),
            "CONNECT_RETRY" => Some((Opt::ConnectRetry, VType::Int)),
            "AUTO_POSITION" => Some((Opt::AutoPosition, VType::Int)),
            "SSL" => Some((Opt::Ssl, VType::Int)),
            "LOG_FILE" | "SSL_CA" | "SSL_CAPATH" | "SSL_CERT" | "SSL_KEY" | "SSL_CIPHER"
            | "SSL_CRL" | "SSL_CRLPATH" | "BIND" | "TLS_VERSION" => {
                Some((Opt::Ignored, VType::Str))
            }
            "PUBLIC_KEY_PATH" | "TLS_CIPHERSUITES" | "COMPRESSION_ALGORITHMS"
                if p != Personality::MySql57 =>
            {
                Some((Opt::Ignored, VType::Str))
            }
            "LOG_POS" | "DELAY" | "RETRY_COUNT" | "SSL_VERIFY_SERVER_CERT" => {
                Some((Opt::Ignored, VType::Int))
            }
            "ZSTD_COMPRESSION_LEVEL" if p != Personality::MySql57 => {
                Some((Opt::Ignored, VType::Int))
            }
            "HEARTBEAT_PERIOD" => Some((Opt::Ignored, VType::Num)),
            "CONNECTION_AUTO_FAILOVER" if p.has_source_opts() => Some((Opt::Ignored, VType::Int)),
            _ => None,
        };
    }
    match n.as_str() {
        "GET_MASTER_PUBLIC_KEY" if p.has_master_opts() && p != Personality::MySql57 => {
            Some((Opt::GetPublicKey, VType::Int))
        }
        "GET_SOURCE_PUBLIC_KEY" if p.has_source_opts() => Some((Opt::GetPublicKey, VType::Int)),
        "IGNORE_SERVER_IDS" => Some((Opt::Ignored, VType::List)),
        "RELAY_LOG_FILE" => Some((Opt::Ignored, VType::Str)),
        "RELAY_LOG_POS" => Some((Opt::Ignored, VType::Int)),
        "PRIVILEGE_CHECKS_USER" | "REQUIRE_ROW_FORMAT" | "REQUIRE_TABLE_PRIMARY_KEY_CHECK"
            if p != Personality::MySql57 =>
        {
            Some((Opt::Ignored, VType::Word))
        }
        "ASSIGN_GTIDS_TO_ANONYMOUS_TRANSACTIONS" | "GTID_ONLY" if p.has_source_opts() => {
            Some((Opt::Ignored, VType::Word))
        }
        _ => None,
    }
}

fn parse_value(ps: &mut Parser, ty: VType) -> PResult<Val> {
    match ty {
        VType::Str => ps.string().map(Val::Str),
        VType::Int => ps.uint().map(Val::Int),
        VType::Num => match ps.peek() {
            Some(Tk::Num(_)) => {
                ps.i += 1;
                Ok(Val::Int(0))
            }
            _ => ps.fail(),
        },
        VType::Word => match ps.peek() {
            Some(Tk::Word(w)) => {
                ps.i += 1;
                Ok(Val::Word(w.clone()))
            }
            Some(Tk::Str(s)) => {
                ps.i += 1;
                Ok(Val::Str(s.clone()))
            }
            Some(Tk::Num(n)) => {
                ps.i += 1;
                Ok(Val::Word(n.clone()))
            }
            _ => ps.fail(),
        },
        VType::List => {
            ps.expect_sym('(')?;
            let mut v = Vec::new();
            if !ps.sym(')') {
                loop {
                    v.push(ps.uint()?);
                    if ps.sym(')') {
                        break;
                    }
                    ps.expect_sym(',')?;
                }
            }
            Ok(Val::List(v))
        }
    }
}

fn parse_options(p: Personality, ps: &mut Parser) -> PResult<Vec<(Opt, Val)>> {
    let mut opts = Vec::new();
    loop {
        let at = ps.pos();
        let name = match ps.peek() {
            Some(Tk::Word(w)) => w.clone(),
            _ => return ps.fail(),
        };
        let Some((opt, ty)) = option_kind(p, &name) else {
            return Err(at);
        };
        ps.i += 1;
        ps.expect_sym('=')?;
        let at = ps.pos();
        let val = parse_value(ps, ty)?;
        if opt == Opt::UseGtid {
            let w = match &val {
                Val::Word(w) => w.to_ascii_lowercase(),
                _ => return Err(at),
            };
            if !["slave_pos", "current_pos", "no"].contains(&w.as_str()) {
                return Err(at);
            }
        }
        opts.push((opt, val));
        if !ps.sym(',') {
            break;
        }
    }
    Ok(opts)
}

fn parse_for_channel(p: Personality, ps: &mut Parser) -> PResult<Option<String>> {
    if p.is_mysql() && ps.kw("FOR") {
        ps.expect_kw("CHANNEL")?;
        return ps.string().map(Some);
    }
    Ok(None)
}

/// SLAVE / REPLICA keyword of this version.
fn replica_kw(p: Personality, ps: &mut Parser) -> PResult<&'static str> {
    if p.has_slave_kw() && ps.kw("SLAVE") {
        return Ok("SLAVE");
    }
    if p.has_replica_kw() && ps.kw("REPLICA") {
        return Ok("REPLICA");
    }
    ps.fail()
}

fn parse_threads(ps: &mut Parser) -> PResult<Threads> {
    let mut t = Threads {
        io: false,
        sql: false,
    };
    loop {
        if ps.kw("IO_THREAD") {
            t.io = true;
        } else if ps.kw("SQL_THREAD") {
            t.sql = true;
        } else {
            break;
        }
        if !ps.sym(',') {
            break;
        }
    }
    if !t.io && !t.sql {
        t = Threads {
            io: true,
            sql: true,
        };
    }
    Ok(t)
}

/// Parses a replication statement; Ok(None) if the statement is not one (first word unknown).
fn parse_repl(
    p: Personality,
    toks: &[Tok],
    qlen: usize,
    default_conn: &str,
) -> PResult<Option<Repl>> {
    let mut ps = Parser::new(toks, qlen);
    let maria = p.is_mariadb();
    let mysql_target = |ch: Option<String>| ch.map_or(Target::All, Target::Named);
    let stmt = if ps.kw("CHANGE") {
        if ps.peek_kw("MASTER") && (maria || p.has_master_opts()) {
            ps.i += 1;
            let name = if maria { ps.opt_string() } else { None };
            ps.expect_kw("TO")?;
            let opts = parse_options(p, &mut ps)?;
            let ch = parse_for_channel(p, &mut ps)?;
            Repl::Change(
                ch.or(name).unwrap_or_else(|| {
                    if maria {
                        default_conn.to_string()
                    } else {
                        String::new()
                    }
                }),
                opts,
            )
        } else if ps.peek_kw("REPLICATION") && p.has_source_opts() {
            ps.i += 1;
            ps.expect_kw("SOURCE")?;
            ps.expect_kw("TO")?;
            let opts = parse_options(p, &mut ps)?;
            let ch = parse_for_channel(p, &mut ps)?;
            Repl::Change(ch.unwrap_or_default(), opts)
        } else {
            return ps.fail();
        }
    } else if ps.peek_kw("START") || ps.peek_kw("STOP") {
        let start = ps.kw("START");
        if !start {
            ps.i += 1;
        }
        let (target, threads) = if maria && ps.kw("ALL") {
            if !(ps.kw("SLAVES") || ps.kw("REPLICAS")) {
                return ps.fail();
            }
            (Target::All, parse_threads(&mut ps)?)
        } else {
            replica_kw(p, &mut ps)?;
            if maria {
                let t = ps
                    .opt_string()
                    .map_or_else(|| Target::Default(default_conn.to_string()), Target::Named);
                (t, parse_threads(&mut ps)?)
            } else {
                let t = parse_threads(&mut ps)?;
                (mysql_target(parse_for_channel(p, &mut ps)?), t)
            }
        };
        if start {
            Repl::Start(target, threads)
        } else {
            Repl::Stop(target, threads)
        }
    } else if ps.kw("RESET") {
        if ps.peek_kw("MASTER") && p != Personality::MySql84 {
            ps.i += 1;
            Repl::ResetBinlogs
        } else if p == Personality::MySql84 && ps.kw("BINARY") {
            ps.expect_kw("LOGS")?;
            ps.expect_kw("AND")?;
            ps.expect_kw("GTIDS")?;
            Repl::ResetBinlogs
        } else {
            replica_kw(p, &mut ps)?;
            if maria {
                let t = ps
                    .opt_string()
                    .map_or_else(|| Target::Default(default_conn.to_string()), Target::Named);
                let all = ps.kw("ALL");
                Repl::Reset(t, all)
            } else {
                let all = ps.kw("ALL");
                Repl::Reset(mysql_target(parse_for_channel(p, &mut ps)?), all)
            }
        }
    } else if ps.kw("SHOW") {
        if maria && ps.kw("ALL") {
            if !(ps.kw("SLAVES") || ps.kw("REPLICAS")) {
                return ps.fail();
            }
            ps.expect_kw("STATUS")?;
            Repl::Show(Target::All, StatusStyle::MariaAll)
        } else if (p.has_slave_kw() && ps.peek_kw("SLAVE"))
            || (p.has_replica_kw() && ps.peek_kw("REPLICA"))
        {
            let kw = replica_kw(p, &mut ps)?;
            if maria {
                let t = ps
                    .opt_string()
                    .map_or_else(|| Target::Default(default_conn.to_string()), Target::Named);
                ps.expect_kw("STATUS")?;
                Repl::Show(t, StatusStyle::MariaOne)
            } else {
                ps.expect_kw("STATUS")?;
                let t = mysql_target(parse_for_channel(p, &mut ps)?);
                let style = if kw == "SLAVE" {
                    StatusStyle::MySlave
                } else {
                    StatusStyle::MyReplica
                };
                Repl::Show(t, style)
            }
        } else {
            return Ok(None);
        }
    } else {
        return Ok(None);
    };
    ps.end()?;
    Ok(Some(stmt))
}

// ---------------------------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------------------------

fn no_channel(p: Personality, name: &str) -> Reply {
    if p.is_mariadb() {
        err(1617, format!("There is no master connection '{name}'"))
    } else {
        err(
            3074,
            format!("Replication channel '{name}' does not exist."),
        )
    }
}

fn must_stop(p: Personality, name: &str) -> Reply {
    if p.is_mariadb() {
        err(
            1198,
            format!(
                "This operation cannot be performed as you have a running slave '{name}'; run STOP SLAVE '{name}' first"
            ),
        )
    } else if p.says_source() {
        err(
            3081,
            format!(
                "This operation cannot be performed with running replication threads; run STOP REPLICA FOR CHANNEL '{name}' first"
            ),
        )
    } else {
        err(
            3081,
            format!(
                "This operation cannot be performed with running replication threads; run STOP SLAVE FOR CHANNEL '{name}' first"
            ),
        )
    }
}

fn io_must_stop(p: Personality, name: &str) -> Reply {
    if p.is_mariadb() {
        must_stop(p, name)
    } else if p.says_source() {
        err(
            3021,
            format!(
                "This operation cannot be performed with a running replica io thread; run STOP REPLICA IO_THREAD FOR CHANNEL '{name}' first."
            ),
        )
    } else {
        err(
            3021,
            format!(
                "This operation cannot be performed with a running slave io thread; run STOP SLAVE IO_THREAD FOR CHANNEL '{name}' first."
            ),
        )
    }
}

fn not_configured(p: Personality) -> Reply {
    if p.is_mariadb() {
        err(
            1200,
            "Misconfigured slave: MASTER_HOST was not set; Fix in config file or with CHANGE MASTER TO",
        )
    } else if p.says_source() {
        err(
            1200,
            "The server is not configured as replica; fix in config file or with CHANGE REPLICATION SOURCE TO",
        )
    } else {
        err(
            1200,
            "The server is not configured as slave; fix in config file or with CHANGE MASTER TO",
        )
    }
}

/// The IO thread's connection attempt against what the World holds for host:port.
fn connect(p: Personality, ch: &mut FakeChannel, peer: Option<&PeerInfo>) {
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
fn apply(st: &mut State, name: &str) {
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

impl Shim {
    fn p(&self) -> Personality {
        self.state.lock().unwrap().p
    }

    async fn execute(&mut self, q: &str) -> Reply {
        let p = self.p();
        let toks = match lex(q) {
            Ok(t) => t,
            Err(at) => return parse_error(p, q, at),
        };
        let Some(first) = toks.first() else {
            return err(1065, "Query was empty");
        };
        let first_word = match &first.t {
            Tk::Word(w) => w.to_ascii_uppercase(),
            _ => return parse_error(p, q, first.at),
        };
        match first_word.as_str() {
            "SET" => return self.set(p, q, &toks),
            "SELECT" => return self.select(p, q, &toks).await,
            "FLUSH" | "SHUTDOWN" | "BEGIN" | "COMMIT" | "ROLLBACK" | "DO" => return Reply::Ok,
            "USE" => {
                if let Some(Tok {
                    t: Tk::Word(db) | Tk::Quoted(db),
                    ..
                }) = toks.get(1)
                {
                    self.db = Some(db.clone());
                    return Reply::Ok;
                }
                return parse_error(p, q, q.len());
            }
            _ => {}
        }
        let default_conn = self
            .state
            .lock()
            .unwrap()
            .var("default_master_connection")
            .unwrap_or_default();
        match parse_repl(p, &toks, q.len(), &default_conn) {
            Err(at) => parse_error(p, q, at),
            Ok(Some(stmt)) => self.replication(p, stmt),
            Ok(None) => {
                if first_word == "SHOW"
                    && let Some(r) = self.show_other(p, q, &toks)
                {
                    return r;
                }
                let at = toks.get(1).map_or(q.len(), |t| t.at);
                parse_error(p, q, if first_word == "SHOW" { at } else { first.at })
            }
        }
    }

    fn set(&self, p: Personality, q: &str, toks: &[Tok]) -> Reply {
        let mut ps = Parser::new(toks, q.len());
        ps.i = 1;
        let mut global = false;
        loop {
            // Scope keyword.
            if ps.kw("GLOBAL") || ps.kw("PERSIST") {
                global = true;
            } else if ps.kw("SESSION") || ps.kw("LOCAL") {
                global = false;
            }
            let name_at = ps.pos();
            let (name, is_global) = match ps.peek() {
                Some(Tk::SysVar(v)) => {
                    ps.i += 1;
                    let lower = v.to_ascii_lowercase();
                    if let Some(n) = lower.strip_prefix("global.") {
                        (Some(v[v.len() - n.len()..].to_string()), true)
                    } else if let Some(n) = lower
                        .strip_prefix("session.")
                        .or_else(|| lower.strip_prefix("local."))
                    {
                        (Some(v[v.len() - n.len()..].to_string()), false)
                    } else {
                        (Some(v.clone()), global)
                    }
                }
                Some(Tk::Word(w)) => {
                    ps.i += 1;
                    if w.eq_ignore_ascii_case("NAMES") || w.eq_ignore_ascii_case("CHARACTER") {
                        // SET NAMES x [COLLATE y], SET CHARACTER SET x: accepted as is.
                        return Reply::Ok;
                    }
                    (Some(w.clone()), global)
                }
                Some(Tk::UserVar(_)) => {
                    ps.i += 1;
                    (None, false)
                }
                _ => return parse_error(p, q, name_at),
            };
            if !(ps.sym('=') || (ps.sym(':') && ps.sym('='))) {
                return parse_error(p, q, ps.pos());
            }
            // The value: everything up to a top-level comma.
            let val_start = ps.i;
            let mut depth = 0i32;
            while let Some(t) = ps.peek() {
                match t {
                    Tk::Sym('(') => depth += 1,
                    Tk::Sym(')') => depth -= 1,
                    Tk::Sym(',') if depth == 0 => break,
                    _ => {}
                }
                ps.i += 1;
            }
            if ps.i == val_start {
                return parse_error(p, q, ps.pos());
            }
            if let (Some(name), true) = (name, is_global) {
                let lname = name.to_ascii_lowercase();
                let mut st = self.state.lock().unwrap();
                if !st.vars.contains_key(&lname) {
                    return err(1193, format!("Unknown system variable '{name}'"));
                }
                if READ_ONLY_VARS.contains(&lname.as_str()) {
                    return err(1238, format!("Variable '{name}' is a read only variable"));
                }
                let value = match (&toks[val_start].t, ps.i - val_start) {
                    (Tk::Str(s), 1) => s.clone(),
                    (Tk::Num(n), 1) => n.clone(),
                    (Tk::Word(w), 1) => {
                        let u = w.to_ascii_uppercase();
                        let cur = st.var(&lname).unwrap_or_default();
                        match u.as_str() {
                            "ON" | "TRUE" if cur == "0" || cur == "1" => "1".into(),
                            "OFF" | "FALSE" if cur == "0" || cur == "1" => "0".into(),
                            "DEFAULT" => cur,
                            _ => u,
                        }
                    }
                    _ => q[toks[val_start].at..toks[ps.i - 1].end].to_string(),
                };
                if st.p.is_mariadb() && lname == "gtid_slave_pos" {
                    if let Some(ch) = st.channels.values().find(|c| c.running()) {
                        return must_stop(st.p, &ch.name);
                    }
                    if GtidList::parse(&value).is_none() {
                        return err(1948, "Could not parse GTID list");
                    }
                }
                if st.p.is_mysql() && lname == "gtid_purged" {
                    let add = value.trim_start().trim_start_matches('+');
                    let Some(add) = GtidSet::parse(add) else {
                        return err(1772, format!("Malformed GTID set specification '{value}'."));
                    };
                    let ex = GtidSet::parse(&st.var("gtid_executed").unwrap_or_default())
                        .unwrap_or_default();
                    let pu = GtidSet::parse(&st.var("gtid_purged").unwrap_or_default())
                        .unwrap_or_default();
                    st.vars
                        .insert("gtid_executed".into(), Some(ex.union(&add).to_string()));
                    st.vars
                        .insert("gtid_purged".into(), Some(pu.union(&add).to_string()));
                    drop(st);
                } else {
                    let v = normalize_var(st.p, &lname, &value);
                    st.vars.insert(lname, Some(v));
                }
            }
            if !ps.sym(',') {
                break;
            }
        }
        match ps.end() {
            Ok(()) => Reply::Ok,
            Err(at) => parse_error(p, q, at),
        }
    }

    async fn select(&self, p: Personality, q: &str, toks: &[Tok]) -> Reply {
        // Split the items at top-level commas.
        let mut items: Vec<&[Tok]> = Vec::new();
        let mut depth = 0i32;
        let mut start = 1;
        for (i, t) in toks.iter().enumerate().skip(1) {
            match t.t {
                Tk::Sym('(') => depth += 1,
                Tk::Sym(')') => depth -= 1,
                Tk::Sym(',') if depth == 0 => {
                    items.push(&toks[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&toks[start..]);
        let mut names = Vec::new();
        let mut row = Vec::new();
        let mut sleep = 0.0f64;
        for item in items {
            if item.is_empty() {
                let at = toks.get(start).map_or(q.len(), |t| t.at);
                return parse_error(p, q, at);
            }
            // Optional alias: [AS] name at the end.
            let (expr, alias) = match item {
                [
                    e @ ..,
                    Tok { t: Tk::Word(a), .. },
                    Tok {
                        t: Tk::Word(n) | Tk::Quoted(n) | Tk::Str(n),
                        ..
                    },
                ] if a.eq_ignore_ascii_case("AS") && !e.is_empty() => (e, Some(n.clone())),
                _ => (item, None),
            };
            let text = q[expr[0].at..expr[expr.len() - 1].end].to_string();
            let value = match self.eval(p, q, expr).await {
                Ok((v, s)) => {
                    sleep += s;
                    v
                }
                Err(r) => return r,
            };
            names.push(alias.unwrap_or(text));
            row.push(value);
        }
        if sleep > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(sleep)).await;
        }
        Reply::Rows(names, vec![row])
    }

    /// One SELECT item: its value and how long evaluating it sleeps.
    async fn eval(
        &self,
        p: Personality,
        q: &str,
        e: &[Tok],
    ) -> Result<(Option<String>, f64), Reply> {
        match e {
            [
                Tok {
                    t: Tk::SysVar(v), ..
                },
            ] => {
                let lower = v.to_ascii_lowercase();
                let name = ["global.", "session.", "local."]
                    .iter()
                    .find_map(|s| lower.strip_prefix(s))
                    .unwrap_or(&lower);
                let st = self.state.lock().unwrap();
                match computed_var(&st, name) {
                    Some(val) => Ok((val, 0.0)),
                    None => Err(err(
                        1193,
                        format!("Unknown system variable '{}'", &v[v.len() - name.len()..]),
                    )),
                }
            }
            [Tok { t: Tk::Num(n), .. }] | [Tok { t: Tk::Str(n), .. }] => Ok((Some(n.clone()), 0.0)),
            [Tok { t: Tk::Word(w), .. }] if w.eq_ignore_ascii_case("NULL") => Ok((None, 0.0)),
            [
                Tok { t: Tk::Word(f), .. },
                Tok {
                    t: Tk::Sym('('), ..
                },
                args @ ..,
                Tok {
                    t: Tk::Sym(')'), ..
                },
            ] => {
                let fu = f.to_ascii_uppercase();
                match (fu.as_str(), args) {
                    ("VERSION", []) => Ok((Some(p.version().to_string()), 0.0)),
                    ("DATABASE", []) => Ok((self.db.clone(), 0.0)),
                    ("CONNECTION_ID", []) => Ok((Some(self.conn_id.to_string()), 0.0)),
                    ("WAIT_FOR_EXECUTED_GTID_SET", _) if p.is_mysql() => {
                        let (set, timeout) = wait_args(p, q, args)?;
                        let Some(want) = GtidSet::parse(&set) else {
                            return Err(err(
                                1772,
                                format!("Malformed GTID set specification '{set}'."),
                            ));
                        };
                        let have = GtidSet::parse(
                            &self
                                .state
                                .lock()
                                .unwrap()
                                .var("gtid_executed")
                                .unwrap_or_default(),
                        )
                        .unwrap_or_default();
                        if want.is_subset(&have) {
                            Ok((Some("0".into()), 0.0))
                        } else {
                            Ok((Some("1".into()), timeout.min(0.2)))
                        }
                    }
                    ("MASTER_GTID_WAIT", _) if p.is_mariadb() => {
                        let (pos, timeout) = wait_args(p, q, args)?;
                        let Some(want) = GtidList::parse(&pos) else {
                            return Err(err(1948, "Could not parse GTID list"));
                        };
                        let st = self.state.lock().unwrap();
                        let have = GtidList::parse(&st.var("gtid_slave_pos").unwrap_or_default())
                            .unwrap_or_default()
                            .merge_max(
                                &GtidList::parse(&st.var("gtid_binlog_pos").unwrap_or_default())
                                    .unwrap_or_default(),
                            );
                        drop(st);
                        let ok = want
                            .0
                            .iter()
                            .all(|(d, (_, seq))| have.seq(*d).is_some_and(|s| s >= *seq));
                        if ok {
                            Ok((Some("0".into()), 0.0))
                        } else {
                            Ok((Some("-1".into()), timeout.min(0.2)))
                        }
                    }
                    _ => {
                        // An unknown function is a stored function of the current database.
                        match &self.db {
                            None => Err(err(1046, "No database selected")),
                            Some(db) => Err(err(1305, format!("FUNCTION {db}.{f} does not exist"))),
                        }
                    }
                }
            }
            _ => Err(parse_error(p, q, e[0].at)),
        }
    }

    /// SHOW statements other than replication status.
    fn show_other(&self, p: Personality, q: &str, toks: &[Tok]) -> Option<Reply> {
        let mut ps = Parser::new(toks, q.len());
        ps.i = 1;
        let st = self.state.lock().unwrap();
        let _scope = ps.kw("GLOBAL") || ps.kw("SESSION");
        {
            if ps.kw("VARIABLES") {
                let pattern = if ps.kw("LIKE") {
                    match ps.string() {
                        Ok(s) => Some(s),
                        Err(at) => return Some(parse_error(p, q, at)),
                    }
                } else {
                    None
                };
                if let Err(at) = ps.end() {
                    return Some(parse_error(p, q, at));
                }
                let rows = st
                    .vars
                    .keys()
                    .filter(|k| pattern.as_deref().is_none_or(|pat| like(pat, k)))
                    .map(|k| {
                        vec![
                            Some(k.clone()),
                            Some(computed_var(&st, k).flatten().unwrap_or_default()),
                        ]
                    })
                    .collect();
                return Some(Reply::Rows(
                    vec!["Variable_name".into(), "Value".into()],
                    rows,
                ));
            }
        }
        ps.i = 1;
        let master_status = (p != Personality::MySql84 && ps.kw("MASTER"))
            || (p == Personality::MySql84 && ps.kw("BINARY") && ps.kw("LOG"));
        if master_status && ps.kw("STATUS") && ps.end().is_ok() {
            let mut names: Vec<String> = ["File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let mut row = vec![
                Some("mysql-bin.000001".to_string()),
                Some("1000".to_string()),
                Some(String::new()),
                Some(String::new()),
            ];
            if p.is_mysql() {
                names.push("Executed_Gtid_Set".into());
                row.push(st.var("gtid_executed"));
            }
            return Some(Reply::Rows(names, vec![row]));
        }
        None
    }

    fn replication(&self, p: Personality, stmt: Repl) -> Reply {
        match stmt {
            Repl::Change(name, opts) => self.change(p, &name, opts),
            Repl::Start(t, th) => self.start_stop(p, t, th, true),
            Repl::Stop(t, th) => self.start_stop(p, t, th, false),
            Repl::Reset(t, all) => self.reset(p, t, all),
            Repl::Show(t, style) => self.show_status(p, t, style),
            Repl::ResetBinlogs => {
                let mut st = self.state.lock().unwrap();
                let names: Vec<&str> = if p.is_mysql() {
                    vec!["gtid_executed", "gtid_purged"]
                } else {
                    vec!["gtid_binlog_pos", "gtid_binlog_state"]
                };
                for n in names {
                    st.vars.insert(n.into(), Some(String::new()));
                }
                Reply::Ok
            }
        }
    }

    fn change(&self, p: Personality, name: &str, opts: Vec<(Opt, Val)>) -> Reply {
        let mut st = self.state.lock().unwrap();
        if let Some(ch) = st.channels.get(name) {
            if ch.io != "No" {
                return io_must_stop(p, name);
            }
        } else if p.is_mysql()
            && !name.is_empty()
            && st
                .var("master_info_repository")
                .is_some_and(|v| v.eq_ignore_ascii_case("FILE"))
        {
            return err(
                3077,
                "To have multiple channels, repository cannot be of type FILE; Please check the repository configuration and convert them to TABLE.",
            );
        }
        let ch = st
            .channels
            .entry(name.to_string())
            .or_insert_with(|| FakeChannel::new(name, p));
        for (opt, val) in opts {
            match (opt, val) {
                (Opt::Host, Val::Str(s)) => ch.host = s,
                (Opt::Port, Val::Int(n)) => ch.port = n as u16,
                (Opt::User, Val::Str(s)) => ch.user = s,
                (Opt::Password, Val::Str(s)) => ch.password = s,
                (Opt::ConnectRetry, Val::Int(n)) => ch.connect_retry = n as u32,
                (Opt::AutoPosition, Val::Int(n)) => ch.auto_position = n != 0,
                (Opt::Ssl, Val::Int(n)) => ch.ssl = n != 0,
                (Opt::GetPublicKey, Val::Int(n)) => ch.get_public_key = n != 0,
                (Opt::UseGtid, Val::Word(w)) => {
                    ch.use_gtid = match w.to_ascii_lowercase().as_str() {
                        "slave_pos" => "Slave_Pos",
                        "current_pos" => "Current_Pos",
                        _ => "No",
                    }
                    .into()
                }
                (Opt::IgnoreDomainIds, Val::List(l)) => {
                    ch.ignore_domain_ids = l.into_iter().map(|d| d as u32).collect()
                }
                (Opt::DoDomainIds, Val::List(l)) => {
                    ch.do_domain_ids = l.into_iter().map(|d| d as u32).collect()
                }
                _ => {}
            }
        }
        Reply::Ok
    }

    /// The channels a statement names; `show` tolerates a missing MariaDB default connection.
    fn targets(&self, st: &State, t: &Target, show: bool) -> Result<Vec<String>, Reply> {
        match t {
            Target::All => Ok(st.channels.keys().cloned().collect()),
            Target::Named(n) | Target::Default(n) if st.channels.contains_key(n) => {
                Ok(vec![n.clone()])
            }
            // MariaDB's default connection '' always exists, unconfigured.
            Target::Named(n) | Target::Default(n) if st.p.is_mariadb() && n.is_empty() => {
                Ok(Vec::new())
            }
            Target::Default(_) if show => Ok(Vec::new()),
            Target::Named(n) | Target::Default(n) => Err(no_channel(st.p, n)),
        }
    }

    fn start_stop(&self, p: Personality, t: Target, th: Threads, start: bool) -> Reply {
        let names = {
            let st = self.state.lock().unwrap();
            match self.targets(&st, &t, false) {
                Ok(n) => n,
                Err(r) => return r,
            }
        };
        if !start {
            let mut st = self.state.lock().unwrap();
            for n in names {
                if let Some(ch) = st.channels.get_mut(&n) {
                    if th.io {
                        ch.io = "No".into();
                    }
                    if th.sql {
                        ch.sql = "No".into();
                    }
                }
            }
            return Reply::Ok;
        }
        let st0 = self.state.lock().unwrap();
        if (names.is_empty() && (t != Target::All || p.is_mysql()))
            || names.iter().any(|n| st0.channels[n].host.is_empty())
        {
            return not_configured(p);
        }
        drop(st0);
        // Look the peers up without holding our own lock (a peer may be ourselves).
        let hosts: Vec<(String, String, u16)> = {
            let st = self.state.lock().unwrap();
            names
                .iter()
                .map(|n| (n.clone(), st.channels[n].host.clone(), st.channels[n].port))
                .collect()
        };
        let peers: Vec<(String, Option<PeerInfo>)> = hosts
            .into_iter()
            .map(|(n, h, port)| (n, self.world.lookup(&h, port)))
            .collect();
        let mut st = self.state.lock().unwrap();
        for (n, peer) in peers {
            let Some(ch) = st.channels.get_mut(&n) else {
                continue;
            };
            if th.io && ch.io == "No" {
                ch.retries = 0;
                ch.polls = 0;
                ch.applied = false;
                connect(p, ch, peer.as_ref());
            }
            if th.sql && ch.sql == "No" {
                ch.sql = "Yes".into();
                ch.polls = 0;
                ch.applied = false;
            }
        }
        Reply::Ok
    }

    fn reset(&self, p: Personality, t: Target, all: bool) -> Reply {
        let mut st = self.state.lock().unwrap();
        let names = match self.targets(&st, &t, false) {
            Ok(n) => n,
            Err(r) => return r,
        };
        if let Some(n) = names.iter().find(|n| st.channels[*n].running()) {
            return must_stop(p, n);
        }
        for n in names {
            if all {
                st.channels.remove(&n);
            } else if let Some(ch) = st.channels.get_mut(&n) {
                ch.received = String::new();
                ch.last_io_errno = 0;
                ch.last_io_error = String::new();
                ch.applied = false;
                ch.polls = 0;
                ch.retries = 0;
            }
        }
        Reply::Ok
    }

    /// A status poll: running channels reconnect or advance, then rows are built.
    fn show_status(&self, p: Personality, t: Target, style: StatusStyle) -> Reply {
        let names = {
            let st = self.state.lock().unwrap();
            match self.targets(&st, &t, true) {
                Ok(n) => n,
                Err(r) => return r,
            }
        };
        let hosts: Vec<(String, String, u16)> = {
            let st = self.state.lock().unwrap();
            names
                .iter()
                .filter(|n| st.channels[*n].io != "No")
                .map(|n| (n.clone(), st.channels[n].host.clone(), st.channels[n].port))
                .collect()
        };
        let peers: Vec<(String, Option<PeerInfo>)> = hosts
            .into_iter()
            .map(|(n, h, port)| (n, self.world.lookup(&h, port)))
            .collect();
        let mut st = self.state.lock().unwrap();
        let apply_polls = st.apply_polls;
        for (n, peer) in peers {
            let Some(ch) = st.channels.get_mut(&n) else {
                continue;
            };
            match (ch.io.as_str(), &peer) {
                ("Connecting", _) => connect(p, ch, peer.as_ref()),
                ("Yes", None) => connect(p, ch, None),
                ("Yes", Some(peer)) => ch.received = peer.position.clone(),
                _ => {}
            }
            if ch.io == "Yes" && ch.sql == "Yes" {
                let seen = ch.polls;
                ch.polls += 1;
                if seen >= apply_polls {
                    apply(&mut st, &n);
                }
            }
        }
        status_rows(&st, &names, style)
    }
}

fn like(pattern: &str, s: &str) -> bool {
    fn rec(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|i| rec(&p[1..], &s[i..])),
            Some('_') => !s.is_empty() && rec(&p[1..], &s[1..]),
            Some('\\') if p.len() > 1 => {
                !s.is_empty() && s[0].eq_ignore_ascii_case(&p[1]) && rec(&p[2..], &s[1..])
            }
            Some(c) => !s.is_empty() && s[0].eq_ignore_ascii_case(c) && rec(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    rec(&p, &s)
}

fn wait_args(p: Personality, q: &str, args: &[Tok]) -> Result<(String, f64), Reply> {
    match args {
        [Tok { t: Tk::Str(s), .. }] => Ok((s.clone(), f64::INFINITY)),
        [
            Tok { t: Tk::Str(s), .. },
            Tok {
                t: Tk::Sym(','), ..
            },
            Tok { t: Tk::Num(n), .. },
        ] => Ok((s.clone(), n.parse().unwrap_or(0.0))),
        [] => Err(parse_error(p, q, q.len())),
        _ => Err(parse_error(p, q, args[0].at)),
    }
}

// ---------------------------------------------------------------------------------------------
// Status rows
// ---------------------------------------------------------------------------------------------

/// MySQL 8.0's SHOW REPLICA STATUS columns; SHOW SLAVE STATUS renames them.
const MYSQL_REPLICA_COLUMNS: &[&str] = &[
    "Replica_IO_State",
    "Source_Host",
    "Source_User",
    "Source_Port",
    "Connect_Retry",
    "Source_Log_File",
    "Read_Source_Log_Pos",
    "Relay_Log_File",
    "Relay_Log_Pos",
    "Relay_Source_Log_File",
    "Replica_IO_Running",
    "Replica_SQL_Running",
    "Replicate_Do_DB",
    "Replicate_Ignore_DB",
    "Replicate_Do_Table",
    "Replicate_Ignore_Table",
    "Replicate_Wild_Do_Table",
    "Replicate_Wild_Ignore_Table",
    "Last_Errno",
    "Last_Error",
    "Skip_Counter",
    "Exec_Source_Log_Pos",
    "Relay_Log_Space",
    "Until_Condition",
    "Until_Log_File",
    "Until_Log_Pos",
    "Source_SSL_Allowed",
    "Source_SSL_CA_File",
    "Source_SSL_CA_Path",
    "Source_SSL_Cert",
    "Source_SSL_Cipher",
    "Source_SSL_Key",
    "Seconds_Behind_Source",
    "Source_SSL_Verify_Server_Cert",
    "Last_IO_Errno",
    "Last_IO_Error",
    "Last_SQL_Errno",
    "Last_SQL_Error",
    "Replicate_Ignore_Server_Ids",
    "Source_Server_Id",
    "Source_UUID",
    "Source_Info_File",
    "SQL_Delay",
    "SQL_Remaining_Delay",
    "Replica_SQL_Running_State",
    "Source_Retry_Count",
    "Source_Bind",
    "Last_IO_Error_Timestamp",
    "Last_SQL_Error_Timestamp",
    "Source_SSL_Crl",
    "Source_SSL_Crlpath",
    "Retrieved_Gtid_Set",
    "Executed_Gtid_Set",
    "Auto_Position",
    "Replicate_Rewrite_DB",
    "Channel_Name",
    "Source_TLS_Version",
    "Source_public_key_path",
    "Get_Source_public_key",
    "Network_Namespace",
];

/// MariaDB's SHOW ALL SLAVES STATUS columns; `true` marks those SHOW SLAVE STATUS lacks.
const MARIADB_COLUMNS: &[(&str, bool)] = &[
    ("Connection_name", true),
    ("Slave_SQL_State", true),
    ("Slave_IO_State", false),
    ("Master_Host", false),
    ("Master_User", false),
    ("Master_Port", false),
    ("Connect_Retry", false),
    ("Master_Log_File", false),
    ("Read_Master_Log_Pos", false),
    ("Relay_Log_File", false),
    ("Relay_Log_Pos", false),
    ("Relay_Master_Log_File", false),
    ("Slave_IO_Running", false),
    ("Slave_SQL_Running", false),
    ("Replicate_Do_DB", false),
    ("Replicate_Ignore_DB", false),
    ("Replicate_Do_Table", false),
    ("Replicate_Ignore_Table", false),
    ("Replicate_Wild_Do_Table", false),
    ("Replicate_Wild_Ignore_Table", false),
    ("Last_Errno", false),
    ("Last_Error", false),
    ("Skip_Counter", false),
    ("Exec_Master_Log_Pos", false),
    ("Relay_Log_Space", false),
    ("Until_Condition", false),
    ("Until_Log_File", false),
    ("Until_Log_Pos", false),
    ("Master_SSL_Allowed", false),
    ("Master_SSL_CA_File", false),
    ("Master_SSL_CA_Path", false),
    ("Master_SSL_Cert", false),
    ("Master_SSL_Cipher", false),
    ("Master_SSL_Key", false),
    ("Seconds_Behind_Master", false),
    ("Master_SSL_Verify_Server_Cert", false),
    ("Last_IO_Errno", false),
    ("Last_IO_Error", false),
    ("Last_SQL_Errno", false),
    ("Last_SQL_Error", false),
    ("Replicate_Ignore_Server_Ids", false),
    ("Master_Server_Id", false),
    ("Master_SSL_Crl", false),
    ("Master_SSL_Crlpath", false),
    ("Using_Gtid", false),
    ("Gtid_IO_Pos", false),
    ("Replicate_Do_Domain_Ids", false),
    ("Replicate_Ignore_Domain_Ids", false),
    ("Parallel_Mode", false),
    ("SQL_Delay", false),
    ("SQL_Remaining_Delay", false),
    ("Slave_SQL_Running_State", false),
    ("Slave_DDL_Groups", false),
    ("Slave_Non_Transactional_Groups", false),
    ("Slave_Transactional_Groups", false),
    ("Retried_transactions", true),
    ("Max_relay_log_size", true),
    ("Executed_log_entries", true),
    ("Slave_received_heartbeats", true),
    ("Slave_heartbeat_period", true),
    ("Gtid_Slave_Pos", true),
];

/// The SHOW SLAVE STATUS name of a SHOW REPLICA STATUS column.
fn slave_name(replica_name: &str) -> String {
    match replica_name {
        "Get_Source_public_key" => "Get_master_public_key".into(),
        n => n.replace("Replica_", "Slave_").replace("Source", "Master"),
    }
}

fn status_rows(st: &State, names: &[String], style: StatusStyle) -> Reply {
    let p = st.p;
    let columns: Vec<String> = match style {
        StatusStyle::MariaAll => MARIADB_COLUMNS.iter().map(|(n, _)| n.to_string()).collect(),
        StatusStyle::MariaOne => MARIADB_COLUMNS
            .iter()
            .filter(|(_, all_only)| !all_only)
            .map(|(n, _)| n.to_string())
            .collect(),
        StatusStyle::MyReplica => MYSQL_REPLICA_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        StatusStyle::MySlave => MYSQL_REPLICA_COLUMNS
            .iter()
            .filter(|c| match p {
                Personality::MySql57 => !matches!(
                    **c,
                    "Source_public_key_path" | "Get_Source_public_key" | "Network_Namespace"
                ),
                Personality::MySql8021 => true,
                _ => true,
            })
            .map(|c| slave_name(c))
            .collect(),
    };
    let rows = names
        .iter()
        .filter_map(|n| st.channels.get(n))
        .map(|ch| {
            columns
                .iter()
                .map(|c| status_value(st, ch, &slave_name(c)))
                .collect()
        })
        .collect();
    Reply::Rows(columns, rows)
}

/// One status value, by the column's SHOW SLAVE STATUS name.
fn status_value(st: &State, ch: &FakeChannel, col: &str) -> Option<String> {
    let p = st.p;
    let connected = ch.io == "Yes";
    let ever = connected || !ch.received.is_empty();
    let count = if p.is_mysql() {
        GtidSet::parse(&ch.received).map_or(0, |s| s.count())
    } else {
        GtidList::parse(&ch.received).map_or(0, |l| l.count())
    };
    let read_pos = if ever { 1000 + 100 * count } else { 4 };
    let exec_pos = if ch.applied { read_pos } else { 4 };
    let log_file = if ever { "mysql-bin.000001" } else { "" };
    let yes_no = |b: bool| if b { "Yes" } else { "No" }.to_string();
    let s = |v: &str| Some(v.to_string());
    let src = if p.says_source() { "source" } else { "master" };
    match col {
        "Connection_name" | "Channel_Name" => Some(ch.name.clone()),
        "Slave_SQL_State" | "Slave_SQL_Running_State" => {
            if ch.sql == "Yes" {
                if p.is_mysql() && p.says_source() {
                    s("Replica has read all relay log; waiting for more updates")
                } else {
                    s("Slave has read all relay log; waiting for more updates")
                }
            } else {
                s("")
            }
        }
        "Slave_IO_State" => match ch.io.as_str() {
            "Yes" => Some(format!("Waiting for {src} to send event")),
            "Connecting" => Some(format!("Connecting to {src}")),
            _ => s(""),
        },
        "Master_Host" => Some(ch.host.clone()),
        "Master_User" => Some(ch.user.clone()),
        "Master_Port" => Some(ch.port.to_string()),
        "Connect_Retry" => Some(ch.connect_retry.to_string()),
        "Master_Log_File" => s(log_file),
        "Read_Master_Log_Pos" => Some(read_pos.to_string()),
        "Relay_Log_File" => s(if ever { "relay-bin.000002" } else { "" }),
        "Relay_Log_Pos" => s("4"),
        "Relay_Master_Log_File" => s(log_file),
        "Slave_IO_Running" => Some(ch.io.clone()),
        "Slave_SQL_Running" => Some(ch.sql.clone()),
        "Last_Errno"
        | "Skip_Counter"
        | "Last_SQL_Errno"
        | "Until_Log_Pos"
        | "SQL_Delay"
        | "Slave_DDL_Groups"
        | "Slave_Non_Transactional_Groups"
        | "Slave_Transactional_Groups"
        | "Retried_transactions"
        | "Executed_log_entries"
        | "Slave_received_heartbeats" => s("0"),
        "Exec_Master_Log_Pos" => Some(exec_pos.to_string()),
        "Relay_Log_Space" => Some((read_pos + 200).to_string()),
        "Until_Condition" => s("None"),
        "Master_SSL_Allowed" => Some(yes_no(ch.ssl)),
        "Seconds_Behind_Master" => {
            if connected && ch.sql == "Yes" {
                s(if ch.applied { "0" } else { "5" })
            } else {
                None
            }
        }
        "Master_SSL_Verify_Server_Cert" => s("No"),
        "Last_IO_Errno" => Some(ch.last_io_errno.to_string()),
        "Last_IO_Error" => Some(ch.last_io_error.clone()),
        "Master_Server_Id" => Some(ch.master_server_id.clone()),
        "Master_UUID" => Some(ch.master_uuid.clone()),
        "Master_Info_File" => {
            if st
                .var("master_info_repository")
                .is_some_and(|v| v.eq_ignore_ascii_case("FILE"))
            {
                s("/var/lib/mysql/master.info")
            } else {
                s("mysql.slave_master_info")
            }
        }
        "SQL_Remaining_Delay" => None,
        "Master_Retry_Count" => s("86400"),
        "Retrieved_Gtid_Set" | "Gtid_IO_Pos" => Some(ch.received.clone()),
        "Executed_Gtid_Set" => Some(st.var("gtid_executed").unwrap_or_default()),
        "Auto_Position" => s(if ch.auto_position { "1" } else { "0" }),
        "Get_master_public_key" => s(if ch.get_public_key { "1" } else { "0" }),
        "Using_Gtid" => Some(ch.use_gtid.clone()),
        "Replicate_Do_Domain_Ids" => Some(join_ids(&ch.do_domain_ids)),
        "Replicate_Ignore_Domain_Ids" => Some(join_ids(&ch.ignore_domain_ids)),
        "Parallel_Mode" => s("optimistic"),
        "Max_relay_log_size" => s("1073741824"),
        "Slave_heartbeat_period" => s("30.000"),
        "Gtid_Slave_Pos" => Some(st.var("gtid_slave_pos").unwrap_or_default()),
        _ => s(""),
    }
}

fn join_ids(ids: &[u32]) -> String {
    ids.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

//! A fake MySQL/MariaDB server for integration tests: it speaks the server side of the wire
//! protocol itself (`protocol`), accepts only each server version's replication syntax
//! (`syntax`), answers with that version's status columns (`status`) and errors (`errors`), and
//! simulates replication channels between fakes registered in a `World` (`sim`, `channels`).
//!
//! It is an oracle for the code under test: its GTID arithmetic (`gtid`) is its own, independent
//! of the crate's.

mod channels;
mod errors;
mod gtid;
mod handshake;
mod lex;
mod protocol;
mod select;
mod session;
mod sim;
mod status;
mod syntax;
mod vars;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::net::{TcpListener, UnixListener};
use tokio::task::{JoinHandle, JoinSet};

pub use gtid::{GtidList, GtidSet};
pub use sim::FakeChannel;

use vars::{computed_var, default_vars, normalize_var};

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
                conns.spawn(protocol::serve(Session::new(&s1, &w1), stream));
            }
        });
        let (s2, w2) = (state.clone(), world.clone());
        let unix_task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = unix.accept().await {
                while conns.try_join_next().is_some() {}
                conns.spawn(protocol::serve(Session::new(&s2, &w2), stream));
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

    /// A client connection over TCP (any account is accepted).
    pub async fn tcp_conn(&self) -> mysql_async::Conn {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port())
            .user(Some("root"))
            .pass(Some("secret"))
            .prefer_socket(false);
        mysql_async::Conn::new(opts).await.expect("tcp connect")
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

/// One client connection's session: the server it talks to and what it set for itself.
struct Session {
    state: Arc<Mutex<State>>,
    world: World,
    /// The current database (`USE`, COM_INIT_DB, or the handshake's).
    db: Option<String>,
    conn_id: u32,
}

impl Session {
    fn new(state: &Arc<Mutex<State>>, world: &World) -> Session {
        Session {
            state: state.clone(),
            world: world.clone(),
            db: None,
            conn_id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn p(&self) -> Personality {
        self.state.lock().unwrap().p
    }
}

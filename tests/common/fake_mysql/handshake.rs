//! The connection phase: the Initial Handshake v10 the fake sends (its version string, a
//! connection id, a 20-byte scramble, mysql_native_password), the HandshakeResponse41 it reads
//! (any user and password accepted; another plugin is switched to mysql_native_password), and the
//! OK that ends it. TLS is not offered.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use super::protocol::{CHARSET, SERVER_STATUS_AUTOCOMMIT, Wire};

const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;
const CLIENT_FOUND_ROWS: u32 = 0x0000_0002;
const CLIENT_LONG_FLAG: u32 = 0x0000_0004;
const CLIENT_CONNECT_WITH_DB: u32 = 0x0000_0008;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_TRANSACTIONS: u32 = 0x0000_2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
const CLIENT_MULTI_RESULTS: u32 = 0x0002_0000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
const CLIENT_CONNECT_ATTRS: u32 = 0x0010_0000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x0020_0000;

/// What the fake offers: no CLIENT_SSL, no CLIENT_DEPRECATE_EOF (result sets end with EOF
/// packets), no multi-statements, no compression, no session tracking.
const SERVER_CAPABILITIES: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_FOUND_ROWS
    | CLIENT_LONG_FLAG
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
    | CLIENT_CONNECT_ATTRS
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;

const AUTH_PLUGIN: &str = "mysql_native_password";

/// 20 printable scramble bytes (never NUL), different per connection.
fn scramble(conn_id: u32) -> [u8; 20] {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(conn_id) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    let mut out = [0u8; 20];
    for b in &mut out {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = 0x21 + (x % 94) as u8;
    }
    out
}

/// Initial Handshake Packet, protocol version 10.
fn handshake(version: &str, conn_id: u32, scramble: &[u8; 20]) -> Vec<u8> {
    let caps = SERVER_CAPABILITIES.to_le_bytes();
    let mut p = vec![10];
    p.extend_from_slice(version.as_bytes());
    p.push(0);
    p.extend_from_slice(&conn_id.to_le_bytes());
    p.extend_from_slice(&scramble[..8]);
    p.push(0); // filler
    p.extend_from_slice(&caps[..2]);
    p.push(CHARSET);
    p.extend_from_slice(&SERVER_STATUS_AUTOCOMMIT.to_le_bytes());
    p.extend_from_slice(&caps[2..]);
    p.push(21); // length of the auth plugin data, NUL included
    p.extend_from_slice(&[0; 10]); // reserved
    p.extend_from_slice(&scramble[8..]);
    p.push(0);
    p.extend_from_slice(AUTH_PLUGIN.as_bytes());
    p.push(0);
    p
}

/// What the fake takes from a HandshakeResponse41.
struct Login {
    capabilities: u32,
    db: Option<String>,
    plugin: Option<String>,
}

/// A cursor over a payload.
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn lenenc_int(&mut self) -> Option<u64> {
        let n = match self.u8()? {
            0xfc => 2,
            0xfd => 3,
            0xfe => 8,
            b => return Some(u64::from(b)),
        };
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(self.take(n)?);
        Some(u64::from_le_bytes(v))
    }

    /// A NUL-terminated string (or the rest, if the NUL is missing).
    fn nul_str(&mut self) -> String {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        let s = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.0 = &self.0[(end + 1).min(self.0.len())..];
        s
    }
}

fn parse_login(payload: &[u8]) -> Option<Login> {
    let mut c = Cur(payload);
    let capabilities = c.u32()?;
    c.take(4 + 1 + 23)?; // max packet size, charset, filler
    c.nul_str(); // user: any
    if capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        let n = c.lenenc_int()? as usize;
        c.take(n)?;
    } else if capabilities & CLIENT_SECURE_CONNECTION != 0 {
        let n = c.u8()? as usize;
        c.take(n)?;
    } else {
        c.nul_str();
    }
    let db = (capabilities & CLIENT_CONNECT_WITH_DB != 0)
        .then(|| c.nul_str())
        .filter(|d| !d.is_empty());
    let plugin = (capabilities & CLIENT_PLUGIN_AUTH != 0)
        .then(|| c.nul_str())
        .filter(|p| !p.is_empty());
    // Connection attributes, if any, are not needed.
    Some(Login {
        capabilities,
        db,
        plugin,
    })
}

pub(super) async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    wire: &mut Wire<S>,
) -> io::Result<()> {
    let scramble = scramble(session.conn_id);
    wire.packet(&handshake(
        session.p().version(),
        session.conn_id,
        &scramble,
    ));
    wire.flush().await?;
    let refused = || io::Error::new(io::ErrorKind::InvalidData, "handshake refused");
    let payload = wire.read().await?.ok_or_else(refused)?;
    let Some(login) = parse_login(&payload) else {
        wire.err(1043, "08S01", "Bad handshake");
        wire.flush().await?;
        return Err(refused());
    };
    if login.capabilities & CLIENT_SSL != 0 {
        // An SSLRequest: TLS was not offered.
        return Err(refused());
    }
    if login.capabilities & CLIENT_PROTOCOL_41 == 0 {
        wire.err(1043, "08S01", "Bad handshake");
        wire.flush().await?;
        return Err(refused());
    }
    if login.plugin.as_deref().is_some_and(|p| p != AUTH_PLUGIN) {
        // AuthSwitchRequest to mysql_native_password; whatever the client answers is accepted.
        let mut p = vec![0xfe];
        p.extend_from_slice(AUTH_PLUGIN.as_bytes());
        p.push(0);
        p.extend_from_slice(&scramble);
        p.push(0);
        wire.packet(&p);
        wire.flush().await?;
        wire.read().await?.ok_or_else(refused)?;
    }
    if let Some(db) = login.db {
        session.db = Some(db);
    }
    wire.ok();
    wire.flush().await
}

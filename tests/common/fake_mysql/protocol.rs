//! The server side of the MySQL client/server protocol, as much as the fake needs: packets
//! (split and reassembled at 2^24 - 1 bytes), OK / ERR / EOF, text result sets (no
//! CLIENT_DEPRECATE_EOF), and the command phase: COM_QUERY, COM_INIT_DB, COM_PING,
//! COM_RESET_CONNECTION and COM_QUIT. Every COM_QUERY is recorded in the server's transcript
//! before it is answered, and errors go out with their real code and SQL state.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Session;
use super::errors::Reply;
use super::handshake::login;

/// A packet's payload is at most 2^24 - 1 bytes; a longer one continues in the next packets.
const MAX_PAYLOAD: usize = 0xFF_FFFF;
/// What the fake reads at most for one (possibly split) packet: the largest max_allowed_packet
/// of its personalities.
const MAX_MESSAGE: usize = 64 << 20;

pub(super) const SERVER_STATUS_AUTOCOMMIT: u16 = 0x0002;
/// utf8mb4_general_ci.
pub(super) const CHARSET: u8 = 45;
const MYSQL_TYPE_VAR_STRING: u8 = 0xfd;

const COM_QUIT: u8 = 0x01;
const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_PING: u8 = 0x0e;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_CLOSE: u8 = 0x19;
const COM_RESET_CONNECTION: u8 = 0x1f;

/// A connection's packets: reads reassemble split payloads, writes number and split them, and
/// are sent on `flush`.
pub(super) struct Wire<S> {
    stream: S,
    seq: u8,
    out: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// The next payload; None when the client closed the connection between packets. The reply
    /// continues the sequence after it.
    pub(super) async fn read(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 4];
            if let Err(e) = self.stream.read_exact(&mut header).await {
                if e.kind() == io::ErrorKind::UnexpectedEof && payload.is_empty() {
                    return Ok(None);
                }
                return Err(e);
            }
            let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
            self.seq = header[3].wrapping_add(1);
            if payload.len() + len > MAX_MESSAGE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "packet larger than the fake accepts",
                ));
            }
            let start = payload.len();
            payload.resize(start + len, 0);
            self.stream.read_exact(&mut payload[start..]).await?;
            if len < MAX_PAYLOAD {
                return Ok(Some(payload));
            }
        }
    }

    /// Queues one payload as packets (split at 2^24 - 1 bytes, ended by a shorter one).
    pub(super) fn packet(&mut self, payload: &[u8]) {
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_PAYLOAD);
            self.out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
            self.out.push(self.seq);
            self.seq = self.seq.wrapping_add(1);
            self.out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n < MAX_PAYLOAD {
                break;
            }
        }
    }

    pub(super) async fn flush(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.out).await?;
        self.out.clear();
        self.stream.flush().await
    }

    pub(super) fn ok(&mut self) {
        let mut p = vec![0x00, 0, 0]; // header, affected rows, last insert id
        p.extend_from_slice(&SERVER_STATUS_AUTOCOMMIT.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes()); // warnings
        self.packet(&p);
    }

    fn eof(&mut self) {
        let mut p = vec![0xfe, 0, 0]; // header, warnings
        p.extend_from_slice(&SERVER_STATUS_AUTOCOMMIT.to_le_bytes());
        self.packet(&p);
    }

    pub(super) fn err(&mut self, code: u16, sqlstate: &str, msg: &str) {
        let mut p = vec![0xff];
        p.extend_from_slice(&code.to_le_bytes());
        p.push(b'#');
        p.extend_from_slice(sqlstate.as_bytes());
        p.extend_from_slice(msg.as_bytes());
        self.packet(&p);
    }

    /// A query's answer: OK, ERR, or a text result set of VAR_STRING columns.
    fn reply(&mut self, reply: Reply) {
        match reply {
            Reply::Ok => self.ok(),
            Reply::Err(code, sqlstate, msg) => self.err(code, sqlstate, &msg),
            Reply::Rows(names, rows) => {
                let mut p = Vec::new();
                lenenc_int(&mut p, names.len() as u64);
                self.packet(&p);
                for (i, name) in names.iter().enumerate() {
                    let longest = rows
                        .iter()
                        .filter_map(|r| r.get(i).and_then(|v| v.as_ref()))
                        .map(String::len)
                        .max()
                        .unwrap_or(0);
                    self.packet(&column_definition(name, longest.max(1024) as u32));
                }
                self.eof();
                for row in rows {
                    let mut p = Vec::new();
                    for v in row {
                        match v {
                            Some(s) => lenenc_str(&mut p, s.as_bytes()),
                            None => p.push(0xfb),
                        }
                    }
                    self.packet(&p);
                }
                self.eof();
            }
        }
    }
}

fn lenenc_int(buf: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfa => buf.push(n as u8),
        0xfb..=0xffff => {
            buf.push(0xfc);
            buf.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            buf.push(0xfd);
            buf.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            buf.push(0xfe);
            buf.extend_from_slice(&n.to_le_bytes());
        }
    }
}

fn lenenc_str(buf: &mut Vec<u8>, s: &[u8]) {
    lenenc_int(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// ColumnDefinition41 of a computed VAR_STRING column.
fn column_definition(name: &str, length: u32) -> Vec<u8> {
    let mut p = Vec::new();
    for s in ["def", "", "", ""] {
        lenenc_str(&mut p, s.as_bytes()); // catalog, schema, table, org_table
    }
    lenenc_str(&mut p, name.as_bytes());
    lenenc_str(&mut p, b""); // org_name
    p.push(0x0c); // length of the fixed fields
    p.extend_from_slice(&u16::from(CHARSET).to_le_bytes());
    p.extend_from_slice(&length.to_le_bytes());
    p.push(MYSQL_TYPE_VAR_STRING);
    p.extend_from_slice(&0u16.to_le_bytes()); // flags
    p.push(0); // decimals
    p.extend_from_slice(&[0, 0]);
    p
}

/// Serves one connection until the client quits or the connection fails.
pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut session: Session, stream: S) {
    let mut wire = Wire {
        stream,
        seq: 0,
        out: Vec::new(),
    };
    if login(&mut session, &mut wire).await.is_ok() {
        let _ = commands(&mut session, &mut wire).await;
    }
}

async fn commands<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    wire: &mut Wire<S>,
) -> io::Result<()> {
    while let Some(payload) = wire.read().await? {
        let Some((&command, body)) = payload.split_first() else {
            return Ok(());
        };
        match command {
            COM_QUIT => return Ok(()),
            COM_QUERY => {
                let q = String::from_utf8_lossy(body).into_owned();
                session.state.lock().unwrap().statements.push(q.clone());
                let reply = session.execute(&q).await;
                wire.reply(reply);
            }
            COM_INIT_DB => {
                session.db = Some(String::from_utf8_lossy(body).into_owned());
                wire.ok();
            }
            COM_PING | COM_RESET_CONNECTION => wire.ok(),
            COM_STMT_PREPARE => wire.err(
                1295,
                "HY000",
                "This command is not supported in the prepared statement protocol yet",
            ),
            COM_STMT_EXECUTE => wire.err(
                1243,
                "HY000",
                "Unknown prepared statement handler given to EXECUTE",
            ),
            // No statement was ever prepared, and COM_STMT_CLOSE has no answer.
            COM_STMT_CLOSE => continue,
            _ => wire.err(1047, "08S01", "Unknown command"),
        }
        wire.flush().await?;
    }
    Ok(())
}

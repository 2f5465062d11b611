//! A TCP proxy to a MariaDB server that holds the binlog stream: once a client sent
//! COM_BINLOG_DUMP (a replica's IO thread asking for events), everything the server sends on
//! that connection waits `hold` before it is passed on, as a cold or slow peer would make it.
//! Plain queries pass at once.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// COM_BINLOG_DUMP and COM_BINLOG_DUMP_GTID.
const DUMP_COMMANDS: [u8; 2] = [0x12, 0x1e];

pub struct HoldingProxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
    dumps: Arc<AtomicUsize>,
}

impl HoldingProxy {
    /// Listens on a free loopback port, forwarding to `127.0.0.1:target`.
    pub fn start(target: u16, hold: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let dumps = Arc::new(AtomicUsize::new(0));
        let (s, d) = (stop.clone(), dumps.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        if let Ok(server) = TcpStream::connect(("127.0.0.1", target)) {
                            relay(client, server, hold, s.clone(), d.clone());
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        HoldingProxy { port, stop, dumps }
    }

    /// How many binlog dumps clients asked for.
    pub fn dumps(&self) -> usize {
        self.dumps.load(Ordering::Relaxed)
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn relay(
    client: TcpStream,
    server: TcpStream,
    hold: Duration,
    stop: Arc<AtomicBool>,
    dumps: Arc<AtomicUsize>,
) {
    let dumped = Arc::new(AtomicBool::new(false));
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let seen = dumped.clone();
    // Client to server: parse packets (3-byte length, sequence id, payload); a command is a
    // packet with sequence id 0, its first byte the command.
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = match c_in.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            while buf.len() >= 4 {
                let len = u32::from_le_bytes([buf[0], buf[1], buf[2], 0]) as usize;
                if buf.len() < 4 + len {
                    break;
                }
                if buf[3] == 0 && len > 0 && DUMP_COMMANDS.contains(&buf[4]) {
                    seen.store(true, Ordering::Relaxed);
                    dumps.fetch_add(1, Ordering::Relaxed);
                }
                buf.drain(..4 + len);
            }
            if s_out.write_all(&chunk[..n]).is_err() {
                break;
            }
        }
        let _ = s_out.shutdown(Shutdown::Both);
    });
    let (mut s_in, mut c_out) = (server, client);
    std::thread::spawn(move || {
        let mut held = false;
        let mut chunk = [0u8; 65536];
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let n = match s_in.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if dumped.load(Ordering::Relaxed) && !held {
                std::thread::sleep(hold);
                held = true;
            }
            if c_out.write_all(&chunk[..n]).is_err() {
                break;
            }
        }
        let _ = c_out.shutdown(Shutdown::Both);
    });
}

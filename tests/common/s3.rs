//! A private S3 server (moto) per test, on a free port, killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mysqlbackup::config::{S3Settings, Secret};
use mysqlbackup::store::s3::S3Store;

use super::{free_port, wait_for};

/// A private moto S3 server.
pub struct Moto {
    pub port: u16,
    child: Child,
}

/// Where moto_server is: `$MOTO_SERVER`, else the repo's `.venv` (made by scripts/setup.sh).
pub fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        p.is_file(),
        "{} missing: run scripts/test.sh, which installs moto",
        p.display()
    );
    p
}

impl Moto {
    /// Starts moto on a free port and waits (up to 120 s: Python starts slowly on a busy
    /// machine) until it answers HTTP. A moto that exits (its port was taken between
    /// [`free_port`] and its bind) is started again on another port, three times at most.
    pub fn start() -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(moto_server_path())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_secs(120) {
                if let Some(status) = child.try_wait().unwrap() {
                    last = format!("moto_server on port {port} exited: {status}");
                    break;
                }
                if answers_http(port) {
                    return Moto { port, child };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last.is_empty() {
                last = format!("moto_server on port {port} did not answer in 120 s");
            }
        }
        panic!("{last}");
    }

    pub fn settings(&self, bucket: &str) -> S3Settings {
        S3Settings {
            host: format!("127.0.0.1:{}", self.port),
            bucket: bucket.into(),
            access_key: Secret::new("AKIAEXAMPLEKEY"),
            secret_key: Secret::new("s3-secret-never-shown"),
            scheme: "http".into(),
            region: "us-east-1".into(),
            part_size: 5 << 20,
            parts_in_flight: 4,
        }
    }

    /// A client for `bucket`, created.
    pub async fn bucket(&self, bucket: &str) -> S3Store {
        let store = S3Store::new(&self.settings(bucket)).unwrap();
        store.create_bucket().await.unwrap();
        store
    }

    /// Kills the server now (fault tests).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether an HTTP server answers on `port` (any status line).
fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    if c.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 5];
    c.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

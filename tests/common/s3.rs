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
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(moto_server_path())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("moto_server", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Moto { port, child }
    }

    pub fn settings(&self, bucket: &str) -> S3Settings {
        S3Settings {
            host: format!("127.0.0.1:{}", self.port),
            bucket: bucket.into(),
            access_key: Secret::new("AKIAEXAMPLEKEY"),
            secret_key: Secret::new("s3-secret-never-shown"),
            scheme: "http".into(),
            region: "us-east-1".into(),
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

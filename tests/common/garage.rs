//! A private Garage cluster (a self-hosted, distributed S3-compatible store) on loopback: N
//! nodes with replication factor N, sqlite metadata, each on free ports in a temp dir, killed
//! on drop. `scripts/setup.sh` installs `garage` (cargo install) when it is missing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mysqlbackup::config::{S3Settings, Secret};
use mysqlbackup::store::s3::S3Store;

use super::{free_port, wait_for};

/// The Garage region (conf `s3_region`).
pub const REGION: &str = "garage";

struct Node {
    config: PathBuf,
    s3_port: u16,
    child: Option<Child>,
}

/// A running cluster.
pub struct Garage {
    _dir: tempfile::TempDir,
    nodes: Vec<Node>,
    key: Option<(String, String)>,
}

/// Where `garage` is: `$GARAGE`, else `~/.cargo/bin/garage`, else PATH.
pub fn garage_path() -> PathBuf {
    if let Some(p) = std::env::var_os("GARAGE") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let p = home.join(".cargo/bin/garage");
    if p.is_file() {
        return p;
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join("garage").is_file() {
            return dir.join("garage");
        }
    }
    panic!("garage is not installed: run scripts/test.sh, which installs it");
}

impl Garage {
    /// Starts `n` nodes, connects them, and applies a layout with every node in it.
    pub fn start(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let secret: String = (0..32)
            .map(|i| format!("{:02x}", (i * 7 + 3) as u8))
            .collect();
        let mut nodes = Vec::new();
        for i in 0..n {
            let base = dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(base.join("meta")).unwrap();
            std::fs::create_dir_all(base.join("data")).unwrap();
            let (rpc, s3) = (free_port(), free_port());
            let config = base.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    "metadata_dir = \"{0}/meta\"\ndata_dir = \"{0}/data\"\ndb_engine = \"sqlite\"\n\
                     replication_factor = {n}\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                     rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\n\
                     [s3_api]\ns3_region = \"{REGION}\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n",
                    base.display()
                ),
            )
            .unwrap();
            let child = Command::new(garage_path())
                .arg("-c")
                .arg(&config)
                .arg("server")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            nodes.push(Node {
                config,
                s3_port: s3,
                child: Some(child),
            });
        }
        let g = Garage {
            _dir: dir,
            nodes,
            key: None,
        };
        let mut ids = Vec::new();
        for i in 0..n {
            let mut id = String::new();
            wait_for(
                "a garage node to answer",
                Duration::from_secs(60),
                || match g.cli_on(i, &["node", "id", "-q"]) {
                    Ok(out) => {
                        id = out.trim().to_string();
                        true
                    }
                    Err(_) => false,
                },
            );
            ids.push(id);
        }
        for id in &ids[1..] {
            g.cli(&["node", "connect", id]);
        }
        for id in &ids {
            let short = &id[..16];
            g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", short]);
        }
        g.cli(&["layout", "apply", "--version", "1"]);
        // Bounds for a busy machine: a node that is up may take long to converge.
        wait_for(
            "the cluster to be healthy",
            Duration::from_secs(120),
            || {
                g.cli_on(0, &["health"]).is_ok_and(|s| {
                    let s = s.to_ascii_lowercase();
                    s.contains("healthy") && !s.contains("degraded") && !s.contains("unavailable")
                })
            },
        );
        for node in &g.nodes {
            wait_for(
                "a garage S3 port to answer",
                Duration::from_secs(60),
                || std::net::TcpStream::connect(("127.0.0.1", node.s3_port)).is_ok(),
            );
        }
        g
    }

    /// Runs `garage -c <node i> ARGS`; stdout on success.
    fn cli_on(&self, i: usize, args: &[&str]) -> Result<String, String> {
        let out = Command::new(garage_path())
            .arg("-c")
            .arg(&self.nodes[i].config)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// As [`Garage::cli_on`] node 0, which must succeed (retried for 60 s: the cluster may
    /// still be settling).
    fn cli(&self, args: &[&str]) -> String {
        let mut last = String::new();
        for attempt in 0..300 {
            match self.cli_on(0, args) {
                Ok(out) => return out,
                // A retry of a call that took effect although it reported an error.
                Err(e) if attempt > 0 && e.contains("already") => return e,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("garage {args:?}: {last}");
    }

    /// The S3 settings of `bucket` through node 0 (key made by [`Garage::bucket`]).
    pub fn settings(&self, bucket: &str) -> S3Settings {
        let (id, secret) = self.key.clone().expect("a key: call bucket() first");
        S3Settings {
            host: format!("127.0.0.1:{}", self.nodes[0].s3_port),
            bucket: bucket.into(),
            access_key: Secret::new(id),
            secret_key: Secret::new(secret),
            scheme: "http".into(),
            region: REGION.into(),
            part_size: 5 << 20,
            parts_in_flight: 4,
        }
    }

    /// Creates `bucket` and a key allowed on it; a client for it through node 0.
    pub async fn bucket(&mut self, bucket: &str) -> S3Store {
        if self.key.is_none() {
            let out = self.cli(&["key", "create", "mysqlbackup-tests"]);
            let field = |name: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| panic!("no {name} in: {out}"))
            };
            self.key = Some((field("Key ID:"), field("Secret key:")));
        }
        let (id, _) = self.key.clone().unwrap();
        self.cli(&["bucket", "create", bucket]);
        self.cli(&[
            "bucket", "allow", "--read", "--write", "--owner", bucket, "--key", &id,
        ]);
        S3Store::new(&self.settings(bucket)).unwrap()
    }

    /// Kills node `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

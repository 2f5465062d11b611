//! One mysqlbackup at a time per instance: locks held as Linux abstract-namespace sockets, one
//! named after the port and one after the canonical data dir, so that any spelling of either
//! (`/data/mysql-3306/`, a symlinked parent) names the same instance. They leave no file behind
//! (nothing under `backup_base` or /tmp) and are released by the kernel when the process ends,
//! however it ends.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Component, Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::config::Settings;
use crate::error::{Error, Result};

/// Held while a command works on an instance.
#[derive(Debug)]
pub struct InstanceLock {
    _sockets: Vec<UnixListener>,
}

/// `dir` as the kernel would find it: `.` and `..` and repeated or trailing separators
/// resolved, and the longest existing ancestor canonicalized (symlinks followed), so that a
/// data dir a restore has yet to create has one name too.
pub fn canonical_dir(dir: &Path) -> PathBuf {
    let mut lexical = PathBuf::new();
    for c in dir.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            c => lexical.push(c),
        }
    }
    let mut rest = Vec::new();
    let mut base = lexical.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(base) {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                base = parent;
            }
            _ => return lexical,
        }
    }
}

fn bind(name: &str) -> std::io::Result<UnixListener> {
    let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    UnixListener::bind_addr(&addr)
}

/// Takes the locks of the configured instance (its port and its canonical data dir), or
/// refuses when another process holds either.
pub fn lock_instance(s: &Settings, command: &str) -> Result<InstanceLock> {
    let dir = canonical_dir(&s.data_dir);
    let id = hex::encode(Sha1::digest(dir.as_os_str().as_encoded_bytes()));
    let mut sockets = Vec::new();
    for name in [
        format!("mysqlbackup:port:{}", s.port),
        format!("mysqlbackup:dir:{}", &id[..32]),
    ] {
        match bind(&name) {
            Ok(socket) => sockets.push(socket),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(Error::Refused(format!(
                    "another mysqlbackup is already working on port {} or data dir {}: \
                     refusing to {command} at the same time",
                    s.port,
                    dir.display()
                )));
            }
            Err(e) => return Err(Error::io("lock", "abstract socket", e)),
        }
    }
    Ok(InstanceLock { _sockets: sockets })
}

/// Takes the lock of the binlog archive of the configured instance (its port): one
/// `archive_binlog` at a time, while backups and restores take the instance's own locks (a
/// long backup does not hold the archive back, nor it the backup).
pub fn lock_binlog_archive(s: &Settings) -> Result<InstanceLock> {
    match bind(&format!("mysqlbackup:binlog-archive:{}", s.port)) {
        Ok(socket) => Ok(InstanceLock {
            _sockets: vec![socket],
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(Error::Refused(format!(
            "another archive_binlog is already working on port {}",
            s.port
        ))),
        Err(e) => Err(Error::io("lock", "abstract socket", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfFile, Overrides};

    fn settings(port: u16, data_dir: &str) -> Settings {
        let conf = ConfFile::parse(&format!(
            "mysql_base: /usr\nhost: h\ndata_base: /nonexistent-lock-test\nbackup_base: /b\n\
             port: {port}\ninstance_id: 1\ndata_dir: {data_dir}\n"
        ))
        .unwrap();
        Settings::resolve(conf, &Overrides::default(), None).unwrap()
    }

    #[test]
    fn second_lock_refused_until_released() {
        let s = settings(1, "/nonexistent-lock-test/a");
        let first = lock_instance(&s, "backup").unwrap();
        let err = lock_instance(&s, "backup").unwrap_err().to_string();
        assert!(err.contains("already working on port 1"), "{err}");
        drop(first);
        lock_instance(&s, "backup").unwrap();
    }

    #[test]
    fn any_spelling_of_the_port_or_data_dir_is_the_same_instance() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let dir = |rel: &str| format!("{}/{rel}", tmp.path().display());
        let first = lock_instance(&settings(2, &dir("real/mysql-2")), "backup").unwrap();
        for other in [
            settings(2, &dir("elsewhere")),
            settings(3, &dir("real/mysql-2/")),
            settings(4, &dir("real//mysql-2/.")),
            settings(5, &dir("link/mysql-2")),
        ] {
            let err = lock_instance(&other, "backup").unwrap_err();
            assert!(err.to_string().contains("already working"), "{err}");
        }
        lock_instance(&settings(6, &dir("real/mysql-6")), "backup").unwrap();
        drop(first);
        lock_instance(&settings(3, &dir("real/mysql-2/")), "backup").unwrap();
    }
}

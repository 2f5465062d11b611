//! One mysqlbackup at a time per instance: a lock held as a Linux abstract-namespace socket
//! named after the port and data dir. It leaves no file behind (nothing under `backup_base`
//! or /tmp) and is released by the kernel when the process ends, however it ends.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};

use sha1::{Digest, Sha1};

use crate::config::Settings;
use crate::error::{Error, Result};

/// Held while a command works on an instance.
#[derive(Debug)]
pub struct InstanceLock {
    _socket: UnixListener,
}

/// Takes the lock of the configured instance, or refuses when another process holds it.
pub fn lock_instance(s: &Settings, command: &str) -> Result<InstanceLock> {
    let id = hex::encode(Sha1::digest(s.data_dir.to_string_lossy().as_bytes()));
    let name = format!("mysqlbackup:{}:{}", s.port, &id[..16]);
    let addr = SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| Error::io("lock", "abstract socket", e))?;
    match UnixListener::bind_addr(&addr) {
        Ok(socket) => Ok(InstanceLock { _socket: socket }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(Error::Refused(format!(
            "another mysqlbackup is already working on port {} ({}): refusing to {command} at the same time",
            s.port,
            s.data_dir.display()
        ))),
        Err(e) => Err(Error::io("lock", "abstract socket", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfFile, Overrides};

    #[test]
    fn second_lock_refused_until_released() {
        let conf = ConfFile::parse("mysql_base: /usr\nhost: h\ndata_base: /nonexistent-lock-test\nbackup_base: /b\nport: 1\ninstance_id: 1\n").unwrap();
        let s = Settings::resolve(conf, &Overrides::default(), None).unwrap();
        let first = lock_instance(&s, "backup").unwrap();
        let err = lock_instance(&s, "backup").unwrap_err().to_string();
        assert!(err.contains("already working on port 1"), "{err}");
        drop(first);
        lock_instance(&s, "backup").unwrap();
    }
}

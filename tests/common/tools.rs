//! Standard tools on archives (openssl, tar, mbstream, mariabackup --prepare) and backup-tool
//! wrappers that act between the data copy and the binlog rotation.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::mariadb::Mariadb;
use super::require;

/// Unpacks a stored backup with the standard tools only (openssl, tar, mbstream,
/// mariabackup --prepare) into `out`; returns the prepared data dir.
pub fn unpack_with_standard_tools(archive: &Path, key_file: &Path, out: &Path) -> PathBuf {
    std::fs::create_dir_all(out).unwrap();
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; openssl des3 -d -pass file:{} < {} | tar -xz -C {}",
            key_file.display(),
            archive.display(),
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "openssl des3 -d | tar -xz failed");
    let data = out.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; cat {}/data.xbstream.* | mbstream -x -C {}",
            out.display(),
            data.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "mbstream -x failed");
    let prep = Command::new(require("mariabackup"))
        .arg("--prepare")
        .arg(format!("--target-dir={}", data.display()))
        .output()
        .unwrap();
    assert!(
        prep.status.success(),
        "mariabackup --prepare: {}",
        String::from_utf8_lossy(&prep.stderr)
    );
    data
}

/// SHA-1 hex of a file.
pub fn sha1_file(path: &Path) -> String {
    sha1_bytes(&std::fs::read(path).unwrap())
}

/// SHA-1 hex of bytes.
pub fn sha1_bytes(bytes: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(bytes))
}

/// A backup tool that runs the real mariabackup, then runs `sql` on `db` before exiting with
/// its status: the events of `sql` land in the binlog after the data backup but before the
/// binlog is read, deterministically.
pub fn tool_then_sql(dir: &Path, db: &Mariadb, sql: &str) -> PathBuf {
    tool_then_sql_at(
        &dir.join("backup-tool-then-sql.sh"),
        &require("mariabackup"),
        db,
        sql,
    )
}

/// As [`tool_then_sql`], the script at `p` running `real` (e.g. another release's tool).
pub fn tool_then_sql_at(p: &Path, real: &Path, db: &Mariadb, sql: &str) -> PathBuf {
    let p = p.to_path_buf();
    std::fs::write(
        &p,
        format!(
            "#!/bin/bash\n{} \"$@\"\nrc=$?\ncase \" $* \" in *\" --backup \"*) {} --no-defaults -uroot --socket={} -e \"{}\" || exit 99;; esac\nexit $rc\n",
            real.display(),
            require("mariadb").display(),
            db.socket().display(),
            sql.replace('"', "\\\"")
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    p
}

/// A fresh age key pair: the recipient, and the identity file (0600) in `dir`.
pub fn age_key(dir: &Path, name: &str) -> (String, PathBuf) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    (id.to_public().to_string(), path)
}

//! The README's quick start, run as written on a real MariaDB instance: the backup block (its
//! first line, the operator's own values, set to this test's instance), then the instance lost
//! and the restore block; the restored instance starts with every row.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The fenced `sh` block that follows the line starting with `marker` in the README.
fn block_after(readme: &str, marker: &str) -> String {
    let at = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README has no {marker}"));
    let rest = &readme[at..];
    let start = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let len = rest[start..].find("```").expect("its end");
    rest[start..start + len].to_string()
}

fn run(script: &str, path: &str, tmp: &Path) -> String {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env("PATH", path)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    ok(&out)
}

#[test]
fn the_readme_quick_start_backs_up_and_restores_an_instance() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let backup = block_after(&readme, "<!-- quickstart-backup");
    let restore = block_after(&readme, "<!-- quickstart-restore");
    let (first, rest) = backup.split_once('\n').unwrap();
    assert!(first.starts_with("PORT=3306 "), "{first}");

    let mut db = Mariadb::start(1);
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO app.t SELECT seq, MD5(seq) FROM app.seq_1_to_5000",
    );
    // Where an operator's dirs would be: traversable by the server's user, as /var/backups is.
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(bin(), bin_dir.join("mysqlbackup")).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mine = format!(
        "PORT={} DATA_BASE='{}' BACKUPS='{}' CONF='{}'",
        db.port,
        db.data_base().display(),
        dir.path().join("backups").display(),
        dir.path().join("conf").display()
    );
    let said = run(&format!("{mine}\n{rest}"), &path, &tmp);
    assert!(said.contains("verify") || said.contains("ok:"), "{said}");
    assert!(said.contains("tables checked"), "{said}");

    db.kill_and_move_away();
    run(&format!("{mine}\n{restore}"), &path, &tmp);
    db.restart();
    assert_eq!(db.sql("SELECT COUNT(*) FROM app.t").trim(), "5000");
}

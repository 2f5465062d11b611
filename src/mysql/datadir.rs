//! A restored data dir made usable: the backup tool's `--prepare` (with the archive's
//! `backup-my.cnf` made safe first), the InnoDB/Aria files moved where the restored my.cnf
//! wants them, and the dirs handed to the server's OS user.

use std::path::Path;
use std::process::Stdio;

use super::find_binary;
use super::mycnf::{Edit, MyCnf};
use crate::config::Settings;
use crate::error::{Error, Result, excerpt};

mod owner;
pub use owner::{check_reachable, hand_over};

/// How much of a tool's stderr an error quotes.
const STDERR_EXCERPT: usize = 2000;

/// Makes the backup tool's `backup-my.cnf` (read by `--prepare`) safe: it comes from the
/// archive, and a path in it would make prepare read or write files elsewhere. Directory
/// options become `./` (the target dir), any other absolute or `..` value is commented out.
pub fn sanitize_backup_cnf(data_dir: &Path) -> Result<()> {
    let path = data_dir.join("backup-my.cnf");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let cnf = MyCnf::parse(&text);
    let safe = cnf.rewrite(Some("not followed: the file comes from the archive"), |e| {
        if e.key.starts_with("plugin") {
            return Some(Edit::CommentOut(
                "plugins are not loaded from an archive".into(),
            ));
        }
        let v = e.value.as_deref()?;
        if !(v.starts_with('/') || v.starts_with('~') || v.contains("..")) {
            return None;
        }
        if e.key.ends_with("_dir") || e.key.ends_with("_directory") || e.key.ends_with("_path") {
            Some(Edit::Set("./".into()))
        } else {
            Some(Edit::CommentOut("not a path inside the backup".into()))
        }
    });
    if safe != text {
        std::fs::write(&path, safe).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(())
}

/// The options of conf `server_options` that load and configure a key management plugin (or
/// set what it decrypts): what `--prepare` needs to read an encrypted redo log and
/// tablespaces. The archive's own plugin lines are never used (see [`sanitize_backup_cnf`]).
pub fn key_management_options(server_options: &[String]) -> Vec<String> {
    server_options
        .iter()
        .filter(|o| {
            let key = o.trim_start_matches('-');
            let key = key.split('=').next().unwrap_or("").replace('-', "_");
            let key = key.strip_prefix("loose_").unwrap_or(&key);
            key.starts_with("plugin_load")
                || key == "plugin_dir"
                || key.contains("key_management")
                || key.starts_with("innodb_encrypt")
        })
        .map(|o| o.trim_start_matches('-').to_string())
        .collect()
}

/// The options of the backup tool's `backup-my.cnf` that describe the InnoDB files --prepare
/// opens (all it needs of that file).
const PREPARE_LAYOUT: &[&str] = &[
    "innodb_checksum_algorithm",
    "innodb_data_file_path",
    "innodb_log_file_size",
    "innodb_page_size",
    "innodb_undo_directory",
    "innodb_undo_tablespaces",
    "innodb_compression_level",
    "innodb_log_group_home_dir",
    "innodb_data_home_dir",
    "innodb_encrypt_log",
    "innodb_encrypt_tables",
];

/// The `[mysqld]` section --prepare needs to load conf's key management plugin: `plugin_dir`
/// (conf's, else the installed server's), `plugin_load` as `name=library` items, the plugin's
/// options.
async fn key_management_section(s: &Settings, keys: &[String]) -> String {
    let norm = |k: &str| k.split('=').next().unwrap_or("").replace('-', "_");
    let mut out =
        String::from("\n# key management from conf server_options (mysqlbackup)\n[mysqld]\n");
    let mut plugin_dir = keys
        .iter()
        .find(|k| norm(k).trim_start_matches("loose_") == "plugin_dir")
        .and_then(|k| k.split_once('=').map(|(_, v)| v.to_string()));
    if plugin_dir.is_none()
        && let Some(server) = find_binary(&s.mysql_base, &["mariadbd", "mysqld"])
        && let Ok(out) = tokio::process::Command::new(server)
            .args(["--no-defaults", "--verbose", "--help"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
    {
        plugin_dir = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("plugin-dir"))
            .map(|v| v.trim().to_string());
    }
    if let Some(d) = plugin_dir {
        out.push_str(&format!("plugin_dir={d}\n"));
    }
    let plugins: Vec<String> = keys
        .iter()
        .filter(|k| {
            norm(k)
                .trim_start_matches("loose_")
                .starts_with("plugin_load")
        })
        .filter_map(|k| k.split_once('=').map(|(_, v)| v))
        .flat_map(|v| v.split(';'))
        .filter(|v| !v.trim().is_empty())
        .map(|v| match v.split_once('=') {
            Some(_) => v.trim().to_string(),
            None => {
                let lib = v.trim().trim_end_matches(".so");
                format!("{lib}={lib}")
            }
        })
        .collect();
    if !plugins.is_empty() {
        out.push_str(&format!("plugin_load={}\n", plugins.join(";")));
    }
    for k in keys {
        let n = norm(k);
        let n = n.trim_start_matches("loose_");
        if n.starts_with("plugin_load") || n == "plugin_dir" {
            continue;
        }
        out.push_str(k);
        out.push('\n');
    }
    out
}

/// `mariabackup --prepare` in place, with no option file but the backup's own
/// (sanitized) `backup-my.cnf`, and the key management options of conf `server_options`
/// (an encrypted instance's redo log cannot be read without them). Then the link files of
/// tablespaces the original kept elsewhere are removed, so that no server opens the
/// original's files (see [`super::tablespaces`]); returns those tables.
pub async fn prepare(
    s: &Settings,
    kind: Option<super::dialect::ServerKind>,
    data_dir: &Path,
) -> Result<Vec<super::tablespaces::Relocated>> {
    let tools = kind.map_or(super::ANY_BACKUP_TOOL, |k| k.flavor.backup_tools());
    let tool = match &s.backup_tool {
        Some(t) => t.clone(),
        None => find_binary(&s.mysql_base, tools).ok_or_else(|| {
            Error::Refused(format!("no {} found to prepare the data", tools.join("/")))
        })?,
    };
    // The backup's server series prepares it (a tool of another series may not read its redo
    // log, or say so only halfway).
    if let Some(kind) = kind
        && super::backup_tool::series::own_name(&tool)
    {
        super::backup_tool::series::check(&tool, kind)
            .await
            .map_err(|e| Error::Refused(format!("cannot prepare a backup of {kind}: {e}")))?;
    }
    sanitize_backup_cnf(data_dir)?;
    // mariabackup takes plugin options only from an option file, and --prepare loads the
    // plugins of the backup's own `plugin_load` alone: that file (sanitized, its plugin lines
    // gone) gets conf's key management, and --prepare reads it as its only option file.
    // Read as the option file, it would bring every group of the archive's file (a
    // [mariabackup] section, say): for the run it holds only the InnoDB layout options of its
    // [mysqld] and conf's key management, and afterwards its sanitized text again (conf's key
    // options do not stay in the data dir).
    let keys = key_management_options(&s.server_options);
    let cnf_path = data_dir.join("backup-my.cnf");
    let with_keys = !keys.is_empty() && cnf_path.exists();
    let mut sanitized = None;
    if with_keys {
        let text =
            std::fs::read_to_string(&cnf_path).map_err(|e| Error::io("read", &cnf_path, e))?;
        let mut run = String::from("[mysqld]\n");
        for (k, v) in MyCnf::parse(&text).server_options() {
            if PREPARE_LAYOUT.contains(&k.as_str()) {
                run.push_str(&format!("{k}={v}\n"));
            }
        }
        run.push_str(&key_management_section(s, &keys).await);
        std::fs::write(&cnf_path, run).map_err(|e| Error::io("write", &cnf_path, e))?;
        sanitized = Some(text);
    }
    tracing::info!("preparing {} with {}", data_dir.display(), tool.display());
    let mut cmd = tokio::process::Command::new(&tool);
    if with_keys {
        cmd.arg(format!("--defaults-file={}", cnf_path.display()));
    } else {
        cmd.arg("--no-defaults");
    }
    cmd.arg("--prepare")
        .arg(format!("--target-dir={}", data_dir.display()))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    crate::procfs::no_secrets(&mut cmd);
    let out = crate::cancel::or_cancelled(async {
        cmd.output().await.map_err(|e| Error::io("run", &tool, e))
    })
    .await?;
    if let Some(text) = sanitized {
        std::fs::write(&cnf_path, text).map_err(|e| Error::io("write", &cnf_path, e))?;
    }
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(20).collect();
        return Err(Error::BackupTool {
            tool: format!("{} --prepare", tool.display()),
            status: out.status.to_string(),
            stderr_tail: excerpt(
                &tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                STDERR_EXCERPT,
            ),
        });
    }
    super::tablespaces::unlink_remote(data_dir)
}

/// Which file names belong in a dir.
type NameTest = Box<dyn Fn(&str) -> bool>;

/// Moves the files `mariabackup --prepare` left in the data dir root to the dirs the restored
/// my.cnf names for them (redo log, undo tablespaces, system tablespace, Aria log), each of
/// which must be inside the data dir or binlog dir. Returns what moved.
pub fn place_layout_files(cnf: &MyCnf, data_dir: &Path, binlog_dir: &Path) -> Result<Vec<String>> {
    let system_files: Vec<String> = cnf
        .get("innodb_data_file_path")
        .unwrap_or("ibdata1:12M:autoextend")
        .split(';')
        .filter_map(|f| f.split(':').next())
        .filter(|f| !f.is_empty() && !f.contains('/'))
        .map(str::to_string)
        .collect();
    let wanted: [(&str, NameTest); 4] = [
        (
            "innodb_log_group_home_dir",
            Box::new(|n| n.starts_with("ib_logfile")),
        ),
        (
            "innodb_undo_directory",
            Box::new(|n| {
                n.len() == 7 && n.starts_with("undo") && n[4..].bytes().all(|b| b.is_ascii_digit())
            }),
        ),
        (
            "innodb_data_home_dir",
            Box::new(move |n| system_files.iter().any(|f| f == n)),
        ),
        (
            "aria_log_dir_path",
            Box::new(|n| n == "aria_log_control" || n.starts_with("aria_log.")),
        ),
    ];
    let mut moved = Vec::new();
    for (key, matches) in wanted {
        let Some(dir) = cnf.get(key).filter(|v| !v.is_empty()) else {
            continue;
        };
        let Some(dir) = super::server_config::lexical(Path::new(dir), data_dir) else {
            continue;
        };
        if dir == data_dir {
            continue;
        }
        if !(dir.starts_with(data_dir) || dir.starts_with(binlog_dir)) {
            return Err(Error::Refused(format!(
                "{key}={} is outside the restore's dirs",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        let entries = std::fs::read_dir(data_dir).map_err(|e| Error::io("read", data_dir, e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_file() && matches(&name) {
                let dest = dir.join(&name);
                std::fs::rename(e.path(), &dest).map_err(|err| Error::io("move", &dest, err))?;
                moved.push(format!("{name} -> {}", dest.display()));
            }
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_cnf_paths_stay_in_the_target() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("backup-my.cnf"),
            "[mysqld]\ninnodb_checksum_algorithm=crc32\ninnodb_undo_directory=./\n\
             innodb_log_group_home_dir=/etc/x\ninnodb_buffer_pool_filename=/etc/passwd\n\
             plugin_load=file_key_management\n!include /etc/evil.cnf\n",
        )
        .unwrap();
        sanitize_backup_cnf(tmp.path()).unwrap();
        let c = MyCnf::load(&tmp.path().join("backup-my.cnf")).unwrap();
        assert_eq!(c.get("innodb_log_group_home_dir"), Some("./"));
        assert_eq!(c.get("innodb_undo_directory"), Some("./"));
        assert_eq!(c.get("innodb_buffer_pool_filename"), None);
        assert_eq!(c.get("innodb_checksum_algorithm"), Some("crc32"));
        assert_eq!(c.get("plugin_load"), None);
        assert!(c.includes().is_empty());
    }

    #[test]
    fn prepare_gets_the_key_management_options_of_conf_only() {
        let conf: Vec<String> = [
            "plugin-load-add=file_key_management",
            "--file-key-management-filename=/etc/mysql/keys.txt",
            "loose-file_key_management_encryption_algorithm=aes_ctr",
            "innodb-encrypt-log=ON",
            "max-connections=10",
            "--innodb-buffer-pool-size=1G",
            "plugin_dir=/usr/lib/mysql/plugin",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            key_management_options(&conf),
            [
                "plugin-load-add=file_key_management",
                "file-key-management-filename=/etc/mysql/keys.txt",
                "loose-file_key_management_encryption_algorithm=aes_ctr",
                "innodb-encrypt-log=ON",
                "plugin_dir=/usr/lib/mysql/plugin",
            ]
        );
    }
}

//! Where the restored instance's files go. The target dirs come from conf (`data_dir`,
//! `binlog_dir`), never from the archive; the backup's my.cnf is rewritten so that every path
//! of the original instance points into them.
//!
//! Rules, per option (in every section):
//! - `datadir` becomes the target data dir; `log-bin` and `log-bin-index` name files in the
//!   target binlog dir;
//! - an absolute path under the backup's data dir or binlog dir is mapped into the target's;
//! - the InnoDB/Aria file dirs and relay/master info files elsewhere move into the data dir
//!   (a restore writes only into its targets);
//! - for a copy (another data dir or port than the backup's), the instance's own files
//!   elsewhere (error log, pid file, socket, general/slow/audit logs) move into the data dir,
//!   its scratch dirs (`tmpdir`, ...) become a private one inside it (hidden from the
//!   databases), `port` becomes the target port, `!include` lines are commented out (they
//!   would bring the original's settings back) and the copy starts without replication, so it
//!   touches nothing of the original; any other absolute path is named in the report;
//! - options that run code at start (`init-file`, `plugin-load-add`, ...) are commented out
//!   unless `restore --keep-code-options`;
//! - everything else stays as it is.

use std::path::{Path, PathBuf};

use crate::mysql::mycnf::{Edit, Entry, MyCnf};
use crate::mysql::server_config::lexical;

mod places;
pub use places::{Origin, Target};

/// Dirs of the InnoDB/Aria files.
const LAYOUT_DIRS: &[&str] = &[
    "innodb_data_home_dir",
    "innodb_log_group_home_dir",
    "innodb_undo_directory",
    "aria_log_dir_path",
];
/// Replication state files.
const STATE_FILES: &[&str] = &[
    "relay_log",
    "relay_log_index",
    "relay_log_info_file",
    "master_info_file",
];
/// Files of one running instance.
const INSTANCE_FILES: &[&str] = &[
    "log_error",
    "pid_file",
    "socket",
    "general_log_file",
    "slow_query_log_file",
    "log_slow_query_file",
    "server_audit_file_path",
    "innodb_buffer_pool_filename",
    "log_tc",
];
/// Scratch dirs: shared ones stay, a copy gets its own ([`COPY_TMPDIR`]), since a starting
/// server deletes the `#sql` files it finds in its tmpdir.
const SCRATCH_DIRS: &[&str] = &["tmpdir", "innodb_tmpdir", "slave_load_tmpdir"];
/// Absolute paths a copy may share with the original: read-only resources of the install.
const SHARED: &[&str] = &[
    "basedir",
    "plugin_dir",
    "character_sets_dir",
    "lc_messages_dir",
    "secure_file_priv",
    "file_key_management_filename",
    "ssl_ca",
    "ssl_capath",
    "ssl_cert",
    "ssl_key",
    "ssl_crl",
    "ssl_crlpath",
];
/// The private tmpdir of a copy, inside its data dir (and in `ignore-db-dirs`).
pub const COPY_TMPDIR: &str = "#tmp";
/// Options that run code or SQL when the instance starts.
const CODE: &[&str] = &[
    "init_file",
    "init_connect",
    "init_slave",
    "plugin_load",
    "plugin_load_add",
];
/// Options that make up an instance's identity in its replication group.
const IDENTITY: &[&str] = &["server_id", "gtid_domain_id"];

/// The restored my.cnf and what changed.
#[derive(Clone, Debug, Default)]
pub struct Rewritten {
    pub text: String,
    /// The restore builds a copy beside the original.
    pub copy: bool,
    /// `section/key: old -> new` for every changed line.
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
}

/// The last component of `v`, with characters an option file cannot hold plainly (quotes,
/// blanks, `#`, `\\`) replaced; `_` when there is none.
fn file_name(v: &str) -> String {
    let name: String = Path::new(v)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_whitespace() || matches!(c, '"' | '\'' | '#' | '\\' | ';') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if name.is_empty() || name == "." || name == ".." {
        "_".into()
    } else {
        name
    }
}

/// The plugin names a `plugin-load(-add)` value loads: `name=lib.so;lib2.so` gives `name` and
/// `lib2`, lower case with `-` as `_` as option names are.
fn plugin_names(value: &str) -> Vec<String> {
    value
        .split(';')
        .filter_map(|p| {
            let p = p.trim();
            let name = p.split_once('=').map_or(p, |(n, _)| n);
            let name = name.strip_suffix(".so").unwrap_or(name);
            (!name.is_empty()).then(|| crate::mysql::mycnf::normalize_key(name))
        })
        .collect()
}

/// The new value of one entry (None: unchanged).
fn new_value(e: &Entry, from: &Origin, to: &Target, copy: bool) -> Option<String> {
    let key = e.key.as_str();
    let value = e.value.as_deref().unwrap_or("");
    let new = if key == "port" {
        if !copy {
            return None;
        }
        to.port.to_string()
    } else if key == "datadir" {
        to.data_dir.display().to_string()
    } else if key == "log_bin" || key == "log_bin_index" {
        let split_binlog = to.binlog_dir != to.data_dir;
        if value.is_empty() {
            // A bare log-bin names files after the host in the data dir: name them for real
            // when they live elsewhere.
            if key != "log_bin" || !split_binlog {
                return None;
            }
            to.binlog_dir
                .join(to.binlog_base.as_ref()?)
                .display()
                .to_string()
        } else {
            let name = match key {
                "log_bin" => to.binlog_base.clone(),
                _ => to.binlog_index.clone(),
            }
            .unwrap_or_else(|| file_name(value));
            if !value.starts_with('/') && !split_binlog && file_name(value) == name {
                return None;
            }
            to.binlog_dir.join(name).display().to_string()
        }
    } else if copy && SCRATCH_DIRS.contains(&key) {
        to.data_dir.join(COPY_TMPDIR).display().to_string()
    } else {
        // A relative path stays relative to the data dir, unless `..` takes it out (or `~`,
        // which the server expands to a home dir).
        if !value.starts_with('/')
            && !value.starts_with('~')
            && lexical(Path::new(value), Path::new("/d")).is_some()
        {
            return None;
        }
        let abs = lexical(Path::new(value), Path::new("/"));
        let mapped = abs.as_ref().and_then(|p| {
            let mut best: Option<(usize, PathBuf)> = None;
            // The longer prefix wins; the data dir when they are the same.
            for (src, dst) in [
                (&from.data_dir, &to.data_dir),
                (&from.binlog_dir, &to.binlog_dir),
            ] {
                if let Some(src) = src
                    && let Ok(rel) = p.strip_prefix(src)
                    && best
                        .as_ref()
                        .is_none_or(|(n, _)| src.as_os_str().len() > *n)
                {
                    best = Some((src.as_os_str().len(), dst.join(rel)));
                }
            }
            best.map(|(_, p)| p)
        });
        match mapped {
            Some(p) => p,
            None if LAYOUT_DIRS.contains(&key) => to.data_dir.clone(),
            None if STATE_FILES.contains(&key) => to.data_dir.join(file_name(value)),
            None if copy && INSTANCE_FILES.contains(&key) => to.data_dir.join(file_name(value)),
            None => return None,
        }
        .display()
        .to_string()
    };
    (new.trim_end_matches('/') != value.trim().trim_end_matches('/')).then_some(new)
}

/// The options whose values this module decides (the fuzz target checks they end up inside
/// the targets).
pub fn placed_options() -> impl Iterator<Item = &'static str> {
    ["datadir", "log_bin", "log_bin_index"]
        .into_iter()
        .chain(LAYOUT_DIRS.iter().copied())
        .chain(STATE_FILES.iter().copied())
}

/// Rewrites the backup's my.cnf for `to` (see the module doc). `source` names the backup in
/// the header comment.
pub fn rewrite(cnf: &MyCnf, from: &Origin, to: &Target, source: &str) -> Rewritten {
    let copy = to.is_copy(from);
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let drop_includes = copy || to.foreign.is_some();
    if drop_includes {
        for inc in cnf.includes() {
            changes.push(format!("{inc} -> (commented out)"));
        }
    }
    // Options of the plugins commented out become `loose-`, so the instance still starts.
    let dropped_plugins: Vec<String> = if to.keep_code {
        Vec::new()
    } else {
        cnf.entries()
            .iter()
            .filter(|e| e.key == "plugin_load" || e.key == "plugin_load_add")
            .flat_map(|e| plugin_names(e.value.as_deref().unwrap_or("")))
            .collect()
    };
    let body = cnf.rewrite(drop_includes.then_some("not the restored instance's"), |e| {
        if dropped_plugins
            .iter()
            .any(|p| e.key.starts_with(&format!("{p}_")))
        {
            return Some(Edit::Loose);
        }
        let shown = format!("[{}] {}", e.section, e.key);
        let old = e.value.clone().unwrap_or_default();
        if CODE.contains(&e.key.as_str()) {
            if to.keep_code {
                warnings.push(format!(
                    "my.cnf option {}={old} runs code when the instance starts (kept; check it)",
                    e.key
                ));
                return None;
            }
            changes.push(format!("{shown}: {old} -> (commented out)"));
            warnings.push(format!(
                "my.cnf option {}={old} runs code when the instance starts: commented out \
                 (restore --keep-code-options keeps it)",
                e.key
            ));
            return Some(Edit::CommentOut(
                "runs code at start; mysqlbackup restore --keep-code-options keeps it".into(),
            ));
        }
        if let Some(who) = &to.foreign
            && IDENTITY.contains(&e.key.as_str())
        {
            changes.push(format!("{shown}: {old} -> (commented out)"));
            warnings.push(format!(
                "{}={old} is the identity of {who}: commented out; set this instance's before starting it",
                e.key
            ));
            return Some(Edit::CommentOut(format!("identity of {who}")));
        }
        let Some(v) = new_value(e, from, to, copy) else {
            let outside = (old.starts_with('/') || old.starts_with('~'))
                && !SHARED.contains(&e.key.as_str())
                && !(old.starts_with(&*to.data_dir.to_string_lossy())
                    || old.starts_with(&*to.binlog_dir.to_string_lossy()));
            if outside && copy {
                warnings.push(format!(
                    "the copy's my.cnf still names {}={old}, outside its dirs",
                    e.key
                ));
            } else if outside && INSTANCE_FILES.contains(&e.key.as_str()) {
                warnings.push(format!(
                    "the restored my.cnf names {}={old}, outside the restore's dirs (kept as \
                     the backup had it)",
                    e.key
                ));
            }
            return None;
        };
        changes.push(format!("{shown}: {old} -> {v}"));
        Some(Edit::Set(v))
    });
    // A my.cnf restored before (a backup of a restored instance) starts with that restore's
    // header: replaced, not stacked under this one's.
    let mut lines = body.split_inclusive('\n').peekable();
    let mut in_header = false;
    let mut skipped = 0;
    while let Some(l) = lines.peek() {
        let ours = l.starts_with("# Restored by mysqlbackup from ")
            || l.starts_with("# No path was rewritten.")
            || l.starts_with("# Rewritten into this restore's dirs:")
            || (in_header && l.starts_with("#   "));
        if !ours {
            break;
        }
        in_header = true;
        skipped += l.len();
        lines.next();
    }
    let body = &body[skipped..];
    let mut text = format!("# Restored by mysqlbackup from {source}.\n");
    if changes.is_empty() {
        text.push_str("# No path was rewritten.\n");
    } else {
        text.push_str("# Rewritten into this restore's dirs:\n");
        for c in &changes {
            text.push_str(&format!("#   {c}\n"));
        }
    }
    text.push_str(body);
    if copy {
        // Later lines win: the copy's own tmpdir, hidden from the databases, and no
        // replication until told (it has the original's server_id).
        text.push_str(&format!(
            "\n[mysqld]\n# Added by mysqlbackup for a copy beside the original:\ntmpdir = {}\n\
             ignore-db-dirs = {COPY_TMPDIR}\nskip-slave-start\n",
            to.data_dir.join(COPY_TMPDIR).display()
        ));
        warnings.push(
            "this is a copy: it keeps the original's server_id and starts without replication \
             (skip-slave-start); give it its own identity before connecting it to peers"
                .into(),
        );
    }
    Rewritten {
        text,
        copy,
        changes,
        warnings,
    }
}

#[cfg(test)]
mod tests;

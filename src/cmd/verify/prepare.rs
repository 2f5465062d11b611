//! `verify --prepare`: the backup extracted into a scratch dir, prepared by the backup tool,
//! its binlog window applied as restore applies it, opened by a private read-only server that
//! `CHECK TABLE`s every InnoDB table; the scratch dir is removed whatever happens.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mysql_async::prelude::Queryable;

use super::VerifyOptions;
use crate::archive::reader::Layout;
use crate::archive::unpack::{Targets, unpack};
use crate::catalog::Entry;
use crate::codec::chain::Keys;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::find_binary;
use crate::mysql::mycnf::MyCnf;
use crate::mysql::server::TempServer;
use crate::mysql::server_config::{Dirs, Purpose, ServerConfig, run_as_owner_of};
use crate::pipeline::{Expected, fetch_stream};
use crate::store::Store;

/// The scratch dir; removed when dropped (also when the verify fails or is interrupted).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.0) {
            Ok(()) => tracing::info!("removed scratch dir {}", self.0.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("could not remove scratch dir {}: {e}", self.0.display()),
        }
    }
}

/// Scratch dirs are named this plus the pid of their verify.
const SCRATCH_PREFIX: &str = ".mysqlbackup-verify-";

/// Removes the scratch dirs under `root` of verifies that no longer run (killed ones).
fn remove_stale_scratch(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        tracing::warn!(
            "removing {}, the scratch dir of a verify that no longer runs",
            e.path().display()
        );
        if let Err(err) = std::fs::remove_dir_all(e.path()) {
            tracing::warn!("could not remove {}: {err}", e.path().display());
        }
    }
}

/// Creates the scratch dir `.mysqlbackup-verify-<pid>` under `--scratch` or backup_base (which
/// must exist): new, and private to the server's user (its socket accepts anyone who reaches it).
fn make_scratch(s: &Settings, opts: &VerifyOptions) -> Result<Scratch> {
    let root = opts.scratch.as_deref().unwrap_or(&s.backup_base);
    if !root.is_dir() {
        return Err(Error::Config(format!(
            "scratch dir parent {} is not a directory",
            root.display()
        )));
    }
    remove_stale_scratch(root);
    let dir = root.join(format!("{SCRATCH_PREFIX}{}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    let scratch = Scratch(dir);
    std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("chmod", &scratch.0, e))?;
    Ok(scratch)
}

/// The number of InnoDB tables that passed, or the check that failed and why.
pub async fn prepared_check(
    s: &Settings,
    store: Arc<dyn Store>,
    entry: &Entry,
    keys: &Keys,
    opts: &VerifyOptions,
) -> std::result::Result<u64, (&'static str, Error)> {
    let scratch = make_scratch(s, opts).map_err(|e| ("scratch", e))?;
    let data = scratch.0.join("data");
    tracing::info!("extracting {} into {}", entry.key, data.display());
    let expected = Expected::recorded(entry);
    let format = crate::archive::reader::ReadOptions {
        format_2: entry.record.is_some(),
    };
    let stream = crate::catalog::stream(store, entry)
        .await
        .map_err(|e| ("store", e))?;
    let target = data.clone();
    let binlog = scratch.0.join("binlog");
    let binlog_target = binlog.clone();
    let ((summary, _), _) = fetch_stream(stream, &expected, keys, move |r| {
        unpack(r, 0, format, &mut |_, _| {
            for d in [&target, &binlog_target] {
                std::fs::create_dir(d).map_err(|e| Error::io("create directory", d, e))?;
            }
            Ok(Targets {
                data_dir: target.clone(),
                binlog_dir: Some(binlog_target.clone()),
            })
        })
    })
    .await
    .map_err(|e| ("extract", e))?;

    let kind = summary
        .manifest
        .as_ref()
        .and_then(|m| crate::mysql::dialect::ServerKind::recorded(&m.flavor, &m.server_version));
    let mut relocated = Vec::new();
    if summary.layout == Layout::Streaming {
        // Tablespaces of the original elsewhere are unlinked as restore does: the private
        // server never opens the original's files.
        relocated = crate::mysql::datadir::prepare(s, kind, &data)
            .await
            .map_err(|e| ("prepare", e))?;
    }
    let archived = summary
        .my_cnf
        .as_deref()
        .map(|b| MyCnf::parse(&String::from_utf8_lossy(b)));
    // The binlog window, applied as restore applies it: a backup whose window restore cannot
    // apply fails here too.
    // The data's coordinates as restore finds them: the manifest's, else the backup tool's
    // file; a binlog without them is refused by restore, so by verify too.
    let coords = match summary
        .manifest
        .as_ref()
        .and_then(|m| m.data_binlog.clone())
    {
        Some(c) => Some(c),
        None => crate::archive::marks::read_binlog_info(&data).map_err(|e| ("binlog", e))?,
    };
    if coords.is_none() && !summary.binlog_files.is_empty() {
        return Err((
            "binlog",
            Error::format(
                "binlog",
                "the backup holds a binlog but no binlog coordinates of its data: restore \
                 refuses it (unless --data-only)",
            ),
        ));
    }
    if let Some(c) = coords
        && !summary.binlog_files.is_empty()
    {
        let files = crate::mysql::apply::window_files(&summary.binlog_files, &c)
            .map_err(|e| ("binlog", e))?;
        crate::mysql::datadir::hand_over(&s.server_user, &MyCnf::default(), &scratch.0, &scratch.0)
            .await
            .map_err(|e| ("scratch", e))?;
        let dirs = Dirs {
            data_dir: data.clone(),
            binlog_dir: binlog.clone(),
        };
        let cnf = archived.clone().unwrap_or_default();
        crate::mysql::apply::apply_binlog(
            s,
            &cnf,
            &dirs,
            crate::mysql::apply::Window::Backup {
                from: &c,
                files: &files,
            },
            &relocated,
        )
        .await
        .map_err(|e| ("apply", e))?;
    }
    open_and_check(s, &scratch.0, &data, archived.as_ref())
        .await
        .map_err(|e| ("tables", e))
}

/// Starts the private server on `data` and checks its tables.
async fn open_and_check(
    s: &Settings,
    scratch: &Path,
    data: &Path,
    archived: Option<&MyCnf>,
) -> Result<u64> {
    // Run as root, the server runs as conf server_user, who must own what it opens.
    crate::mysql::datadir::hand_over(&s.server_user, &MyCnf::default(), scratch, scratch).await?;
    let mariadbd = find_binary(&s.mysql_base, &["mariadbd", "mysqld"]).ok_or_else(|| {
        Error::Refused(format!(
            "mariadbd not found under {} or on PATH",
            s.mysql_base.display()
        ))
    })?;
    let dirs = Dirs {
        data_dir: data.to_path_buf(),
        binlog_dir: data.to_path_buf(),
    };
    // No grant tables (Purpose::ApplyBinlog): the backup's accounts are not ours to know. The
    // server listens only on a socket inside the private scratch dir, and is read-only.
    let config = ServerConfig::generate(
        archived,
        &dirs,
        Purpose::ApplyBinlog,
        &s.server_options,
        run_as_owner_of(data)?.as_deref(),
    )?;
    let mut server = TempServer::start(&mariadbd, &config, "root", None).await?;
    let checked = async {
        let mut conn = server.endpoint.connect().await?;
        let n = check_tables(&mut conn).await?;
        drop(conn);
        Ok::<_, Error>(n)
    }
    .await;
    match checked {
        Ok(n) => {
            server.shutdown().await?;
            Ok(n)
        }
        Err(e) => {
            server.kill().await;
            Err(e)
        }
    }
}

/// The InnoDB tables of a running server, `CHECK TABLE`d; the number checked, or the first
/// that is not OK.
pub async fn check_tables(conn: &mut mysql_async::Conn) -> Result<u64> {
    let tables: Vec<(String, String)> = conn
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE engine = 'InnoDB' AND table_type = 'BASE TABLE'",
        )
        .await
        .map_err(|e| Error::mysql("list InnoDB tables", e))?;
    let mut n = 0;
    for (db, t) in tables {
        let sql = format!(
            "CHECK TABLE `{}`.`{}`",
            db.replace('`', "``"),
            t.replace('`', "``")
        );
        let rows: Vec<(String, String, String, String)> = conn
            .query(sql.as_str())
            .await
            .map_err(|e| Error::mysql(sql.clone(), e))?;
        // Rows: (table, op, msg_type, msg_text); a good table ends with status OK.
        let bad = rows
            .iter()
            .find(|(_, _, typ, text)| typ == "error" || (typ == "status" && text != "OK"));
        let status_ok = rows
            .iter()
            .any(|(_, _, typ, text)| typ == "status" && text == "OK");
        if bad.is_some() || !status_ok {
            let said: Vec<String> = rows
                .iter()
                .map(|(_, _, typ, text)| format!("{typ}: {text}"))
                .collect();
            return Err(Error::format(
                "tables",
                format!("CHECK TABLE {db}.{t}: {}", said.join("; ")),
            ));
        }
        n += 1;
    }
    Ok(n)
}

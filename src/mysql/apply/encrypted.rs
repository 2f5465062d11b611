//! An encrypted binlog window (MariaDB `encrypt_binlog`): its events can be read only by a
//! server that has the key, so the temporary server that applies them (with conf's key
//! management, `server_options`) also serves them: it runs with the restored binlog as its own
//! (`--log-bin` in the binlog dir, `gtid_strict_mode` off), lists the window's GTIDs (`SHOW BINLOG EVENTS`), and
//! `mariadb-binlog --read-from-remote-server` reads the events from it over its private socket,
//! decrypted, for the client to apply with `sql_log_bin=0`.

use std::path::Path;

use mysql_async::prelude::Queryable;

use crate::error::{Error, Result};
use crate::mysql::binlog::{Gtid, Scan, is_encrypted};

/// Events listed per `SHOW BINLOG EVENTS` (bounded memory for any window).
const PAGE: usize = 10_000;

/// Whether any of `files` (in `binlog_dir`) is encrypted.
pub fn any_encrypted(binlog_dir: &Path, files: &[String]) -> Result<bool> {
    for f in files {
        let path = binlog_dir.join(f);
        let file = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        if is_encrypted(std::io::BufReader::new(file))
            .map_err(|e| Error::format("binlog", format!("{f}: {e}")))?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The server arguments that make the restored binlog the server's own: `--log-bin` (instead
/// of `--skip-log-bin`) and its index, both in `binlog_dir`.
pub fn serving_args(args: &mut Vec<String>, binlog_dir: &Path, files: &[String]) -> Result<()> {
    let base = files
        .first()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(b, _)| b.to_string())
        .ok_or_else(|| Error::format("binlog", "no binlog file in the window"))?;
    let index = binlog_dir.join(format!("{base}.index"));
    if !index.is_file() {
        return Err(Error::format(
            "binlog",
            format!(
                "the binlog is encrypted and its index {} is missing: the server cannot serve it",
                index.display()
            ),
        ));
    }
    args.retain(|a| {
        a != "--skip-log-bin" && !a.starts_with("--log-bin=") && !a.starts_with("--log-bin-index=")
    });
    args.push(format!("--log-bin={}", binlog_dir.join(&base).display()));
    args.push(format!("--log-bin-index={}", index.display()));
    // The window's GTIDs are already in that binlog's state: strict mode would refuse to set
    // them again in the applying session (which logs nothing: sql_log_bin=0).
    args.push("--gtid-strict-mode=0".into());
    Ok(())
}

/// The window's GTIDs and LOAD DATA events, as the server lists them (decrypted).
pub async fn scan_via_server(
    conn: &mut mysql_async::Conn,
    files: &[String],
    from: u64,
) -> Result<Scan> {
    let mut scan = Scan::default();
    for (i, f) in files.iter().enumerate() {
        let mut pos = if i == 0 { from } else { 4 };
        loop {
            let sql = format!(
                "SHOW BINLOG EVENTS IN {} FROM {pos} LIMIT {PAGE}",
                crate::mysql::replication::quote(f)
            );
            let rows: Vec<mysql_async::Row> = conn.query(sql.as_str()).await.map_err(|e| {
                Error::Failed(format!(
                    "the temporary server cannot read the encrypted binlog {f} (is its key \
                     management plugin in conf server_options?): {e}"
                ))
            })?;
            let n = rows.len();
            for r in &rows {
                let text = |col: &str| crate::mysql::replication::column_text(r, col);
                let kind = text("Event_type");
                if kind == "Gtid" {
                    let info = text("Info");
                    if let Some(g) = gtid_of_info(&info) {
                        scan.gtids.push(g);
                    }
                }
                if matches!(
                    kind.as_str(),
                    "Begin_load_query" | "Execute_load_query" | "Load" | "Create_file"
                ) {
                    scan.load_data = true;
                }
                if let Ok(end) = text("End_log_pos").parse::<u64>() {
                    pos = end;
                }
            }
            if n < PAGE {
                break;
            }
        }
    }
    Ok(scan)
}

/// The GTID of a Gtid event's `Info` (`BEGIN GTID d-s-n cid=N`, `GTID d-s-n`, `... START
/// ALTER`): the word after `GTID`.
fn gtid_of_info(info: &str) -> Option<Gtid> {
    let mut words = info.split_whitespace();
    words.find(|w| *w == "GTID")?;
    Gtid::parse(words.next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restored_binlog_becomes_the_servers_own() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("binlog.index"), "").unwrap();
        let mut args = vec!["--datadir=/d".to_string(), "--skip-log-bin".to_string()];
        serving_args(&mut args, tmp.path(), &["binlog.000002".into()]).unwrap();
        assert_eq!(args[0], "--datadir=/d");
        assert!(!args.contains(&"--skip-log-bin".to_string()));
        assert!(args[1].ends_with("/binlog") && args[1].starts_with("--log-bin="));
        assert!(args[2].ends_with("/binlog.index"));
        let missing = tempfile::tempdir().unwrap();
        assert!(serving_args(&mut args, missing.path(), &["binlog.000002".into()]).is_err());
        assert_eq!(
            Gtid::parse("0-1-42"),
            Some(Gtid {
                domain: 0,
                server: 1,
                seq: 42
            })
        );
        assert_eq!(Gtid::parse("BEGIN"), None);
        let g = |d, s, n| {
            Some(Gtid {
                domain: d,
                server: s,
                seq: n,
            })
        };
        assert_eq!(gtid_of_info("BEGIN GTID 0-2-7 cid=15"), g(0, 2, 7));
        assert_eq!(gtid_of_info("GTID 1-1-3"), g(1, 1, 3));
        assert_eq!(gtid_of_info("BEGIN GTID 1-1-4 START ALTER"), g(1, 1, 4));
        assert_eq!(gtid_of_info("BEGIN"), None);
    }
}

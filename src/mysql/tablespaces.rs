//! Tablespaces the backed-up instance kept outside its data dir (`CREATE TABLE ... DATA
//! DIRECTORY='/x'`): the backup tool streams their `.ibd` as `<db>/<t>.ibd` and their link file
//! `<db>/<t>.isl`, which names the original's outside path. A server opens whatever a `.isl`
//! names, so a restored one would open the original's file (or, on the same host, refuse a
//! tablespace "found in multiple places"). `--prepare` never reads them (it uses the `.ibd` in
//! the target), so after it every `.isl` is removed: the table opens from the data dir. InnoDB
//! still carries the table's DATA DIRECTORY flag, on which a later rebuild (`ALTER TABLE ...
//! FORCE`, `OPTIMIZE`) crashes MariaDB 10.11, so restore rebuilds each such table once
//! ([`rebuild_statement`]).

use std::path::Path;

use crate::error::{Error, Result};

/// A tablespace moved into the data dir.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Relocated {
    /// `<db>/<table>` as on disk (the file name without `.isl`).
    pub file: String,
    /// Where the original had it (the `.isl`'s text).
    pub was: String,
    /// The table, decoded from the file names (None when a name could not be decoded).
    pub table: Option<(String, String)>,
    /// A partitioned table: not rebuilt (a copy would recreate each partition's tablespace
    /// where its DATA DIRECTORY says: the original's outside path).
    pub partitioned: bool,
}

/// Decodes a MariaDB file name (`@XXXX` = the character U+XXXX; the rest as is). None when it
/// holds another `@` form.
pub fn decode_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find('@') {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 1..i + 5)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
        rest = &rest[i + 5..];
    }
    out.push_str(rest);
    Some(out)
}

/// Removes every `<db>/*.isl` of `data_dir` (after `--prepare`, before any server starts) and
/// returns what was relocated, one entry per table (a partitioned table's partitions are one).
pub fn unlink_remote(data_dir: &Path) -> Result<Vec<Relocated>> {
    let mut out: Vec<Relocated> = Vec::new();
    let dbs = std::fs::read_dir(data_dir).map_err(|e| Error::io("read", data_dir, e))?;
    let mut dbs: Vec<_> = dbs.flatten().filter(|e| e.path().is_dir()).collect();
    dbs.sort_by_key(|e| e.file_name());
    for db in dbs {
        let dir = db.path();
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))?;
        let mut links: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "isl"))
            .collect();
        links.sort();
        for link in links {
            let was = std::fs::read_to_string(&link).unwrap_or_default();
            std::fs::remove_file(&link).map_err(|e| Error::io("remove", &link, e))?;
            let stem = link
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let partitioned = stem.contains("#P#");
            let table_stem = stem.split("#P#").next().unwrap_or(&stem).to_string();
            let db_name = db.file_name().to_string_lossy().into_owned();
            let file = format!("{db_name}/{table_stem}");
            if out.iter().any(|r| r.file == file) {
                continue;
            }
            let table = decode_name(&db_name).zip(decode_name(&table_stem));
            out.push(Relocated {
                file,
                was: was.trim().to_string(),
                table,
                partitioned,
            });
        }
    }
    Ok(out)
}

/// The statement that rebuilds a relocated table in the data dir, clearing its DATA DIRECTORY
/// flag (a copy of the whole table).
pub fn rebuild_statement(schema: &str, table: &str) -> String {
    let q = |s: &str| format!("`{}`", s.replace('`', "``"));
    format!(
        "ALTER TABLE {}.{} ENGINE=InnoDB, ALGORITHM=COPY",
        q(schema),
        q(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_removed_and_tables_named() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::create_dir_all(d.join("app")).unwrap();
        std::fs::create_dir_all(d.join("my@002ddb")).unwrap();
        std::fs::write(d.join("app/t.isl"), "/outside/app/t.ibd").unwrap();
        std::fs::write(d.join("app/t.ibd"), "x").unwrap();
        std::fs::write(d.join("app/p#P#p0.isl"), "/o/app/p#P#p0.ibd\n").unwrap();
        std::fs::write(d.join("app/p#P#p1.isl"), "/o/app/p#P#p1.ibd\n").unwrap();
        std::fs::write(d.join("my@002ddb/a@0020b.isl"), "/o/x.ibd").unwrap();
        let r = unlink_remote(d).unwrap();
        let names: Vec<_> = r.iter().map(|r| r.table.clone().unwrap()).collect();
        assert_eq!(
            names,
            [
                ("app".to_string(), "p".to_string()),
                ("app".into(), "t".into()),
                ("my-db".into(), "a b".into())
            ]
        );
        assert_eq!(r[1].was, "/outside/app/t.ibd");
        assert!(!d.join("app/t.isl").exists() && d.join("app/t.ibd").exists());
        assert_eq!(
            rebuild_statement("my-db", "a`b"),
            "ALTER TABLE `my-db`.`a``b` ENGINE=InnoDB, ALGORITHM=COPY"
        );
        assert_eq!(decode_name("x@0G"), None);
    }
}

//! Both generations' names of the backup tool's files, in a stream and in a dir.

use super::*;
use crate::archive::xbstream::{Parser, encode_eof, encode_payload};

fn marks_of(files: &[(&str, &[u8])]) -> StreamMarks {
    let mut s = Vec::new();
    for (path, data) in files {
        encode_payload(path, 0, data, &mut s);
        encode_eof(path, &mut s);
    }
    let mut marks = StreamMarks::default();
    let mut p = Parser::new();
    p.feed(&s, &mut |ev| {
        marks.on(&ev);
        Ok(())
    })
    .unwrap();
    p.finish().unwrap();
    marks
}

#[test]
fn mariadb_11_names_mark_a_complete_backup() {
    let m = marks_of(&[
        ("ibdata1", b"data"),
        (
            "mariadb_backup_binlog_info",
            b"binlog.000007\t1234\t0-1-42\n",
        ),
        (
            "mariadb_backup_checkpoints",
            b"backup_type = full-backuped\n",
        ),
    ]);
    let c = m.check().unwrap().unwrap();
    assert_eq!((c.file.as_str(), c.position), ("binlog.000007", 1234));
    assert_eq!(c.gtid, "0-1-42");
}

#[test]
fn earlier_names_still_mark_a_complete_backup() {
    let m = marks_of(&[
        ("xtrabackup_binlog_info", b"binlog.000002\t99\n"),
        ("xtrabackup_checkpoints", b"backup_type = full-backuped\n"),
    ]);
    assert_eq!(m.check().unwrap().unwrap().position, 99);
    let m = marks_of(&[("xtrabackup_checkpoints", b"x")]);
    assert_eq!(m.check().unwrap(), None);
}

#[test]
fn a_stream_without_either_checkpoints_is_refused() {
    let m = marks_of(&[
        ("ibdata1", b"data"),
        ("mariadb_backup_binlog_info", b"binlog.000007\t1234\n"),
        ("checkpoints", b"not the tool's"),
    ]);
    let err = m.check().unwrap_err().to_string();
    assert!(
        err.contains("mariadb_backup_checkpoints or xtrabackup_checkpoints"),
        "{err}"
    );
}

#[test]
fn find_prefers_the_new_name() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(find(dir.path(), Mark::BinlogInfo), None);
    assert_eq!(read_binlog_info(dir.path()).unwrap(), None);
    std::fs::write(dir.path().join("xtrabackup_binlog_info"), "old.000001\t4\n").unwrap();
    assert_eq!(
        read_binlog_info(dir.path()).unwrap().unwrap().file,
        "old.000001"
    );
    std::fs::write(
        dir.path().join("mariadb_backup_binlog_info"),
        "new.000001\t4\n",
    )
    .unwrap();
    assert_eq!(
        find(dir.path(), Mark::BinlogInfo).unwrap(),
        dir.path().join("mariadb_backup_binlog_info")
    );
    assert_eq!(
        read_binlog_info(dir.path()).unwrap().unwrap().file,
        "new.000001"
    );
}

#[test]
fn the_committed_mariadb_11_stream_is_complete() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mariadb-11/backup.xbstream");
    let bytes = std::fs::read(path).unwrap();
    let mut marks = StreamMarks::default();
    let mut p = Parser::new();
    // In small pieces, as the writer reads a tool's stdout.
    for piece in bytes.chunks(100) {
        p.feed(piece, &mut |ev| {
            marks.on(&ev);
            Ok(())
        })
        .unwrap();
    }
    p.finish().unwrap();
    let c = marks.check().unwrap().unwrap();
    assert_eq!(
        (c.file.as_str(), c.position, c.gtid.as_str()),
        ("binlog.000003", 1234, "0-1-42")
    );
}

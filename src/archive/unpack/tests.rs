//! Hostile and broken archives: every one is refused, and nothing is written outside the
//! target dirs.

use super::*;
use crate::archive::manifest::{EntryRecord, Manifest};
use crate::archive::reader::Summary;
use crate::archive::xbstream::{encode_eof, encode_payload};
use crate::codec::sha1::Sha1Digest;

const PORT: u16 = 3309;

fn sha1(b: &[u8]) -> String {
    let mut d = Sha1Digest::new();
    d.update(b);
    d.hex()
}

fn header(name: &[u8], size: u64, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(size);
    h.set_mode(0o640);
    h.set_entry_type(kind);
    h.set_cksum();
    h
}

/// A tar of `entries` (raw names allowed), in our layout with a correct manifest appended
/// when `manifest` is set.
fn archive(entries: &[(&[u8], Vec<u8>, tar::EntryType)], manifest: bool, port: u16) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut records = Vec::new();
    for (name, data, kind) in entries {
        b.append(&header(name, data.len() as u64, *kind), &data[..])
            .unwrap();
        records.push(EntryRecord {
            name: String::from_utf8_lossy(name).into_owned(),
            size: data.len() as u64,
            sha1: sha1(data),
        });
    }
    if manifest {
        let m = Manifest {
            // Format 1: every entry listed (the data segments too).
            format: 1,
            tool_version: "t".into(),
            flavor: "mariadb".into(),
            server_version: "v".into(),
            backup_tool: "mariabackup".into(),
            host: "h".into(),
            port,
            instance_id: 1,
            date_str: "2020_01_01".into(),
            started_at: "s".into(),
            finished_at: "f".into(),
            data_dir: "/x".into(),
            data_binlog: None,
            binlog_basename: None,
            binlog_files: vec![],
            binlog_index: None,
            entries: records,
            data_stream: None,
        };
        let bytes = m.to_bytes();
        b.append(
            &header(
                b"mysqlbackup-manifest.json",
                bytes.len() as u64,
                tar::EntryType::Regular,
            ),
            &bytes[..],
        )
        .unwrap();
    }
    b.into_inner().unwrap()
}

fn xb(chunks: &[(&str, u64, &[u8])]) -> Vec<u8> {
    let mut s = Vec::new();
    for (p, off, data) in chunks {
        encode_payload(p, *off, data, &mut s);
    }
    s
}

fn good_entries(segment: Vec<u8>) -> Vec<(&'static [u8], Vec<u8>, tar::EntryType)> {
    let r = tar::EntryType::Regular;
    vec![
        (
            b"my.cnf" as &[u8],
            format!("[mysqld]\nport={PORT}\n").into_bytes(),
            r,
        ),
        (b"data.xbstream.00000000", segment, r),
        (b"binlog/binlog.000001", b"\xfebinlog bytes".to_vec(), r),
        (b"binlog/binlog.index", b"./binlog.000001\n".to_vec(), r),
    ]
}

fn good_segment() -> Vec<u8> {
    let mut s = xb(&[("ibdata1", 0, b"0123456789"), ("db/t.ibd", 0, b"table")]);
    encode_eof("ibdata1", &mut s);
    encode_eof("db/t.ibd", &mut s);
    s
}

/// Extracts into `{tmp}/data`; returns the result and every path under tmp.
fn run(bytes: &[u8], port: u16) -> (Result<Summary>, Vec<String>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d2 = data.clone();
    let r = unpack(bytes, port, Default::default(), &mut |_, _| {
        std::fs::create_dir_all(&d2).unwrap();
        Ok(Targets {
            data_dir: d2.clone(),
            binlog_dir: Some(d2.clone()),
        })
    })
    .map(|(summary, _)| summary);
    let mut seen = Vec::new();
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                walk(&p, root, out);
            }
        }
    }
    walk(tmp.path(), tmp.path(), &mut seen);
    seen.sort();
    (r, seen, tmp)
}

fn assert_refused(bytes: &[u8], what: &str) {
    let (r, seen, _tmp) = run(bytes, PORT);
    assert!(r.is_err(), "{what}: accepted");
    assert!(
        seen.iter().all(|p| p == "data" || p.starts_with("data/")),
        "{what}: wrote outside the data dir: {seen:?}"
    );
}

#[test]
fn a_good_archive_extracts() {
    let bytes = archive(&good_entries(good_segment()), true, PORT);
    let (r, seen, tmp) = run(&bytes, PORT);
    let report = r.unwrap();
    assert_eq!(report.binlog_files, vec!["binlog.000001"]);
    assert_eq!(
        std::fs::read(tmp.path().join("data/ibdata1")).unwrap(),
        b"0123456789"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("data/db/t.ibd")).unwrap(),
        b"table"
    );
    assert!(seen.contains(&"data/binlog.index".to_string()));
}

#[test]
fn hostile_tar_entries_are_refused() {
    let r = tar::EntryType::Regular;
    let seg = good_segment();
    for (name, kind, what) in [
        (b"../evil" as &[u8], r, "dot-dot path"),
        (b"binlog/../../evil", r, "dot-dot in binlog"),
        (b"/tmp/evil-abs", r, "absolute path"),
        (b"binlog/link", tar::EntryType::Symlink, "symlink"),
        (b"binlog/hard", tar::EntryType::Link, "hard link"),
        (b"binlog/dev", tar::EntryType::Char, "device"),
        (b"binlog/fifo", tar::EntryType::Fifo, "fifo"),
        (
            b"binlog",
            tar::EntryType::Directory,
            "directory in our layout",
        ),
        (b"other-file", r, "unknown entry"),
    ] {
        let mut entries = good_entries(seg.clone());
        entries.insert(2, (name, b"x".to_vec(), kind));
        assert_refused(&archive(&entries, true, PORT), what);
    }
}

#[test]
fn hostile_xbstream_is_refused() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (xb(&[("../escape", 0, b"x")]), "dot-dot xbstream path"),
        (xb(&[("/abs", 0, b"x")]), "absolute xbstream path"),
        (
            xb(&[("f", 0, b"0123"), ("f", 0, b"0123")]),
            "duplicate chunk",
        ),
        (
            xb(&[("f", 0, b"0123456789"), ("f", 5, b"abc")]),
            "overlapping chunk",
        ),
        (
            {
                let mut s = Vec::new();
                encode_payload("f", 0, b"x", &mut s);
                encode_eof("f", &mut s);
                encode_payload("f", 1, b"y", &mut s);
                s
            },
            "chunk after end of file",
        ),
        (
            {
                let mut s = xb(&[("f", 0, b"payload")]);
                let n = s.len();
                s[n - 2] ^= 0xff;
                s
            },
            "bad CRC",
        ),
        (
            {
                let s = xb(&[("f", 0, b"payload")]);
                s[..s.len() - 3].to_vec()
            },
            "segment ends inside a chunk",
        ),
    ];
    for (seg, what) in cases {
        assert_refused(&archive(&good_entries(seg), true, PORT), what);
    }
}

#[test]
fn broken_archives_are_refused() {
    let good = archive(&good_entries(good_segment()), true, PORT);
    // Cut anywhere before the end of the manifest entry.
    let manifest_end = good.len() - 1024;
    for cut in (0..manifest_end).step_by(97) {
        let (r, _, _tmp) = run(&good[..cut], PORT);
        assert!(r.is_err(), "cut at {cut} accepted");
    }
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    assert_refused(&trailing, "trailing garbage");
    assert_refused(
        &archive(&good_entries(good_segment()), false, PORT),
        "no manifest",
    );

    let mut entries = good_entries(good_segment());
    entries[2].1 = b"tampered".to_vec();
    let mut bytes = archive(&entries, true, PORT);
    // Re-tamper after the manifest was computed: flip a byte of the binlog entry's data.
    let pos = bytes.windows(8).position(|w| w == b"tampered").unwrap();
    bytes[pos] = b'T';
    assert_refused(&bytes, "entry not matching the manifest");
}

#[test]
fn another_ports_archive_needs_permission() {
    let mut entries = good_entries(good_segment());
    entries[0].1 = b"[mysqld]\nport=4000\n".to_vec();
    let bytes = archive(&entries, true, 4000);
    let (r, _, _tmp) = run(&bytes, PORT);
    assert!(r.unwrap_err().to_string().contains("--allow-other-port"));
    let (r, _, _tmp) = run(&bytes, 0);
    r.unwrap();
}

#[test]
fn a_file_sent_again_replaces_the_earlier_copy() {
    // mariabackup sends a table's .frm again when it changed during the copy.
    let mut seg = good_segment();
    encode_payload("db/t.frm", 0, b"first version, longer", &mut seg);
    encode_eof("db/t.frm", &mut seg);
    encode_payload("db/t.frm", 0, b"second", &mut seg);
    encode_payload("db/t.frm", 6, b" one", &mut seg);
    encode_eof("db/t.frm", &mut seg);
    let (r, _, tmp) = run(&archive(&good_entries(seg), true, PORT), PORT);
    r.unwrap();
    assert_eq!(
        std::fs::read(tmp.path().join("data/db/t.frm")).unwrap(),
        b"second one"
    );
    // Within one sending, going back is still refused.
    let mut seg = good_segment();
    encode_payload("db/t.frm", 0, b"first", &mut seg);
    encode_eof("db/t.frm", &mut seg);
    encode_payload("db/t.frm", 0, b"second", &mut seg);
    encode_payload("db/t.frm", 3, b"overlap", &mut seg);
    assert_refused(
        &archive(&good_entries(seg), true, PORT),
        "overlap in a second sending",
    );
}

#[test]
fn the_binlog_index_lists_only_restored_files() {
    let mut entries = good_entries(good_segment());
    entries[3].1 = b"./binlog.000001\n/etc/passwd\n./../../x\n".to_vec();
    let (r, _, tmp) = run(&archive(&entries, true, PORT), PORT);
    r.unwrap();
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("data/binlog.index")).unwrap(),
        "./binlog.000001\n"
    );
    let mut entries = good_entries(good_segment());
    entries[2].0 = b"binlog/passwd";
    assert_refused(
        &archive(&entries, true, PORT),
        "a binlog entry that is no binlog file",
    );
}

mod sparse;

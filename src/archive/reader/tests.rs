//! The reader alone: the events of a good archive, in order; refusals without any file.
//! (Restore's unpacker runs the hostile archives, with files: cmd/restore/unpack/tests.rs.)

use super::*;
use crate::archive::manifest::{EntryRecord, Manifest};
use crate::archive::xbstream::{encode_eof, encode_payload};

/// Records every event as a line.
#[derive(Default)]
struct Record(Vec<String>);

impl Visitor for Record {
    fn start(&mut self, layout: Layout, my_cnf: Option<&[u8]>, port: Option<u16>) -> Result<()> {
        self.0.push(format!(
            "start {layout:?} {:?} {port:?}",
            my_cnf.map(|c| String::from_utf8_lossy(c).into_owned())
        ));
        Ok(())
    }
    fn file_start(&mut self, path: &str, again: bool) -> Result<()> {
        self.0.push(format!("file {path} again={again}"));
        Ok(())
    }
    fn file_data(&mut self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        self.0.push(format!(
            "data {path} @{offset} {}",
            String::from_utf8_lossy(data)
        ));
        Ok(())
    }
    fn file_hole(&mut self, path: &str, offset: u64, len: u64) -> Result<()> {
        self.0.push(format!("hole {path} @{offset} {len}"));
        Ok(())
    }
    fn file_end(&mut self, path: &str) -> Result<()> {
        self.0.push(format!("end {path}"));
        Ok(())
    }
    fn dir(&mut self, path: &str) -> Result<()> {
        self.0.push(format!("dir {path}"));
        Ok(())
    }
    fn binlog_start(&mut self, name: &str) -> Result<()> {
        self.0.push(format!("binlog {name}"));
        Ok(())
    }
    fn binlog_data(&mut self, data: &[u8]) -> Result<()> {
        self.0.push(format!("binlog data {}", data.len()));
        Ok(())
    }
    fn binlog_end(&mut self, name: &str) -> Result<()> {
        self.0.push(format!("binlog end {name}"));
        Ok(())
    }
}

fn sha1(b: &[u8]) -> String {
    let mut d = Sha1Digest::new();
    d.update(b);
    d.hex()
}

fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    tar_in(entries, 1, |_| {})
}

/// A tar of `entries` and a manifest of `format` (2: the data segments summarized), edited by
/// `edit` before it is written.
fn tar_in(entries: &[(&str, Vec<u8>)], format: u32, edit: impl FnOnce(&mut Manifest)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut records = Vec::new();
    let mut data_sum = crc32fast::Hasher::new();
    let mut data_size = 0u64;
    let mut segments = 0;
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o640);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
        if format >= 2 && name.starts_with("data.xbstream.") {
            data_sum.update(data);
            data_size += data.len() as u64;
            segments += 1;
            continue;
        }
        records.push(EntryRecord {
            name: name.to_string(),
            size: data.len() as u64,
            sha1: sha1(data),
        });
    }
    let mut m = Manifest {
        // Format 1 lists every entry (the data segments too), 2 summarizes the segments.
        format,
        tool_version: "t".into(),
        flavor: "mariadb".into(),
        server_version: "v".into(),
        backup_tool: "mariabackup".into(),
        host: "h".into(),
        port: 3309,
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
        data_stream: (format >= 2).then(|| crate::archive::manifest::DataStream {
            segments,
            size: data_size,
            crc32: format!("{:08x}", data_sum.finalize()),
        }),
    };
    edit(&mut m);
    let bytes = m.to_bytes();
    let mut h = tar::Header::new_gnu();
    h.set_path("mysqlbackup-manifest.json").unwrap();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o640);
    h.set_cksum();
    b.append(&h, &bytes[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn a_good_archive_gives_its_events_in_order() {
    let mut seg = Vec::new();
    encode_payload("db/t.frm", 0, b"old", &mut seg);
    encode_eof("db/t.frm", &mut seg);
    encode_payload("ibdata1", 0, b"ib", &mut seg);
    encode_payload("db/t.frm", 0, b"new", &mut seg);
    encode_eof("ibdata1", &mut seg);
    encode_eof("db/t.frm", &mut seg);
    let tar = tar_of(&[
        ("my.cnf", b"[mysqld]\nport=3309\n".to_vec()),
        ("data.xbstream.00000000", seg),
        ("binlog/binlog.000002", b"\xfebin-2".to_vec()),
        ("binlog/binlog.000001", b"\xfebin-1".to_vec()),
        ("binlog/binlog.index", b"./binlog.000001\n".to_vec()),
    ]);
    let mut r = Record::default();
    let s = read(&tar[..], &mut r).unwrap();
    assert_eq!(
        r.0,
        [
            "start Streaming Some(\"[mysqld]\\nport=3309\\n\") None",
            "file db/t.frm again=false",
            "data db/t.frm @0 old",
            "end db/t.frm",
            "file ibdata1 again=false",
            "data ibdata1 @0 ib",
            "file db/t.frm again=true",
            "data db/t.frm @0 new",
            "end ibdata1",
            "end db/t.frm",
            "binlog binlog.000002",
            "binlog data 6",
            "binlog end binlog.000002",
            "binlog binlog.000001",
            "binlog data 6",
            "binlog end binlog.000001",
        ]
    );
    assert_eq!(s.binlog_files, ["binlog.000001", "binlog.000002"]);
    assert_eq!(s.resent, ["db/t.frm"]);
    assert_eq!(s.binlog_index.unwrap().0, "binlog.index");
    assert_eq!(s.manifest.unwrap().port, 3309);
}

/// Format 2: the data segments are one summary in the manifest (count, size, SHA-1 of their
/// concatenation), checked as they pass, in memory that does not grow with their number.
#[test]
fn a_format_2_manifest_summarizes_the_data_stream() {
    let seg = |name: &str, body: &[u8]| {
        let mut v = Vec::new();
        encode_payload(name, 0, body, &mut v);
        encode_eof(name, &mut v);
        v
    };
    let entries = [
        ("my.cnf", b"[mysqld]\n".to_vec()),
        ("data.xbstream.00000000", seg("a", b"first")),
        ("data.xbstream.00000001", seg("b", b"second")),
        ("binlog/binlog.000001", b"\xfebin-1".to_vec()),
    ];
    let good = tar_in(&entries, 2, |_| {});
    let s = read(&good[..], &mut Record::default()).unwrap();
    let m = s.manifest.unwrap();
    assert_eq!(m.entries.len(), 2, "my.cnf and the binlog file");
    assert_eq!(m.data_stream.unwrap().segments, 2);
    // Known to be format 2 (a record says so): the segments are not SHA-1'd, and a format 1
    // archive is refused.
    let known = ReadOptions { format_2: true };
    read_with(&good[..], &mut Record::default(), known).unwrap();
    let v1 = tar_in(&entries, 1, |_| {});
    read(&v1[..], &mut Record::default()).unwrap();
    assert!(read_with(&v1[..], &mut Record::default(), known).is_err());
    let wrong_sum = tar_in(&entries, 2, |m| {
        m.data_stream.as_mut().unwrap().crc32 = "00000000".into();
    });
    assert!(read_with(&wrong_sum[..], &mut Record::default(), known).is_err());
    let err = read(&wrong_sum[..], &mut Record::default()).unwrap_err();
    assert!(err.to_string().contains("data stream"), "{err}");
    let one_segment_less = tar_in(&entries, 2, |m| {
        m.data_stream.as_mut().unwrap().segments = 1;
    });
    assert!(read(&one_segment_less[..], &mut Record::default()).is_err());
    let wrong_entry = tar_in(&entries, 2, |m| m.entries[1].size += 1);
    let err = read(&wrong_entry[..], &mut Record::default()).unwrap_err();
    assert!(
        err.to_string().contains("does not match the manifest"),
        "{err}"
    );
    let v1_wrong_entry = tar_in(&entries, 1, |m| m.entries[2].sha1 = "0".repeat(40));
    assert!(read(&v1_wrong_entry[..], &mut Record::default()).is_err());
}

#[test]
fn refusals_need_no_files() {
    let mut r = Record::default();
    let bad = tar_of(&[("../x", b"x".to_vec())]);
    assert!(read(&bad[..], &mut r).is_err());
    let bad = tar_of(&[("ibdata1", b"x".to_vec())]);
    let err = read(&bad[..], &mut Record::default()).unwrap_err();
    assert!(err.to_string().contains("unknown layout"), "{err}");
}

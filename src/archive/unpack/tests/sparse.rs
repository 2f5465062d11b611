//! Sparse (`S`) chunks through restore's unpacker: the files written are the ones the format
//! defines (zeros in holes, the full length after a last hole), and holes stay holes on disk.

use std::os::unix::fs::MetadataExt;

use super::*;
use crate::archive::xbstream::encode_sparse;

/// The file a sparse chunk defines over `file`, built from the map alone.
fn place(file: &mut Vec<u8>, offset: u64, map: &[(u32, u32)], mut payload: &[u8]) {
    let mut pos = offset as usize;
    for &(skip, len) in map {
        pos += skip as usize;
        let end = pos + len as usize;
        if file.len() < end {
            file.resize(end, 0);
        }
        file[pos..end].copy_from_slice(&payload[..len as usize]);
        payload = &payload[len as usize..];
        pos = end;
    }
    if file.len() < pos {
        file.resize(pos, 0);
    }
}

fn extract(segment: Vec<u8>) -> (Result<Summary>, tempfile::TempDir) {
    let (r, _, tmp) = run(&archive(&good_entries(segment), true, PORT), PORT);
    (r, tmp)
}

#[test]
fn payload_then_sparse_chunks_extract_exactly() {
    let head: Vec<u8> = (0..100u8).collect();
    let m1: &[(u32, u32)] = &[(10, 4), (0, 3), (20, 5)];
    let m2: &[(u32, u32)] = &[(7, 2), (33, 0)];
    let mut s = Vec::new();
    encode_payload("db/p.ibd", 0, &head, &mut s);
    encode_sparse("db/p.ibd", 100, m1, b"abcdefghijkl", &mut s);
    encode_sparse("db/p.ibd", 142, m2, b"yz", &mut s);
    encode_eof("db/p.ibd", &mut s);

    let mut want = head.clone();
    place(&mut want, 100, m1, b"abcdefghijkl");
    place(&mut want, 142, m2, b"yz");
    assert_eq!(want.len(), 100 + 42 + 42);

    let (r, tmp) = extract(s);
    r.unwrap();
    assert_eq!(
        std::fs::read(tmp.path().join("data/db/p.ibd")).unwrap(),
        want
    );
}

#[test]
fn the_committed_fixture_extracts_to_its_expected_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xbstream-sparse");
    let (r, tmp) = extract(std::fs::read(dir.join("sparse.xbstream")).unwrap());
    r.unwrap();
    for f in ["db/t1.ibd", "ibdata1"] {
        let got = std::fs::read(tmp.path().join("data").join(f)).unwrap();
        assert!(
            got == std::fs::read(dir.join("expected").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn a_long_last_hole_is_left_sparse() {
    let mut s = Vec::new();
    encode_sparse("big", 0, &[(4096, 4), (64 << 20, 0)], b"data", &mut s);
    encode_eof("big", &mut s);
    let (r, tmp) = extract(s);
    r.unwrap();
    let path = tmp.path().join("data/big");
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 4100 + (64 << 20));
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "{} bytes allocated for 4 bytes of data",
        meta.blocks() * 512
    );
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[4096..4100], b"data");
    assert!(bytes[..4096].iter().chain(&bytes[4100..]).all(|&b| b == 0));
}

#[test]
fn a_file_sent_again_may_start_with_a_hole() {
    let mut s = Vec::new();
    encode_payload("f", 0, b"first copy, longer", &mut s);
    encode_eof("f", &mut s);
    encode_sparse("f", 0, &[(5, 3), (2, 0)], b"new", &mut s);
    encode_eof("f", &mut s);
    let (r, tmp) = extract(s);
    assert_eq!(r.unwrap().resent, vec!["f"]);
    assert_eq!(
        std::fs::read(tmp.path().join("data/f")).unwrap(),
        b"\0\0\0\0\0new\0\0"
    );
}

#[test]
fn a_hole_over_bytes_already_written_is_refused() {
    let mut s = Vec::new();
    encode_payload("f", 0, b"0123456789", &mut s);
    encode_sparse("f", 5, &[(1, 1)], b"x", &mut s);
    encode_eof("f", &mut s);
    assert_refused(&archive(&good_entries(s), true, PORT), "hole over data");
}

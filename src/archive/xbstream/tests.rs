//! xbstream parser tests: real `mbstream -c` output, random cuts, corruption, hostile paths.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// Parses a whole stream into files (offset-aware), feeding it in `cut`-byte pieces.
fn parse_all(stream: &[u8], cut: usize) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut p = Parser::new();
    for piece in stream.chunks(cut.max(1)) {
        p.feed(piece, &mut |ev| {
            if let Event::Data { path, offset, data } = ev {
                let f = files.entry(path.to_string()).or_default();
                let end = offset as usize + data.len();
                if f.len() < end {
                    f.resize(end, 0);
                }
                f[offset as usize..end].copy_from_slice(data);
            }
            Ok(())
        })?;
    }
    p.finish()?;
    Ok(files)
}

fn fixture() -> (Vec<u8>, BTreeMap<String, Vec<u8>>) {
    let mut s = Vec::new();
    let a: Vec<u8> = (0..30_000u32).map(|i| (i % 253) as u8).collect();
    encode_payload("ibdata1", 0, &a[..20_000], &mut s);
    encode_payload("db/t.ibd", 0, b"hello", &mut s);
    encode_payload("ibdata1", 20_000, &a[20_000..], &mut s);
    encode_eof("ibdata1", &mut s);
    encode_eof("db/t.ibd", &mut s);
    let mut files = BTreeMap::new();
    files.insert("ibdata1".to_string(), a);
    files.insert("db/t.ibd".to_string(), b"hello".to_vec());
    (s, files)
}

#[test]
fn reads_real_mbstream_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.path().join("big"), &big).unwrap();
    std::fs::write(dir.path().join("sub/small"), b"small file").unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    let out = std::process::Command::new("mbstream")
        .args(["-c", "big", "sub/small", "empty"])
        .current_dir(dir.path())
        .output()
        .expect("mbstream is installed (mariadb-backup)");
    assert!(out.status.success());
    let files = parse_all(&out.stdout, 65_536).unwrap();
    assert_eq!(files["big"], big);
    assert_eq!(files["sub/small"], b"small file");
    assert_eq!(files.len(), 2, "an empty file has no payload chunk");
}

#[test]
fn encoder_output_extracts_with_mbstream() {
    let (s, files) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("mbstream")
        .args(["-x", "-C"])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &s).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    for (name, data) in files {
        assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), data);
    }
}

#[test]
fn corrupt_payload_fails_crc() {
    let (mut s, _) = fixture();
    let at = s.len() / 3;
    s[at] ^= 0x40;
    let err = parse_all(&s, 1000).unwrap_err().to_string();
    assert!(
        err.contains("CRC") || err.contains("magic") || err.contains("path"),
        "{err}"
    );
}

#[test]
fn truncation_anywhere_is_an_error() {
    let (s, _) = fixture();
    for cut in (1..s.len()).step_by(97) {
        // Cutting exactly at a chunk boundary is a valid (shorter) stream.
        if let Ok(files) = parse_all(&s[..cut], 13) {
            assert!(files.values().map(Vec::len).sum::<usize>() < 30_005);
        }
    }
    assert!(parse_all(&s[..s.len() - 1], 64).is_err());
    assert!(parse_all(&s[..20], 64).is_err());
}

#[test]
fn hostile_paths_are_refused() {
    for path in [
        "../etc/passwd",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        "./a",
        "",
    ] {
        let mut s = Vec::new();
        encode_payload(path, 0, b"x", &mut s);
        assert!(parse_all(&s, 64).is_err(), "{path:?} accepted");
    }
}

#[test]
fn unknown_chunk_type_is_refused() {
    let mut s = Vec::new();
    encode_eof("f", &mut s);
    s[9] = b'X';
    assert!(parse_all(&s, 64).is_err());
}

proptest! {
    #[test]
    fn any_cut_gives_same_files(cut in 1usize..5000) {
        let (s, files) = fixture();
        prop_assert_eq!(parse_all(&s, cut).unwrap(), files);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut s = MAGIC.to_vec();
        s.extend_from_slice(&data);
        let _ = parse_all(&s, 7);
    }
}

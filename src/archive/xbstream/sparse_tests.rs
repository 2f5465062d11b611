//! Sparse (`S`) chunks: cut anywhere, corrupted, inconsistent, and written by hand from the
//! format's definition.

use super::*;

/// One event as owned values, with consecutive pieces of data merged.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Data(String, u64, Vec<u8>),
    Hole(String, u64, u64),
    Done(String),
    End(String),
}

/// Feeds `pieces` in order; returns the events (data pieces that continue each other merged).
fn events<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Ev>> {
    let mut out: Vec<Ev> = Vec::new();
    let mut p = Parser::new();
    for piece in pieces {
        p.feed(piece, &mut |ev| {
            match ev {
                Event::Data { path, offset, data } => match out.last_mut() {
                    Some(Ev::Data(pp, o, d)) if pp == path && *o + d.len() as u64 == offset => {
                        d.extend_from_slice(data)
                    }
                    _ => out.push(Ev::Data(path.into(), offset, data.to_vec())),
                },
                Event::Hole { path, offset, len } => out.push(Ev::Hole(path.into(), offset, len)),
                Event::ChunkDone { path } => out.push(Ev::Done(path.into())),
                Event::EndOfFile { path } => out.push(Ev::End(path.into())),
            }
            Ok(())
        })?;
    }
    p.finish()?;
    Ok(out)
}

fn stream() -> Vec<u8> {
    let mut s = Vec::new();
    encode_payload("t.ibd", 0, b"head", &mut s);
    encode_sparse(
        "t.ibd",
        4,
        &[(3, 2), (0, 1), (5, 4), (7, 0)],
        b"abcdefg",
        &mut s,
    );
    encode_sparse("u", 0, &[(9, 0)], b"", &mut s);
    encode_eof("t.ibd", &mut s);
    encode_eof("u", &mut s);
    s
}

#[test]
fn sparse_events_are_placed_by_the_map() {
    let t = |s: &str| s.to_string();
    assert_eq!(
        events([&stream()[..]]).unwrap(),
        vec![
            Ev::Data(t("t.ibd"), 0, b"head".to_vec()),
            Ev::Done(t("t.ibd")),
            Ev::Hole(t("t.ibd"), 4, 3),
            Ev::Data(t("t.ibd"), 7, b"abc".to_vec()),
            Ev::Hole(t("t.ibd"), 10, 5),
            Ev::Data(t("t.ibd"), 15, b"defg".to_vec()),
            Ev::Hole(t("t.ibd"), 19, 7),
            Ev::Done(t("t.ibd")),
            Ev::Hole(t("u"), 0, 9),
            Ev::Done(t("u")),
            Ev::End(t("t.ibd")),
            Ev::End(t("u")),
        ]
    );
}

#[test]
fn a_cut_at_every_byte_parses_the_same() {
    let s = stream();
    let whole = events([&s[..]]).unwrap();
    for at in 0..=s.len() {
        assert_eq!(events([&s[..at], &s[at..]]).unwrap(), whole, "cut at {at}");
    }
    assert_eq!(events(s.chunks(1)).unwrap(), whole, "byte by byte");
    for at in 1..s.len() {
        if events([&s[..at]]).is_ok() {
            // Only a chunk boundary ends a valid (shorter) stream.
            assert!(events([&s[..at]]).unwrap().len() < whole.len());
        }
    }
}

/// Where the first `S` chunk of a stream starts.
fn first_sparse(s: &[u8]) -> usize {
    s.windows(10)
        .position(|w| &w[..8] == MAGIC && w[9] == b'S')
        .unwrap()
}

#[test]
fn corrupt_map_or_payload_fails_crc() {
    let s = stream();
    let at = first_sparse(&s);
    // header: 14 + "t.ibd" (5) + count (4) + len (8) + offset (8) + crc (4) = 43; map 32 bytes.
    for (i, what) in [(at + 43, "a map skip"), (at + 43 + 32, "a payload byte")] {
        let mut bad = s.clone();
        bad[i] ^= 1;
        let err = events([&bad[..]]).unwrap_err().to_string();
        assert!(err.contains("CRC-32"), "{what}: {err}");
    }
}

#[test]
fn a_payload_length_other_than_the_map_sum_is_refused() {
    let s = stream();
    let at = first_sparse(&s) + 23;
    for len in [6u64, 8, 0] {
        let mut bad = s.clone();
        bad[at..at + 8].copy_from_slice(&len.to_le_bytes());
        let err = events([&bad[..]]).unwrap_err().to_string();
        assert!(err.contains("map holds 7"), "{err}");
    }
}

#[test]
fn a_huge_map_is_refused_before_it_is_read() {
    let mut s = Vec::new();
    encode_sparse("f", 0, &[], b"", &mut s);
    s[15..19].copy_from_slice(&(MAX_SPARSE_MAP + 1).to_le_bytes());
    let err = events([&s[..19]]).unwrap_err().to_string();
    assert!(err.contains("too large"), "{err}");
}

#[test]
fn offsets_beyond_u64_are_refused() {
    let mut s = Vec::new();
    encode_sparse("f", u64::MAX - 4, &[(u32::MAX, 1)], b"x", &mut s);
    assert!(
        events([&s[..]])
            .unwrap_err()
            .to_string()
            .contains("overflow")
    );
}

/// An `S` chunk written byte by byte from the format's definition (not by `encode_sparse`):
/// file "d/f" from offset 100, a hole of 2 then "AB", a hole of 1 then "C", a last hole of 4.
#[test]
fn a_hand_written_sparse_chunk_parses() {
    let map: &[u8] = &[
        2, 0, 0, 0, 2, 0, 0, 0, // skip 2, len 2
        1, 0, 0, 0, 1, 0, 0, 0, // skip 1, len 1
        4, 0, 0, 0, 0, 0, 0, 0, // skip 4, len 0: the file ends with a hole
    ];
    let mut crc = crc32fast::Hasher::new();
    crc.update(map);
    crc.update(b"ABC");
    let mut s: Vec<u8> = b"XBSTCK01".to_vec();
    s.extend_from_slice(&[0x00, b'S']); // flags, type
    s.extend_from_slice(&[3, 0, 0, 0]); // path length
    s.extend_from_slice(b"d/f");
    s.extend_from_slice(&[3, 0, 0, 0]); // map entries
    s.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]); // payload length
    s.extend_from_slice(&[100, 0, 0, 0, 0, 0, 0, 0]); // offset
    s.extend_from_slice(&crc.finalize().to_le_bytes());
    s.extend_from_slice(map);
    s.extend_from_slice(b"ABC");
    let t = |s: &str| s.to_string();
    assert_eq!(
        events([&s[..]]).unwrap(),
        vec![
            Ev::Hole(t("d/f"), 100, 2),
            Ev::Data(t("d/f"), 102, b"AB".to_vec()),
            Ev::Hole(t("d/f"), 104, 1),
            Ev::Data(t("d/f"), 105, b"C".to_vec()),
            Ev::Hole(t("d/f"), 106, 4),
            Ev::Done(t("d/f")),
        ]
    );
    let mut ours = Vec::new();
    encode_sparse("d/f", 100, &[(2, 2), (1, 1), (4, 0)], b"ABC", &mut ours);
    assert_eq!(ours, s, "encode_sparse writes the same bytes");
}

proptest::proptest! {
    /// Sparse streams with a few bytes changed: refused or parsed, never a panic, and every
    /// hole and byte reported in order without overlap within a chunk.
    #[test]
    fn mutated_sparse_streams_never_panic(
        flips in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 1..4),
        cut in 1usize..64,
    ) {
        let mut s = stream();
        for (at, b) in flips {
            let i = at % s.len();
            s[i] = b;
        }
        let mut end: Option<(String, u64)> = None;
        let mut p = Parser::new();
        for piece in s.chunks(cut) {
            let r = p.feed(piece, &mut |ev| {
                match ev {
                    Event::Data { path, offset, data } => {
                        if let Some((pp, e)) = &end {
                            assert!(pp != path || offset >= *e);
                        }
                        end = Some((path.into(), offset + data.len() as u64));
                    }
                    Event::Hole { path, offset, len } => {
                        if let Some((pp, e)) = &end {
                            assert!(pp != path || offset >= *e);
                        }
                        end = Some((path.into(), offset + len));
                    }
                    _ => end = None,
                }
                Ok(())
            });
            if r.is_err() {
                break;
            }
        }
        crate::fuzzing::xbstream(&s);
    }
}

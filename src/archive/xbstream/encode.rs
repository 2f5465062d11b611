//! The xbstream encoder, for fixtures and fuzz seeds: one chunk of each type.

use super::MAGIC;

fn head(kind: u8, path: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    out.push(0);
    out.push(kind);
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
}

/// Encodes one payload (`P`) chunk.
pub fn encode_payload(path: &str, offset: u64, data: &[u8], out: &mut Vec<u8>) {
    head(b'P', path, out);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(data);
}

/// Encodes one sparse (`S`) chunk: from `offset`, each `(skip, len)` of `map` leaves a hole of
/// `skip` bytes then takes the next `len` bytes of `payload` (whose length must be the sum of
/// the `len`s).
pub fn encode_sparse(
    path: &str,
    offset: u64,
    map: &[(u32, u32)],
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let total: u64 = map.iter().map(|&(_, len)| u64::from(len)).sum();
    assert_eq!(total, payload.len() as u64, "payload is the map's data");
    let mut raw_map = Vec::with_capacity(map.len() * 8);
    for &(skip, len) in map {
        raw_map.extend_from_slice(&skip.to_le_bytes());
        raw_map.extend_from_slice(&len.to_le_bytes());
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&raw_map);
    crc.update(payload);
    head(b'S', path, out);
    out.extend_from_slice(&(map.len() as u32).to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&raw_map);
    out.extend_from_slice(payload);
}

/// Encodes one end-of-file (`E`) chunk.
pub fn encode_eof(path: &str, out: &mut Vec<u8>) {
    head(b'E', path, out);
}

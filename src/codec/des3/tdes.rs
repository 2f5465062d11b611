//! A fast 3DES (DES-EDE3) block function: one initial and one final permutation per block
//! (the inner ones cancel), and each round's S-boxes and P permutation merged into eight
//! 64-entry tables (the classic SP-table method), with round keys pre-split to the
//! expansion's layout. Plain, safe, constant-free of secrets in control flow: table lookups
//! are indexed by key-dependent data, as in OpenSSL's `des_enc.c`.
//!
//! Why not the `des` crate: its bit-by-bit rounds run at about a third of OpenSSL's speed, and
//! 3DES is the bottleneck of every backup. The key schedule, IP/FP and the S-box table below are
//! adapted from the `des` crate (RustCrypto, MIT/Apache-2.0); `tests` checks this cipher against
//! it on random keys and blocks, and des3's tests check the whole stage against `openssl enc`.

#![allow(clippy::unreadable_literal)]

use std::sync::OnceLock;

const SHIFTS: [u8; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

// S-boxes indexed directly by their 6 input bits (rows/columns rearranged), from the des crate.
#[rustfmt::skip]
const SBOXES: [[u8; 64]; 8] = [
    [
        14,  0,  4, 15, 13,  7,  1,  4,  2, 14, 15,  2, 11, 13,  8,  1,
         3, 10, 10,  6,  6, 12, 12, 11,  5,  9,  9,  5,  0,  3,  7,  8,
         4, 15,  1, 12, 14,  8,  8,  2, 13,  4,  6,  9,  2,  1, 11,  7,
        15,  5, 12, 11,  9,  3,  7, 14,  3, 10, 10,  0,  5,  6,  0, 13,
    ],
    [
        15,  3,  1, 13,  8,  4, 14,  7,  6, 15, 11,  2,  3,  8,  4, 14,
         9, 12,  7,  0,  2,  1, 13, 10, 12,  6,  0,  9,  5, 11, 10,  5,
         0, 13, 14,  8,  7, 10, 11,  1, 10,  3,  4, 15, 13,  4,  1,  2,
         5, 11,  8,  6, 12,  7,  6, 12,  9,  0,  3,  5,  2, 14, 15,  9,
    ],
    [
        10, 13,  0,  7,  9,  0, 14,  9,  6,  3,  3,  4, 15,  6,  5, 10,
         1,  2, 13,  8, 12,  5,  7, 14, 11, 12,  4, 11,  2, 15,  8,  1,
        13,  1,  6, 10,  4, 13,  9,  0,  8,  6, 15,  9,  3,  8,  0,  7,
        11,  4,  1, 15,  2, 14, 12,  3,  5, 11, 10,  5, 14,  2,  7, 12,
    ],
    [
         7, 13, 13,  8, 14, 11,  3,  5,  0,  6,  6, 15,  9,  0, 10,  3,
         1,  4,  2,  7,  8,  2,  5, 12, 11,  1, 12, 10,  4, 14, 15,  9,
        10,  3,  6, 15,  9,  0,  0,  6, 12, 10, 11,  1,  7, 13, 13,  8,
        15,  9,  1,  4,  3,  5, 14, 11,  5, 12,  2,  7,  8,  2,  4, 14,
    ],
    [
         2, 14, 12, 11,  4,  2,  1, 12,  7,  4, 10,  7, 11, 13,  6,  1,
         8,  5,  5,  0,  3, 15, 15, 10, 13,  3,  0,  9, 14,  8,  9,  6,
         4, 11,  2,  8,  1, 12, 11,  7, 10,  1, 13, 14,  7,  2,  8, 13,
        15,  6,  9, 15, 12,  0,  5,  9,  6, 10,  3,  4,  0,  5, 14,  3,
    ],
    [
        12, 10,  1, 15, 10,  4, 15,  2,  9,  7,  2, 12,  6,  9,  8,  5,
         0,  6, 13,  1,  3, 13,  4, 14, 14,  0,  7, 11,  5,  3, 11,  8,
         9,  4, 14,  3, 15,  2,  5, 12,  2,  9,  8,  5, 12, 15,  3, 10,
         7, 11,  0, 14,  4,  1, 10,  7,  1,  6, 13,  0, 11,  8,  6, 13,
    ],
    [
         4, 13, 11,  0,  2, 11, 14,  7, 15,  4,  0,  9,  8,  1, 13, 10,
         3, 14, 12,  3,  9,  5,  7, 12,  5,  2, 10, 15,  6,  8,  1,  6,
         1,  6,  4, 11, 11, 13, 13,  8, 12,  1,  3,  4,  7, 10, 14,  7,
        10,  9, 15,  5,  6,  0,  8, 15,  0, 14,  5,  2,  9,  3,  2, 12,
    ],
    [
        13,  1,  2, 15,  8, 13,  4,  8,  6, 10, 15,  3, 11,  7,  1,  4,
        10, 12,  9,  5,  3,  6, 14, 11,  5,  0,  0, 14, 12,  9,  7,  2,
         7,  2, 11,  1,  4, 14,  1,  7,  9,  4, 12, 10, 14,  8,  2, 13,
         0, 15,  6, 12, 10,  9, 13,  0, 15,  3,  3,  5,  5,  6,  8, 11,
    ],
];

fn delta_swap(a: u64, delta: u64, mask: u64) -> u64 {
    let b = (a ^ (a >> delta)) & mask;
    a ^ b ^ (b << delta)
}

fn pc1(mut key: u64) -> u64 {
    key = delta_swap(key, 2, 0x3333000033330000);
    key = delta_swap(key, 4, 0x0f0f0f0f00000000);
    key = delta_swap(key, 8, 0x009a000a00a200a8);
    key = delta_swap(key, 16, 0x00006c6c0000cccc);
    key = delta_swap(key, 1, 0x1045500500550550);
    key = delta_swap(key, 32, 0x00000000f0f0f5fa);
    key = delta_swap(key, 8, 0x00550055006a00aa);
    key = delta_swap(key, 2, 0x0000333330000300);
    key & 0xFFFFFFFFFFFFFF00
}

fn pc2(key: u64) -> u64 {
    let key = key.rotate_left(61);
    let b1 = (key & 0x0021000002000000) >> 7;
    let b2 = (key & 0x0008020010080000) << 1;
    let b3 = key & 0x0002200000000000;
    let b4 = (key & 0x0000000000100020) << 19;
    let b5 = (key.rotate_left(54) & 0x0005312400000011).wrapping_mul(0x0000000094200201)
        & 0xea40100880000000;
    let b6 = (key.rotate_left(7) & 0x0022110000012001).wrapping_mul(0x0001000000610006)
        & 0x1185004400000000;
    let b7 = (key.rotate_left(6) & 0x0000520040200002).wrapping_mul(0x00000080000000c1)
        & 0x0028811000200000;
    let b8 = (key & 0x01000004c0011100).wrapping_mul(0x0000000000004284) & 0x0400082244400000;
    let b9 = (key.rotate_left(60) & 0x0000000000820280).wrapping_mul(0x0000000000089001)
        & 0x0000000110880000;
    let b10 = (key.rotate_left(49) & 0x0000000000024084).wrapping_mul(0x0000000002040005)
        & 0x000000000a030000;
    b1 | b2 | b3 | b4 | b5 | b6 | b7 | b8 | b9 | b10
}

fn fp(mut m: u64) -> u64 {
    m = delta_swap(m, 24, 0x000000FF000000FF);
    m = delta_swap(m, 24, 0x00000000FF00FF00);
    m = delta_swap(m, 36, 0x000000000F0F0F0F);
    m = delta_swap(m, 18, 0x0000333300003333);
    delta_swap(m, 9, 0x0055005500550055)
}

fn ip(mut m: u64) -> u64 {
    m = delta_swap(m, 9, 0x0055005500550055);
    m = delta_swap(m, 18, 0x0000333300003333);
    m = delta_swap(m, 36, 0x000000000F0F0F0F);
    m = delta_swap(m, 24, 0x00000000FF00FF00);
    delta_swap(m, 24, 0x000000FF000000FF)
}

/// The P permutation of a 32-bit value held in the top half of a u64 (des crate layout).
fn p(block: u64) -> u64 {
    let block = block.rotate_left(44);
    let b1 = (block & 0x0000000000200000) << 32;
    let b2 = (block & 0x0000000000480000) << 13;
    let b3 = (block & 0x0000088000000000) << 12;
    let b4 = (block & 0x0000002020120000) << 25;
    let b5 = (block & 0x0000000442000000) << 14;
    let b6 = (block & 0x0000000001800000) << 37;
    let b7 = (block & 0x0000000004000000) << 24;
    let b8 = (block & 0x0000020280015000).wrapping_mul(0x0000020080800083) & 0x02000a6400000000;
    let b9 = (block.rotate_left(29) & 0x01001400000000aa).wrapping_mul(0x0000210210008081)
        & 0x0902c01200000000;
    let b10 = (block & 0x0000000910040000).wrapping_mul(0x0000000c04000020) & 0x8410010000000000;
    b1 | b2 | b3 | b4 | b5 | b6 | b7 | b8 | b9 | b10
}

fn rotate28(val: u64, shift: u8) -> u64 {
    ((val << shift) | (val >> (28 - shift))) & 0x0FFFFFFF
}

/// The 16 round keys of one DES key: 48 bits each at the top of a u64, S-box i's 6 bits at
/// bits 58 - 6i (des crate layout).
fn round_keys(key: u64) -> [u64; 16] {
    let key = pc1(key) >> 8;
    let (mut c, mut d) = (key >> 28, key & 0x0FFFFFFF);
    let mut keys = [0u64; 16];
    for (k, &s) in keys.iter_mut().zip(SHIFTS.iter()) {
        c = rotate28(c, s);
        d = rotate28(d, s);
        *k = pc2(((c << 28) | d) << 8);
    }
    keys
}

/// A half-block in the form the rounds work on: rotated right by one bit and doubled into
/// both halves of a u64, so that the expansion E is a plain shift and mask of it.
#[inline(always)]
fn spread(x: u32) -> u64 {
    let r = u64::from(x.rotate_right(1));
    (r << 32) | r
}

#[inline(always)]
fn unspread(d: u64) -> u32 {
    (d as u32).rotate_left(1)
}

/// S-box i then P, for every 6-bit input, already in spread form: `SP[i][x]`.
fn sp_tables() -> &'static [[u64; 64]; 8] {
    static SP: OnceLock<[[u64; 64]; 8]> = OnceLock::new();
    SP.get_or_init(|| {
        let mut t = [[0u64; 64]; 8];
        for (i, row) in t.iter_mut().enumerate() {
            for (x, v) in row.iter_mut().enumerate() {
                let s = u64::from(SBOXES[i][x]) << (60 - 4 * i);
                *v = spread((p(s) >> 32) as u32);
            }
        }
        t
    })
}

/// A round key split for the two-word expansion: S-boxes 0, 2, 4, 6 at bits 58, 50, 42, 34
/// and S-boxes 1, 3, 5, 7 at bits 54, 46, 38, 30 of the doubled, rotated half-block.
#[derive(Clone, Copy, Default)]
struct SplitKey {
    even: u64,
    odd: u64,
}

fn split(k: u64) -> SplitKey {
    let chunk = |i: usize| (k >> (58 - 6 * i)) & 0x3f;
    let mut s = SplitKey::default();
    for j in 0..4 {
        s.even |= chunk(2 * j) << (58 - 8 * j);
        s.odd |= chunk(2 * j + 1) << (54 - 8 * j);
    }
    s
}

/// DES-EDE3 with a 24-byte key, encryption and decryption schedules precomputed.
#[derive(Clone)]
pub struct TdesEde3 {
    enc: [SplitKey; 48],
    dec: [SplitKey; 48],
    sp: &'static [[u64; 64]; 8],
}

impl TdesEde3 {
    /// Schedules `key` (three DES keys; parity bits ignored).
    pub fn new(key: &[u8; 24]) -> Self {
        let k = |i: usize| {
            round_keys(u64::from_be_bytes(
                key[8 * i..8 * i + 8].try_into().expect("8 bytes"),
            ))
        };
        let (k1, k2, k3) = (k(0), k(1), k(2));
        let mut enc = [SplitKey::default(); 48];
        let mut dec = [SplitKey::default(); 48];
        for r in 0..16 {
            enc[r] = split(k1[r]);
            enc[16 + r] = split(k2[15 - r]);
            enc[32 + r] = split(k3[r]);
            dec[r] = split(k3[15 - r]);
            dec[16 + r] = split(k2[r]);
            dec[32 + r] = split(k1[15 - r]);
        }
        TdesEde3 {
            enc,
            dec,
            sp: sp_tables(),
        }
    }

    /// The round function on a spread half-block, giving a spread result (spreading is linear,
    /// so the XOR into the other half stays in spread form and the rotation leaves the loop).
    #[inline(always)]
    fn f(&self, d: u64, k: &SplitKey) -> u64 {
        let e = d ^ k.even;
        let o = d ^ k.odd;
        let sp = self.sp;
        sp[0][((e >> 58) & 63) as usize]
            ^ sp[2][((e >> 50) & 63) as usize]
            ^ sp[4][((e >> 42) & 63) as usize]
            ^ sp[6][((e >> 34) & 63) as usize]
            ^ sp[1][((o >> 54) & 63) as usize]
            ^ sp[3][((o >> 46) & 63) as usize]
            ^ sp[5][((o >> 38) & 63) as usize]
            ^ sp[7][((o >> 30) & 63) as usize]
    }

    #[inline(always)]
    fn crypt(&self, block: u64, keys: &[SplitKey; 48]) -> u64 {
        let b = ip(block);
        let (mut l, mut r) = (spread((b >> 32) as u32), spread(b as u32));
        for group in keys.chunks_exact(16) {
            for pair in group.chunks_exact(2) {
                l ^= self.f(r, &pair[0]);
                r ^= self.f(l, &pair[1]);
            }
            std::mem::swap(&mut l, &mut r);
        }
        fp((u64::from(unspread(l)) << 32) | u64::from(unspread(r)))
    }

    /// Encrypts one block (big-endian u64).
    #[inline]
    pub fn encrypt(&self, block: u64) -> u64 {
        self.crypt(block, &self.enc)
    }

    /// Decrypts one block (big-endian u64).
    #[inline]
    pub fn decrypt(&self, block: u64) -> u64 {
        self.crypt(block, &self.dec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use des::cipher::generic_array::GenericArray;
    use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
    use proptest::prelude::*;

    fn reference(key: &[u8; 24]) -> des::TdesEde3 {
        des::TdesEde3::new(GenericArray::from_slice(key))
    }

    proptest! {
        #[test]
        fn matches_the_des_crate(key in any::<[u8; 24]>(), block in any::<u64>()) {
            let ours = TdesEde3::new(&key);
            let mut b = block.to_be_bytes();
            reference(&key).encrypt_block(GenericArray::from_mut_slice(&mut b));
            prop_assert_eq!(ours.encrypt(block), u64::from_be_bytes(b));
            let mut b = block.to_be_bytes();
            reference(&key).decrypt_block(GenericArray::from_mut_slice(&mut b));
            prop_assert_eq!(ours.decrypt(block), u64::from_be_bytes(b));
            prop_assert_eq!(ours.decrypt(ours.encrypt(block)), block);
        }
    }

    #[test]
    fn known_answer() {
        // NIST SP 800-67 style check via single DES (three equal keys): the classic
        // "Now is t" vector, key 0123456789ABCDEF -> 3FA40E8A984D4815.
        let k = 0x0123456789ABCDEFu64.to_be_bytes();
        let mut key = [0u8; 24];
        for i in 0..3 {
            key[8 * i..8 * i + 8].copy_from_slice(&k);
        }
        let t = TdesEde3::new(&key);
        assert_eq!(
            t.encrypt(u64::from_be_bytes(*b"Now is t")),
            0x3FA40E8A984D4815
        );
    }
}

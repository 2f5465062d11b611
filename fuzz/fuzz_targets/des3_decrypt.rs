//! Fuzz: OpenSSL header parsing and des3 decryption of arbitrary bytes, cut at a fuzzed point.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mysqlbackup::config::KeyDerivation;
use mysqlbackup::stage::des3::Des3Decrypt;
use mysqlbackup::stage::run_to_vec;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map(|&b| b as usize + 1).unwrap_or(1);
    let _ = run_to_vec(
        &mut Des3Decrypt::new(b"fuzz", KeyDerivation::Sha256),
        data,
        cut,
    );
});

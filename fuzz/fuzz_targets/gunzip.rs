//! Fuzz: gzip decompression of arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mysqlbackup::stage::gzip::GzipDecompress;
use mysqlbackup::stage::run_to_vec;

fuzz_target!(|data: &[u8]| {
    let _ = run_to_vec(&mut GzipDecompress::new(), data, 4096);
});

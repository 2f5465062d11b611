//! Fuzz target `zstd`: see `mysqlbackup::fuzzing::zstd`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::zstd(data));

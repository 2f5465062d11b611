//! Fuzz target `extract`: see `mysqlbackup::fuzzing::extract_archive`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::extract_archive(data));

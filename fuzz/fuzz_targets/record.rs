//! Fuzz target `record`: see `mysqlbackup::fuzzing::record`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::record(data));

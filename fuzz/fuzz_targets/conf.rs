//! Fuzz target `conf`: see `mysqlbackup::fuzzing::conf`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::conf(data));

//! Fuzz target `manifest`: see `mysqlbackup::fuzzing::manifest`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::manifest(data));

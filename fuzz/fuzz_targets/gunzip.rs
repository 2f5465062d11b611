//! Fuzz target `gunzip`: see `mysqlbackup::fuzzing::gunzip`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::gunzip(data));

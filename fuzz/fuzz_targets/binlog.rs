//! Fuzz target `binlog`: see `mysqlbackup::fuzzing::binlog`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::binlog(data));

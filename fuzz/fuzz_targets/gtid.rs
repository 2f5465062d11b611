//! Fuzz target `gtid`: see `mysqlbackup::fuzzing::gtid`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::gtid(data));

//! Fuzz target `mycnf`: see `mysqlbackup::fuzzing::mycnf`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::mycnf(data));

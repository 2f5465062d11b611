//! Fuzz target `age_decrypt`: see `mysqlbackup::fuzzing::age_decrypt`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::age_decrypt(data));

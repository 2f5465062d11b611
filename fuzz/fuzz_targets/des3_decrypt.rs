//! Fuzz target `des3_decrypt`: see `mysqlbackup::fuzzing::des3_decrypt`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::des3_decrypt(data));

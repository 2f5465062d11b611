//! Fuzz target `xbstream`: see `mysqlbackup::fuzzing::xbstream`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mysqlbackup::fuzzing::xbstream(data));

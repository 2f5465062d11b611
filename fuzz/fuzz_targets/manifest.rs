//! Fuzz: manifest parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mysqlbackup::archive::manifest::{BinlogCoords, Manifest};

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::parse(data);
    let _ = BinlogCoords::parse_binlog_info(&String::from_utf8_lossy(data));
});

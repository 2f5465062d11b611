//! Fuzz: conf.yaml and my.cnf parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mysqlbackup::config::ConfFile;
use mysqlbackup::mysql::mycnf::MyCnf;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ConfFile::parse(text);
        let _ = MyCnf::parse(text);
    }
});

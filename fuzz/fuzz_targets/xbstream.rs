//! Fuzz: the xbstream parser; every reported path must be a plain relative path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mysqlbackup::archive::xbstream::{Event, Parser, check_path};

fuzz_target!(|data: &[u8]| {
    let mut p = Parser::new();
    let cut = data.first().map(|&b| b as usize + 1).unwrap_or(1);
    for piece in data.chunks(cut) {
        let r = p.feed(piece, &mut |ev| {
            let path = match ev {
                Event::Data { path, .. }
                | Event::ChunkDone { path }
                | Event::EndOfFile { path } => path,
            };
            assert!(
                check_path(path).is_ok(),
                "parser reported unsafe path {path:?}"
            );
            Ok(())
        });
        if r.is_err() {
            return;
        }
    }
    let _ = p.finish();
});

//! Entry points of the fuzz targets (fuzz/fuzz_targets/*), kept in the library so that the
//! seed corpus and every input that once crashed run as ordinary tests too
//! (tests/fuzz_corpus.rs). Each must return normally, whatever the bytes.

use crate::archive::manifest::{BinlogCoords, Manifest};
use crate::archive::xbstream::{Event, Parser, check_path};
use crate::codec::des3::Des3Decrypt;
use crate::codec::des3::KeyDerivation;
use crate::codec::gzip::GzipDecompress;
use crate::codec::run_to_vec;
use crate::config::ConfFile;
use crate::mysql::mycnf::MyCnf;

/// OpenSSL header parsing and des3 decryption, input cut at a point taken from its first byte.
pub fn des3_decrypt(data: &[u8]) {
    let cut = data.first().map(|&b| b as usize + 1).unwrap_or(1);
    let _ = run_to_vec(
        &mut Des3Decrypt::new(b"fuzz", KeyDerivation::Sha256),
        data,
        cut,
    );
}

/// gzip decompression.
pub fn gunzip(data: &[u8]) {
    let _ = run_to_vec(&mut GzipDecompress::new(), data, 4096);
}

/// The xbstream parser; every path it reports must be a plain relative path.
pub fn xbstream(data: &[u8]) {
    let mut p = Parser::new();
    let cut = data.first().map(|&b| b as usize + 1).unwrap_or(1);
    for piece in data.chunks(cut) {
        let r = p.feed(piece, &mut |ev| {
            let path = match ev {
                Event::Data { path, .. }
                | Event::Hole { path, .. }
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
}

/// gunzip (when the input starts with the gzip magic) -> the archive reader, whose events
/// must name only plain relative paths, data bytes in order within a file, and binlog files.
pub fn extract_archive(data: &[u8]) {
    use crate::archive::reader::{Layout, ReadOptions, Visitor, is_binlog_file, read_with};
    use std::collections::HashMap;
    struct Check {
        ends: HashMap<String, u64>,
    }
    impl Visitor for Check {
        fn start(&mut self, _: Layout, _: Option<&[u8]>, _: Option<u16>) -> crate::Result<()> {
            Ok(())
        }
        fn file_start(&mut self, path: &str, _again: bool) -> crate::Result<()> {
            assert!(check_path(path).is_ok(), "unsafe path {path:?}");
            self.ends.insert(path.to_string(), 0);
            Ok(())
        }
        fn file_data(&mut self, path: &str, offset: u64, data: &[u8]) -> crate::Result<()> {
            let end = self.ends.get_mut(path).expect("data of a started file");
            assert!(offset >= *end, "overlap in {path:?}");
            *end = offset + data.len() as u64;
            Ok(())
        }
        fn file_hole(&mut self, path: &str, offset: u64, len: u64) -> crate::Result<()> {
            let end = self.ends.get_mut(path).expect("hole of a started file");
            assert!(offset >= *end, "hole overlaps data in {path:?}");
            *end = offset.checked_add(len).expect("hole within u64");
            Ok(())
        }
        fn file_end(&mut self, path: &str) -> crate::Result<()> {
            assert!(check_path(path).is_ok(), "unsafe path {path:?}");
            Ok(())
        }
        fn dir(&mut self, path: &str) -> crate::Result<()> {
            assert!(check_path(path).is_ok(), "unsafe path {path:?}");
            Ok(())
        }
        fn binlog_start(&mut self, name: &str) -> crate::Result<()> {
            assert!(
                is_binlog_file(name) && !name.contains('/'),
                "bad binlog {name:?}"
            );
            Ok(())
        }
        fn binlog_data(&mut self, _: &[u8]) -> crate::Result<()> {
            Ok(())
        }
        fn binlog_end(&mut self, _: &str) -> crate::Result<()> {
            Ok(())
        }
    }
    let tar = if data.starts_with(&[0x1f, 0x8b]) {
        match run_to_vec(&mut GzipDecompress::new(), data, 1 << 16) {
            Ok(t) => t,
            Err(_) => return,
        }
    } else {
        data.to_vec()
    };
    // As a restore without a record reads it, and as one whose record says format 2.
    for format_2 in [false, true] {
        let _ = read_with(
            &tar[..],
            &mut Check {
                ends: HashMap::new(),
            },
            ReadOptions { format_2 },
        );
    }
}

/// Manifest and binlog info (`mariadb_backup_binlog_info`/`xtrabackup_binlog_info`) parsing.
pub fn manifest(data: &[u8]) {
    let _ = Manifest::parse(data);
    let _ = BinlogCoords::parse_binlog_info(&String::from_utf8_lossy(data));
}

/// conf.yaml and my.cnf parsing.
pub fn conf(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ConfFile::parse(text);
        let _ = MyCnf::parse(text);
    }
}

/// The binlog event reader: any bytes, from a start position taken from the first byte; every
/// GTID it reports must come from inside the input.
pub fn binlog(data: &[u8]) {
    let from = data.first().map(|&b| u64::from(b) * 16).unwrap_or(4);
    let mut n = 0usize;
    let _ = crate::mysql::binlog::gtids_from(data, from, &mut |_| n += 1);
    assert!(n <= data.len() / 19, "{n} GTIDs from {} bytes", data.len());
    // The encryption probe reads at most the first events, and never panics.
    let _ = crate::mysql::binlog::is_encrypted(data);
    // The archive's summary of a file (states, transactions, CRCs): never a panic; what it
    // reports lies inside the input, and the end state is the start with every GTID applied.
    if let Ok(sum) = crate::mysql::binlog::summary::summarize(data) {
        assert_eq!(sum.size, data.len() as u64);
        assert!(sum.transactions.len() <= data.len() / 19);
        let mut end = sum.start.clone();
        for t in &sum.transactions {
            assert!(t.position < sum.size);
            end.apply(t.gtid);
        }
        assert_eq!(end, sum.end);
    }
    let _ = crate::mysql::binlog::summary::start_state(data);
    let text = String::from_utf8_lossy(data);
    if let Ok(st) = crate::mysql::binlog::state::GtidState::parse(&text) {
        assert_eq!(
            crate::mysql::binlog::state::GtidState::parse(&st.canonical()).ok(),
            Some(st)
        );
    }
    // File names of an archive's tables (`.isl` links), decoded for SQL: never a panic, and a
    // decoded name has no more characters than the encoded one.
    let name = String::from_utf8_lossy(data);
    if let Some(d) = crate::mysql::tablespaces::decode_name(&name) {
        assert!(
            d.chars().count() <= name.chars().count(),
            "{name:?} -> {d:?}"
        );
    }
}

/// A my.cnf from an archive: rewritten for a copy and turned into a temporary server's
/// configuration. Every placed path must land inside the targets, read back as written, and
/// the temporary server must get no option that runs code or names a file elsewhere.
pub fn mycnf(data: &[u8]) {
    use crate::cmd::restore::layout::{Origin, Target, placed_options, rewrite};
    use crate::mysql::server_config::{Dirs, Purpose, ServerConfig};
    use std::path::PathBuf;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cnf = MyCnf::parse(text);
    let from = Origin::new(&cnf, Some("/data1/mysql-3309"), None, Some(3309));
    let to = Target {
        data_dir: PathBuf::from("/restore/copy"),
        binlog_dir: PathBuf::from("/restore/binlog"),
        port: 3310,
        binlog_base: Some("binlog".into()),
        binlog_index: Some("binlog.index".into()),
        foreign: Some("instance 2 on h2".into()),
        keep_code: false,
    };
    let restored = MyCnf::parse(&rewrite(&cnf, &from, &to, "fuzz").text);
    let dirs = Dirs {
        data_dir: to.data_dir.clone(),
        binlog_dir: to.binlog_dir.clone(),
    };
    let inside = |v: &str| crate::mysql::server_config::inside(v, &dirs);
    for key in placed_options() {
        for e in restored.entries().iter().filter(|e| e.key == key) {
            if let Some(v) = e.value.as_deref().filter(|v| !v.is_empty()) {
                assert!(inside(v), "{key}={v} outside the targets");
            }
        }
    }
    for purpose in [Purpose::ApplyBinlog, Purpose::Catchup { server_id: 7 }] {
        let Ok(c) = ServerConfig::generate(Some(&restored), &dirs, purpose, &[], Some("mysql"))
        else {
            continue;
        };
        for a in &c.args {
            let name = a.trim_start_matches("--").split('=').next().unwrap_or("");
            let name = name.replace('-', "_");
            assert!(
                ![
                    "init_file",
                    "init_connect",
                    "init_slave",
                    "plugin_load",
                    "plugin_load_add"
                ]
                .contains(&name.as_str()),
                "{a} reached the temporary server"
            );
            if let Some((_, v)) = a.split_once('=') {
                assert!(
                    !v.chars().any(char::is_control),
                    "{a} carries a control character"
                );
                // A path option's value is one file name (`:` is an ordinary character there);
                // other values may list several.
                let tokens: Vec<&str> =
                    if crate::mysql::server_config::PATHS.contains(&name.as_str()) {
                        vec![v]
                    } else {
                        v.split([';', ':', ',']).collect()
                    };
                for token in tokens {
                    assert!(
                        !token.starts_with('/') || inside(token),
                        "{a} names a file outside the targets"
                    );
                }
            }
        }
    }
}

/// age decryption (header parsing, identity unwrap, STREAM chunks) with a fixed identity;
/// whatever the bytes, an error or the plaintext, never a panic.
pub fn age_decrypt(data: &[u8]) {
    use std::sync::{Arc, OnceLock};
    static ID: OnceLock<crate::codec::age::Identities> = OnceLock::new();
    let ids = ID
        .get_or_init(|| {
            let id: age::x25519::Identity = FUZZ_AGE_IDENTITY.parse().expect("a valid identity");
            Arc::new(vec![Box::new(id)])
        })
        .clone();
    let _ = crate::codec::run_stages(
        vec![crate::codec::Stage::Pull(
            "age",
            crate::codec::age::age_decrypt(ids),
        )],
        data,
        4096,
    );
}

/// The identity the `age_decrypt` target decrypts with (its seeds are encrypted to it).
pub const FUZZ_AGE_IDENTITY: &str =
    "AGE-SECRET-KEY-16LA858NZCQZ5X06M09VQ8038AQYG9H47FYMPLUPG7UWYA35FWHPSZ4QSGF";
/// Its public key.
pub const FUZZ_AGE_RECIPIENT: &str =
    "age1sjv6fphu4esmt5y9m9pdqaag70x8xp7zzxv73kd3qdls0ff7d4fqm52ap0";

/// zstd decompression, input cut at a point taken from its first byte.
pub fn zstd(data: &[u8]) {
    let cut = data.first().map(|&b| b as usize * 64 + 1).unwrap_or(1);
    if let Ok(mut d) = crate::codec::zstd::ZstdDecompress::new() {
        let _ = run_to_vec(&mut d, data, cut);
    }
}

/// Catalog names and records: the first line is a key, the rest a record read for it. Names
/// parse back to what made them; a record that passes its check names only its key's own
/// segments, in order, and sizes that add up.
pub fn record(data: &[u8]) {
    use crate::catalog::names::{Scheme, classify, full_key, parse_key, segment_key};
    use crate::catalog::record::Record;
    let text = String::from_utf8_lossy(data);
    let (key, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = classify(key);
    // An archived binlog file's key reads back to itself.
    if let Some(b) = crate::catalog::binlogs::BinlogKey::parse(key) {
        assert_eq!(b.key(), key);
    }
    let Some(parts) = parse_key(key) else {
        return;
    };
    if parts.scheme == Scheme::Timed
        && let (Some(inst), Some(taken)) = (parts.instance(), parts.taken)
    {
        assert_eq!(full_key(&parts.day, &inst, taken, parts.suffix), key);
    }
    let Ok(r) = Record::parse(rest.as_bytes()) else {
        return;
    };
    if r.check(key, &parts).is_ok() {
        let mut sum = 0u64;
        for (i, o) in r.objects.iter().enumerate() {
            assert_eq!(o.key, segment_key(key, i as u32 + 1));
            sum += o.size;
        }
        assert_eq!(sum, r.size);
    }
}

/// The entry point of a target by name.
/// What servers and tools print about GTIDs and versions: a MySQL GTID set that parses prints
/// back to text that parses to the same set, and its arithmetic holds; MariaDB positions,
/// server kinds and backup-tool version lines parse or fail, never panic.
pub fn gtid(data: &[u8]) {
    use crate::mysql::gtid::{GtidSet, Position};
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('|').unwrap_or((&text, ""));
    if let Ok(x) = GtidSet::parse(a) {
        assert_eq!(GtidSet::parse(&x.to_string()).ok().as_ref(), Some(&x));
        if let Ok(y) = GtidSet::parse(b) {
            let u = x.union(&y);
            assert!(x.is_subset(&u) && y.is_subset(&u));
            let d = x.difference(&y);
            assert!(d.is_subset(&x));
            assert!(d.union(&y).union(&x).is_subset(&u));
            assert!(x.difference(&u).is_empty());
        }
    }
    let p = Position::lenient(a);
    assert_eq!(Position::lenient(&p.to_string()), p);
    let _ = crate::mysql::dialect::ServerKind::parse(&text);
    let _ = crate::mysql::backup_tool::series::ToolVersion::parse(&text);
}

pub fn target(name: &str) -> Option<fn(&[u8])> {
    Some(match name {
        "des3_decrypt" => des3_decrypt,
        "gunzip" => gunzip,
        "xbstream" => xbstream,
        "extract" => extract_archive,
        "manifest" => manifest,
        "conf" => conf,
        "binlog" => binlog,
        "mycnf" => mycnf,
        "age_decrypt" => age_decrypt,
        "zstd" => zstd,
        "record" => record,
        "gtid" => gtid,
        _ => return None,
    })
}

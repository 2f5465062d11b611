//! Entry names inside the tar stream, in the order they are written.
//!
//! 1. `my.cnf`
//! 2. `data.xbstream.00000000`, `data.xbstream.00000001`, ...: the backup tool's xbstream cut
//!    into consecutive segments (`cat data.xbstream.* | mbstream -x` rebuilds it).
//! 3. `binlog/<file>` for every closed binlog file, then `binlog/<index file>`.
//! 4. `mysqlbackup-manifest.json`.

/// The instance's my.cnf.
pub const MY_CNF: &str = "my.cnf";
/// Prefix of the xbstream segments.
pub const XBSTREAM_PREFIX: &str = "data.xbstream.";
/// Directory of the binlog files.
pub const BINLOG_DIR: &str = "binlog/";
/// The manifest, last entry.
pub const MANIFEST: &str = "mysqlbackup-manifest.json";
/// Default size of one xbstream segment (the source holds one segment in memory).
pub const SEGMENT_SIZE: usize = 16 << 20;

/// Name of the `n`-th xbstream segment.
pub fn segment_name(n: u64) -> String {
    format!("{XBSTREAM_PREFIX}{n:08}")
}

/// The segment number of an entry name, if it is a segment.
pub fn segment_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(XBSTREAM_PREFIX)?;
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_and_parse() {
        assert_eq!(segment_name(0), "data.xbstream.00000000");
        assert!(segment_name(9) < segment_name(10));
        assert_eq!(segment_number(&segment_name(123)), Some(123));
        assert_eq!(segment_number("data.xbstream.12"), None);
        assert_eq!(segment_number("my.cnf"), None);
    }
}

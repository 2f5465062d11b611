//! The manifest: what a backup holds and where its data stands in the binlog.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Binlog coordinates of the data backup, from the backup tool's `mariadb_backup_binlog_info`
/// (MariaDB 11.1+) or `xtrabackup_binlog_info`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BinlogCoords {
    pub file: String,
    pub position: u64,
    /// GTID position (MariaDB `domain-server-seq` list, or a MySQL GTID set); may be empty.
    pub gtid: String,
}

impl BinlogCoords {
    /// Parses `xtrabackup_binlog_info` (`mariadb_backup_binlog_info`): `file<TAB>pos[<TAB>gtid]`;
    /// a MySQL GTID set of several servers goes on over further lines, each but the last
    /// ending in `,` (it is kept without its newlines).
    pub fn parse_binlog_info(text: &str) -> Result<Self> {
        let mut lines = text.lines();
        let line = lines.next().unwrap_or_default();
        let mut f = line.split('\t');
        let (Some(file), Some(pos)) = (f.next(), f.next()) else {
            return Err(Error::format(
                "xtrabackup_binlog_info",
                format!("unexpected content {line:?}"),
            ));
        };
        let position = pos.trim().parse().map_err(|_| {
            Error::format("xtrabackup_binlog_info", format!("bad position {pos:?}"))
        })?;
        let mut gtid = f.next().unwrap_or_default().trim().to_string();
        while gtid.ends_with(',') {
            match lines.next() {
                Some(more) => gtid.push_str(more.trim()),
                None => break,
            }
        }
        Ok(BinlogCoords {
            file: file.trim().to_string(),
            position,
            gtid,
        })
    }
}

/// One tar entry: name, size and SHA-1 of its content.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EntryRecord {
    pub name: String,
    pub size: u64,
    pub sha1: String,
}

/// The backup tool's stream as the archive holds it (format 2): its segments
/// `data.xbstream.00000000`, ... in order, their total size, and the CRC-32 (zlib's, 8 hex
/// digits) of their concatenation. One record whatever the backup's size. A CRC, not a
/// SHA-1: the stored bytes' SHA-1 and SHA-256 are in the backup's record and every xbstream
/// chunk carries its own CRC-32; this one catches a segment or chunk lost or repeated, at a
/// tenth of a SHA-1's cost on the largest stream of the backup.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataStream {
    pub segments: u64,
    pub size: u64,
    pub crc32: String,
}

/// The manifest, the archive's last entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Archive format version.
    pub format: u32,
    pub tool_version: String,
    /// `mariadb` or `mysql`.
    pub flavor: String,
    pub server_version: String,
    pub backup_tool: String,
    pub host: String,
    pub port: u16,
    pub instance_id: u32,
    pub date_str: String,
    pub started_at: String,
    pub finished_at: String,
    /// The server's data dir at backup time.
    pub data_dir: String,
    /// Coordinates of the data backup in the binlog (None when binlog is off).
    pub data_binlog: Option<BinlogCoords>,
    /// The server's `@@log_bin_basename` at backup time (where its binlog lived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_basename: Option<String>,
    /// Binlog files in the archive, oldest first.
    pub binlog_files: Vec<String>,
    /// Name of the binlog index file in the archive.
    pub binlog_index: Option<String>,
    /// Every entry before the manifest (format 1); but the data segments (format 2).
    pub entries: Vec<EntryRecord>,
    /// The data segments, summarized (format 2; format 1 lists each in `entries`, which
    /// grows with the backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_stream: Option<DataStream>,
}

impl Manifest {
    /// Current archive format version.
    pub const FORMAT: u32 = 2;
    /// Versions this code reads.
    pub const READS: &[u32] = &[1, 2];

    /// Parses a manifest.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| Error::format("manifest", e.to_string()))?;
        if !Self::READS.contains(&m.format) || (m.format >= 2) != m.data_stream.is_some() {
            return Err(Error::format(
                "manifest",
                format!("unsupported format version {}", m.format),
            ));
        }
        Ok(m)
    }

    /// Serializes a manifest.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binlog_info() {
        let c = BinlogCoords::parse_binlog_info("binlog.000001\t38385418\t1-1-43,2-2-7\n").unwrap();
        assert_eq!(c.file, "binlog.000001");
        assert_eq!(c.position, 38385418);
        assert_eq!(c.gtid, "1-1-43,2-2-7");
        let c = BinlogCoords::parse_binlog_info("mysql-bin.000003\t154\n").unwrap();
        assert_eq!(c.gtid, "");
        assert!(BinlogCoords::parse_binlog_info("garbage").is_err());
        // MySQL with GTIDs of several servers: the set goes on over further lines.
        let c = BinlogCoords::parse_binlog_info(
            "mysql-bin.000002\t1232\tc777888a-b6df-11e2-a604-080027635ef5:1-4,\n\
             d4b8c1f2-b6df-11e2-a604-080027635ef5:1-5\n",
        )
        .unwrap();
        assert_eq!(
            c.gtid,
            "c777888a-b6df-11e2-a604-080027635ef5:1-4,d4b8c1f2-b6df-11e2-a604-080027635ef5:1-5"
        );
        let set = crate::mysql::gtid::GtidSet::parse(&c.gtid).unwrap();
        assert_eq!(set.count(), 9);
    }

    #[test]
    fn manifest_round_trips_and_rejects_unknown_format() {
        let m = Manifest {
            format: Manifest::FORMAT,
            tool_version: "0.1.0".into(),
            flavor: "mariadb".into(),
            server_version: "10.11".into(),
            backup_tool: "mariabackup".into(),
            host: "h".into(),
            port: 3309,
            instance_id: 1,
            date_str: "2017_01_01".into(),
            started_at: "t0".into(),
            finished_at: "t1".into(),
            data_dir: "/data1/mysql-3309".into(),
            data_binlog: Some(BinlogCoords {
                file: "b.1".into(),
                position: 4,
                gtid: "0-1-2".into(),
            }),
            binlog_basename: Some("/data1/mysql-3309/binlog".into()),
            binlog_files: vec!["b.1".into()],
            binlog_index: Some("b.index".into()),
            entries: vec![EntryRecord {
                name: "my.cnf".into(),
                size: 3,
                sha1: "00".into(),
            }],
            data_stream: Some(DataStream {
                segments: 2,
                size: 20 << 20,
                crc32: "0000abcd".into(),
            }),
        };
        assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m);
        let mut other = m.clone();
        other.format = 99;
        assert!(Manifest::parse(&other.to_bytes()).is_err());
        assert!(Manifest::parse(b"{}").is_err());
        // Format 1 lists the segments among the entries and has no data_stream.
        let mut v1 = m.clone();
        v1.format = 1;
        assert!(
            Manifest::parse(&v1.to_bytes()).is_err(),
            "v1 with data_stream"
        );
        v1.data_stream = None;
        assert_eq!(Manifest::parse(&v1.to_bytes()).unwrap(), v1);
        let mut v2 = m.clone();
        v2.data_stream = None;
        assert!(
            Manifest::parse(&v2.to_bytes()).is_err(),
            "v2 without data_stream"
        );
    }
}

//! Names of backups: the object key / relative path of one instance's backup of one day.

/// The suffix of every backup object.
pub const SUFFIX: &str = ".tgz.des3";

/// `{date_str}/{port}/mysql-{port}-{host}-{instance_id}.tgz.des3`: date, port, host and
/// instance id, so same-day backups of different instances of a port group never collide.
pub fn backup_key(date_str: &str, port: u16, host: &str, instance_id: u32) -> String {
    format!("{date_str}/{port}/mysql-{port}-{host}-{instance_id}{SUFFIX}")
}

/// What a backup's key names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts {
    pub date_str: String,
    pub port: u16,
    pub host: String,
    pub instance_id: u32,
}

/// Parses `{date_str}/{port}/mysql-{port}-{host}-{instance_id}.tgz.des3` (any leading folders
/// are not part of a key). None for any other name (sidecars, leftovers, foreign files).
pub fn parse_key(key: &str) -> Option<KeyParts> {
    let mut parts = key.split('/');
    let (Some(date), Some(port), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    crate::config::validate_date_str(date.to_string()).ok()?;
    let port_n: u16 = port.parse().ok()?;
    if port_n.to_string() != port {
        return None;
    }
    let rest = name
        .strip_prefix(&format!("mysql-{port}-"))?
        .strip_suffix(SUFFIX)?;
    let (host, id) = rest.rsplit_once('-')?;
    let instance_id: u32 = id.parse().ok()?;
    if host.is_empty() || instance_id.to_string() != id {
        return None;
    }
    Some(KeyParts {
        date_str: date.to_string(),
        port: port_n,
        host: host.to_string(),
        instance_id,
    })
}

/// The prefix under which all backups of `port` on `date_str` live.
pub fn day_prefix(date_str: &str, port: u16) -> String {
    format!("{date_str}/{port}/")
}

/// The staging object a backup to S3 uploads `key` under before copying it into place:
/// `{key}.{16 hex digits}.uploading` (random, so a killed run never collides with the next).
pub fn staging_key(key: &str, nonce: u64) -> String {
    format!("{key}.{nonce:016x}{STAGING_SUFFIX}")
}

const STAGING_SUFFIX: &str = ".uploading";

/// Whether `candidate` (a store key, or a path under `backup_base` with `/` separators) is
/// what an interrupted backup of the instance whose key is `key` left behind, on any day: a
/// staging object or pending upload `{name}.{16 hex digits}.uploading` (S3), or
/// `{name}.partial` / `{name}.sha1.partial` (local store), under `{date}/{port}/`.
pub fn is_leftover_of(candidate: &str, key: &str) -> bool {
    let (Some((c_dir, c_name)), Some((k_dir, k_name))) =
        (candidate.rsplit_once('/'), key.rsplit_once('/'))
    else {
        return false;
    };
    let port = |dir: &str| match dir.split('/').collect::<Vec<_>>()[..] {
        [date, port] if !date.is_empty() => Some(port.to_string()),
        _ => None,
    };
    let c_port = port(c_dir);
    if c_port.is_none() || c_port != port(k_dir) {
        return false;
    }
    let Some(rest) = c_name.strip_prefix(k_name) else {
        return false;
    };
    if rest == ".partial" || rest == ".sha1.partial" {
        return true;
    }
    rest.strip_prefix('.')
        .and_then(|r| r.strip_suffix(STAGING_SUFFIX))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_this_instances_only() {
        let key = backup_key("2017_01_02", 3309, "h", 2);
        assert!(is_leftover_of(&staging_key(&key, 7), &key));
        for ours in [
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.0123456789abcdef.uploading",
            "2016_12_31/3309/mysql-3309-h-2.tgz.des3.fedcba9876543210.uploading",
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.partial",
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.sha1.partial",
        ] {
            assert!(is_leftover_of(ours, &key), "{ours}");
        }
        for theirs in [
            key.as_str(),
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.sha1",
            "2017_01_02/3309/mysql-3309-h-22.tgz.des3.partial",
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.0123.uploading",
            "2017_01_02/3309/mysql-3309-h-2.tgz.des3.0123456789abcdeg.uploading",
            "2017_01_02/3310/mysql-3309-h-2.tgz.des3.partial",
            "x/2017_01_02/3309/mysql-3309-h-2.tgz.des3.partial",
            "3309/mysql-3309-h-2.tgz.des3.partial",
        ] {
            assert!(!is_leftover_of(theirs, &key), "{theirs}");
        }
    }

    #[test]
    fn keys_parse_back() {
        let key = backup_key("2017_01_01", 3309, "db-7.example", 2);
        assert_eq!(
            parse_key(&key).unwrap(),
            KeyParts {
                date_str: "2017_01_01".into(),
                port: 3309,
                host: "db-7.example".into(),
                instance_id: 2
            }
        );
        for not_a_key in [
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.sha1",
            "2017_01_01/3309/mysql-3310-h-2.tgz.des3",
            "2017_01_01/3309/mysql-3309--2.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-02.tgz.des3",
            "2017-01-01/3309/mysql-3309-h-2.tgz.des3",
            "x/2017_01_01/3309/mysql-3309-h-2.tgz.des3",
            "2017_01_01/3309/mysql-3309-h-2.tgz.des3.0123456789abcdef.uploading",
        ] {
            assert!(parse_key(not_a_key).is_none(), "{not_a_key}");
        }
    }

    #[test]
    fn key_holds_date_port_host_instance() {
        assert_eq!(
            backup_key("2017_01_01", 3309, "db-7.example", 2),
            "2017_01_01/3309/mysql-3309-db-7.example-2.tgz.des3"
        );
        assert!(
            backup_key("2017_01_01", 3309, "h", 2).starts_with(&day_prefix("2017_01_01", 3309))
        );
        assert_ne!(backup_key("d", 1, "h", 1), backup_key("d", 1, "h", 2));
    }
}

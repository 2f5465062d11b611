//! Global variables: each version's defaults, the read-only ones, GTID values as the server
//! prints them, and LIKE patterns.

use std::collections::BTreeMap;
use std::path::Path;

use super::gtid::{GtidList, GtidSet};
use super::{Personality, State};

pub(super) fn default_vars(
    p: Personality,
    port: u16,
    socket: &Path,
) -> BTreeMap<String, Option<String>> {
    let mut v: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut set = |k: &str, val: &str| {
        v.insert(k.to_string(), Some(val.to_string()));
    };
    set("version", p.version());
    set(
        "version_comment",
        if p.is_mariadb() {
            "MariaDB Server"
        } else {
            "MySQL Community Server - GPL"
        },
    );
    set("datadir", "/var/lib/mysql/");
    set("log_bin", "1");
    set("log_bin_basename", "/var/lib/mysql/binlog");
    set("log_bin_index", "/var/lib/mysql/binlog.index");
    set("server_id", "1");
    set("log_slave_updates", "1");
    set("read_only", "0");
    set("port", &port.to_string());
    set("socket", &socket.to_string_lossy());
    set("hostname", "fake");
    set("wait_timeout", "28800");
    set("interactive_timeout", "28800");
    set("autocommit", "1");
    set("lower_case_table_names", "0");
    set("character_set_server", "utf8mb4");
    set("time_zone", "SYSTEM");
    set("system_time_zone", "UTC");
    set(
        "sql_mode",
        "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
    );
    set(
        "binlog_format",
        if p.is_mariadb() { "MIXED" } else { "ROW" },
    );
    set("log_bin_basename", "/var/lib/mysql/mysql-bin");
    set("relay_log", "");
    if p.is_mariadb() {
        set("max_allowed_packet", "16777216");
        set("gtid_binlog_pos", "");
        set("gtid_slave_pos", "");
        set("gtid_binlog_state", "");
        set("gtid_current_pos", "");
        set("gtid_domain_id", "0");
        set("gtid_strict_mode", "0");
        set("gtid_ignore_duplicates", "0");
        set("default_master_connection", "");
        set("log_bin_compress", "0");
        set("slave_parallel_threads", "0");
    } else {
        let uuid = format!("3e11fa47-71ca-11e1-9e33-c80aa9{port:06x}");
        set("server_uuid", &uuid);
        set("gtid_mode", "ON");
        set("enforce_gtid_consistency", "ON");
        set("gtid_executed", "");
        set("gtid_purged", "");
        set("super_read_only", "0");
        set(
            "max_allowed_packet",
            if p == Personality::MySql57 {
                "4194304"
            } else {
                "67108864"
            },
        );
        match p {
            Personality::MySql57 => {
                set("master_info_repository", "FILE");
                set("relay_log_info_repository", "FILE");
            }
            Personality::MySql8021 | Personality::MySql80 => {
                set("master_info_repository", "TABLE");
                set("relay_log_info_repository", "TABLE");
            }
            _ => {}
        }
        if matches!(p, Personality::MySql80 | Personality::MySql84) {
            set("log_replica_updates", "1");
        }
        if p != Personality::MySql84 {
            set(
                "default_authentication_plugin",
                if p == Personality::MySql57 {
                    "mysql_native_password"
                } else {
                    "caching_sha2_password"
                },
            );
        }
    }
    v
}

/// Variables a `SET GLOBAL` may not change (ER_INCORRECT_GLOBAL_LOCAL_VAR).
pub(super) const READ_ONLY_VARS: &[&str] = &[
    "version",
    "version_comment",
    "datadir",
    "log_bin",
    "log_bin_basename",
    "log_bin_index",
    "server_uuid",
    "gtid_executed",
    "gtid_binlog_pos",
    "gtid_current_pos",
    "log_slave_updates",
    "log_replica_updates",
    "port",
    "socket",
    "hostname",
    "lower_case_table_names",
    "relay_log",
];

pub(super) fn normalize_var(p: Personality, name: &str, value: &str) -> String {
    let name = name.to_ascii_lowercase();
    if p.is_mysql()
        && (name == "gtid_executed" || name == "gtid_purged")
        && let Some(set) = GtidSet::parse(value)
    {
        return set.to_string();
    }
    if p.is_mariadb()
        && name.starts_with("gtid_")
        && name.ends_with("_pos")
        && let Some(l) = GtidList::parse(value)
    {
        return l.to_string();
    }
    value.to_string()
}

/// A variable's value, computing the derived ones; None if no such variable.
pub(super) fn computed_var(st: &State, name: &str) -> Option<Option<String>> {
    if st.p.is_mariadb() && name == "gtid_current_pos" {
        let a = GtidList::parse(&st.var("gtid_binlog_pos").unwrap_or_default()).unwrap_or_default();
        let b = GtidList::parse(&st.var("gtid_slave_pos").unwrap_or_default()).unwrap_or_default();
        return Some(Some(a.merge_max(&b).to_string()));
    }
    st.vars.get(name).cloned()
}

pub(super) fn like(pattern: &str, s: &str) -> bool {
    fn rec(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|i| rec(&p[1..], &s[i..])),
            Some('_') => !s.is_empty() && rec(&p[1..], &s[1..]),
            Some('\\') if p.len() > 1 => {
                !s.is_empty() && s[0].eq_ignore_ascii_case(&p[1]) && rec(&p[2..], &s[1..])
            }
            Some(c) => !s.is_empty() && s[0].eq_ignore_ascii_case(c) && rec(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    rec(&p, &s)
}

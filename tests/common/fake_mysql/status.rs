//! SHOW VARIABLES, SHOW MASTER / BINARY LOG STATUS, and the replication status rows: each
//! version's columns and their values for a channel.

use super::errors::{Reply, parse_error};
use super::gtid::{GtidList, GtidSet};
use super::lex::{Parser, Tok};
use super::sim::FakeChannel;
use super::syntax::StatusStyle;
use super::vars::{computed_var, like};
use super::{Personality, Session, State};

impl Session {
    /// SHOW statements other than replication status.
    pub(super) fn show_other(&self, p: Personality, q: &str, toks: &[Tok]) -> Option<Reply> {
        let mut ps = Parser::new(toks, q.len());
        ps.i = 1;
        let st = self.state.lock().unwrap();
        let _scope = ps.kw("GLOBAL") || ps.kw("SESSION");
        {
            if ps.kw("VARIABLES") {
                let pattern = if ps.kw("LIKE") {
                    match ps.string() {
                        Ok(s) => Some(s),
                        Err(at) => return Some(parse_error(p, q, at)),
                    }
                } else {
                    None
                };
                if let Err(at) = ps.end() {
                    return Some(parse_error(p, q, at));
                }
                let rows = st
                    .vars
                    .keys()
                    .filter(|k| pattern.as_deref().is_none_or(|pat| like(pat, k)))
                    .map(|k| {
                        vec![
                            Some(k.clone()),
                            Some(computed_var(&st, k).flatten().unwrap_or_default()),
                        ]
                    })
                    .collect();
                return Some(Reply::Rows(
                    vec!["Variable_name".into(), "Value".into()],
                    rows,
                ));
            }
        }
        ps.i = 1;
        let master_status = (p != Personality::MySql84 && ps.kw("MASTER"))
            || (p == Personality::MySql84 && ps.kw("BINARY") && ps.kw("LOG"));
        if master_status && ps.kw("STATUS") && ps.end().is_ok() {
            let mut names: Vec<String> = ["File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let mut row = vec![
                Some("mysql-bin.000001".to_string()),
                Some("1000".to_string()),
                Some(String::new()),
                Some(String::new()),
            ];
            if p.is_mysql() {
                names.push("Executed_Gtid_Set".into());
                row.push(st.var("gtid_executed"));
            }
            return Some(Reply::Rows(names, vec![row]));
        }
        None
    }
}

/// MySQL 8.0's SHOW REPLICA STATUS columns; SHOW SLAVE STATUS renames them.
pub(super) const MYSQL_REPLICA_COLUMNS: &[&str] = &[
    "Replica_IO_State",
    "Source_Host",
    "Source_User",
    "Source_Port",
    "Connect_Retry",
    "Source_Log_File",
    "Read_Source_Log_Pos",
    "Relay_Log_File",
    "Relay_Log_Pos",
    "Relay_Source_Log_File",
    "Replica_IO_Running",
    "Replica_SQL_Running",
    "Replicate_Do_DB",
    "Replicate_Ignore_DB",
    "Replicate_Do_Table",
    "Replicate_Ignore_Table",
    "Replicate_Wild_Do_Table",
    "Replicate_Wild_Ignore_Table",
    "Last_Errno",
    "Last_Error",
    "Skip_Counter",
    "Exec_Source_Log_Pos",
    "Relay_Log_Space",
    "Until_Condition",
    "Until_Log_File",
    "Until_Log_Pos",
    "Source_SSL_Allowed",
    "Source_SSL_CA_File",
    "Source_SSL_CA_Path",
    "Source_SSL_Cert",
    "Source_SSL_Cipher",
    "Source_SSL_Key",
    "Seconds_Behind_Source",
    "Source_SSL_Verify_Server_Cert",
    "Last_IO_Errno",
    "Last_IO_Error",
    "Last_SQL_Errno",
    "Last_SQL_Error",
    "Replicate_Ignore_Server_Ids",
    "Source_Server_Id",
    "Source_UUID",
    "Source_Info_File",
    "SQL_Delay",
    "SQL_Remaining_Delay",
    "Replica_SQL_Running_State",
    "Source_Retry_Count",
    "Source_Bind",
    "Last_IO_Error_Timestamp",
    "Last_SQL_Error_Timestamp",
    "Source_SSL_Crl",
    "Source_SSL_Crlpath",
    "Retrieved_Gtid_Set",
    "Executed_Gtid_Set",
    "Auto_Position",
    "Replicate_Rewrite_DB",
    "Channel_Name",
    "Source_TLS_Version",
    "Source_public_key_path",
    "Get_Source_public_key",
    "Network_Namespace",
];

/// MariaDB's SHOW ALL SLAVES STATUS columns; `true` marks those SHOW SLAVE STATUS lacks.
pub(super) const MARIADB_COLUMNS: &[(&str, bool)] = &[
    ("Connection_name", true),
    ("Slave_SQL_State", true),
    ("Slave_IO_State", false),
    ("Master_Host", false),
    ("Master_User", false),
    ("Master_Port", false),
    ("Connect_Retry", false),
    ("Master_Log_File", false),
    ("Read_Master_Log_Pos", false),
    ("Relay_Log_File", false),
    ("Relay_Log_Pos", false),
    ("Relay_Master_Log_File", false),
    ("Slave_IO_Running", false),
    ("Slave_SQL_Running", false),
    ("Replicate_Do_DB", false),
    ("Replicate_Ignore_DB", false),
    ("Replicate_Do_Table", false),
    ("Replicate_Ignore_Table", false),
    ("Replicate_Wild_Do_Table", false),
    ("Replicate_Wild_Ignore_Table", false),
    ("Last_Errno", false),
    ("Last_Error", false),
    ("Skip_Counter", false),
    ("Exec_Master_Log_Pos", false),
    ("Relay_Log_Space", false),
    ("Until_Condition", false),
    ("Until_Log_File", false),
    ("Until_Log_Pos", false),
    ("Master_SSL_Allowed", false),
    ("Master_SSL_CA_File", false),
    ("Master_SSL_CA_Path", false),
    ("Master_SSL_Cert", false),
    ("Master_SSL_Cipher", false),
    ("Master_SSL_Key", false),
    ("Seconds_Behind_Master", false),
    ("Master_SSL_Verify_Server_Cert", false),
    ("Last_IO_Errno", false),
    ("Last_IO_Error", false),
    ("Last_SQL_Errno", false),
    ("Last_SQL_Error", false),
    ("Replicate_Ignore_Server_Ids", false),
    ("Master_Server_Id", false),
    ("Master_SSL_Crl", false),
    ("Master_SSL_Crlpath", false),
    ("Using_Gtid", false),
    ("Gtid_IO_Pos", false),
    ("Replicate_Do_Domain_Ids", false),
    ("Replicate_Ignore_Domain_Ids", false),
    ("Parallel_Mode", false),
    ("SQL_Delay", false),
    ("SQL_Remaining_Delay", false),
    ("Slave_SQL_Running_State", false),
    ("Slave_DDL_Groups", false),
    ("Slave_Non_Transactional_Groups", false),
    ("Slave_Transactional_Groups", false),
    ("Retried_transactions", true),
    ("Max_relay_log_size", true),
    ("Executed_log_entries", true),
    ("Slave_received_heartbeats", true),
    ("Slave_heartbeat_period", true),
    ("Gtid_Slave_Pos", true),
];

/// The SHOW SLAVE STATUS name of a SHOW REPLICA STATUS column.
pub(super) fn slave_name(replica_name: &str) -> String {
    match replica_name {
        "Get_Source_public_key" => "Get_master_public_key".into(),
        n => n.replace("Replica_", "Slave_").replace("Source", "Master"),
    }
}

pub(super) fn status_rows(st: &State, names: &[String], style: StatusStyle) -> Reply {
    let p = st.p;
    let columns: Vec<String> = match style {
        StatusStyle::MariaAll => MARIADB_COLUMNS.iter().map(|(n, _)| n.to_string()).collect(),
        StatusStyle::MariaOne => MARIADB_COLUMNS
            .iter()
            .filter(|(_, all_only)| !all_only)
            .map(|(n, _)| n.to_string())
            .collect(),
        StatusStyle::MyReplica => MYSQL_REPLICA_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        StatusStyle::MySlave => MYSQL_REPLICA_COLUMNS
            .iter()
            .filter(|c| match p {
                Personality::MySql57 => !matches!(
                    **c,
                    "Source_public_key_path" | "Get_Source_public_key" | "Network_Namespace"
                ),
                Personality::MySql8021 => true,
                _ => true,
            })
            .map(|c| slave_name(c))
            .collect(),
    };
    let rows = names
        .iter()
        .filter_map(|n| st.channels.get(n))
        .map(|ch| {
            columns
                .iter()
                .map(|c| status_value(st, ch, &slave_name(c)))
                .collect()
        })
        .collect();
    Reply::Rows(columns, rows)
}

/// One status value, by the column's SHOW SLAVE STATUS name.
pub(super) fn status_value(st: &State, ch: &FakeChannel, col: &str) -> Option<String> {
    let p = st.p;
    let connected = ch.io == "Yes";
    let ever = connected || !ch.received.is_empty();
    let count = if p.is_mysql() {
        GtidSet::parse(&ch.received).map_or(0, |s| s.count())
    } else {
        GtidList::parse(&ch.received).map_or(0, |l| l.count())
    };
    let read_pos = if ever { 1000 + 100 * count } else { 4 };
    let exec_pos = if ch.applied { read_pos } else { 4 };
    let log_file = if ever { "mysql-bin.000001" } else { "" };
    let yes_no = |b: bool| if b { "Yes" } else { "No" }.to_string();
    let s = |v: &str| Some(v.to_string());
    let src = if p.says_source() { "source" } else { "master" };
    match col {
        "Connection_name" | "Channel_Name" => Some(ch.name.clone()),
        "Slave_SQL_State" | "Slave_SQL_Running_State" => {
            if ch.sql == "Yes" {
                if p.is_mysql() && p.says_source() {
                    s("Replica has read all relay log; waiting for more updates")
                } else {
                    s("Slave has read all relay log; waiting for more updates")
                }
            } else {
                s("")
            }
        }
        "Slave_IO_State" => match ch.io.as_str() {
            "Yes" => Some(format!("Waiting for {src} to send event")),
            "Connecting" => Some(format!("Connecting to {src}")),
            _ => s(""),
        },
        "Master_Host" => Some(ch.host.clone()),
        "Master_User" => Some(ch.user.clone()),
        "Master_Port" => Some(ch.port.to_string()),
        "Connect_Retry" => Some(ch.connect_retry.to_string()),
        "Master_Log_File" => s(log_file),
        "Read_Master_Log_Pos" => Some(read_pos.to_string()),
        "Relay_Log_File" => s(if ever { "relay-bin.000002" } else { "" }),
        "Relay_Log_Pos" => s("4"),
        "Relay_Master_Log_File" => s(log_file),
        "Slave_IO_Running" => Some(ch.io.clone()),
        "Slave_SQL_Running" => Some(ch.sql.clone()),
        "Last_Errno"
        | "Skip_Counter"
        | "Last_SQL_Errno"
        | "Until_Log_Pos"
        | "SQL_Delay"
        | "Slave_DDL_Groups"
        | "Slave_Non_Transactional_Groups"
        | "Slave_Transactional_Groups"
        | "Retried_transactions"
        | "Executed_log_entries"
        | "Slave_received_heartbeats" => s("0"),
        "Exec_Master_Log_Pos" => Some(exec_pos.to_string()),
        "Relay_Log_Space" => Some((read_pos + 200).to_string()),
        "Until_Condition" => s("None"),
        "Master_SSL_Allowed" => Some(yes_no(ch.ssl)),
        "Seconds_Behind_Master" => {
            if connected && ch.sql == "Yes" {
                s(if ch.applied { "0" } else { "5" })
            } else {
                None
            }
        }
        "Master_SSL_Verify_Server_Cert" => s("No"),
        "Last_IO_Errno" => Some(ch.last_io_errno.to_string()),
        "Last_IO_Error" => Some(ch.last_io_error.clone()),
        "Master_Server_Id" => Some(ch.master_server_id.clone()),
        "Master_UUID" => Some(ch.master_uuid.clone()),
        "Master_Info_File" => {
            if st
                .var("master_info_repository")
                .is_some_and(|v| v.eq_ignore_ascii_case("FILE"))
            {
                s("/var/lib/mysql/master.info")
            } else {
                s("mysql.slave_master_info")
            }
        }
        "SQL_Remaining_Delay" => None,
        "Master_Retry_Count" => s("86400"),
        "Retrieved_Gtid_Set" | "Gtid_IO_Pos" => Some(ch.received.clone()),
        "Executed_Gtid_Set" => Some(st.var("gtid_executed").unwrap_or_default()),
        "Auto_Position" => s(if ch.auto_position { "1" } else { "0" }),
        "Get_master_public_key" => s(if ch.get_public_key { "1" } else { "0" }),
        "Using_Gtid" => Some(ch.use_gtid.clone()),
        "Replicate_Do_Domain_Ids" => Some(join_ids(&ch.do_domain_ids)),
        "Replicate_Ignore_Domain_Ids" => Some(join_ids(&ch.ignore_domain_ids)),
        "Parallel_Mode" => s("optimistic"),
        "Max_relay_log_size" => s("1073741824"),
        "Slave_heartbeat_period" => s("30.000"),
        "Gtid_Slave_Pos" => Some(st.var("gtid_slave_pos").unwrap_or_default()),
        _ => s(""),
    }
}

pub(super) fn join_ids(ids: &[u32]) -> String {
    ids.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

//! The text exposition format of the metrics file: the families we write, reading the samples
//! of an existing file back, and rendering them with HELP and TYPE.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The families we write: name, type, help. Samples of other names in the file are dropped.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "mysqlbackup_last_success_timestamp_seconds",
        "gauge",
        "When the command last succeeded for the port (Unix time).",
    ),
    (
        "mysqlbackup_last_failure_timestamp_seconds",
        "gauge",
        "When the command last failed for the port (Unix time).",
    ),
    (
        "mysqlbackup_last_exit_code",
        "gauge",
        "The exit code of the command's last run for the port.",
    ),
    (
        "mysqlbackup_last_duration_seconds",
        "gauge",
        "How long the command's last run for the port took.",
    ),
    (
        "mysqlbackup_last_read_bytes",
        "gauge",
        "Bytes the command's last run read (from the backup tool, the store or the binlog).",
    ),
    (
        "mysqlbackup_last_stored_bytes",
        "gauge",
        "Bytes the command's last run wrote to the store.",
    ),
    (
        "mysqlbackup_last_stage_throughput_bytes_per_second",
        "gauge",
        "Bytes per busy second of each stage in the command's last run.",
    ),
    (
        "mysqlbackup_last_backup_size_bytes",
        "gauge",
        "Stored size of the port's last successful backup.",
    ),
    (
        "mysqlbackup_last_backup_timestamp_seconds",
        "gauge",
        "When the port's last successful backup was taken (Unix time).",
    ),
    (
        "mysqlbackup_binlog_last_archived_event_timestamp_seconds",
        "gauge",
        "The time of the last event of the port's newest archived binlog file (Unix time).",
    ),
];

pub(super) type Samples = BTreeMap<(String, String), f64>;

/// Reads the samples of our families from an existing metrics file.
pub(super) fn read(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = match series.find('{') {
            Some(i) => (&series[..i], &series[i..]),
            None => (series, ""),
        };
        if !FAMILIES.iter().any(|(n, _, _)| *n == name) {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            out.insert((name.to_string(), labels.to_string()), v);
        }
    }
    out
}

/// Escapes a label value (backslash, quote, newline).
pub(super) fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The file's text: every family with samples, each with HELP and TYPE.
pub(super) fn render(samples: &Samples) -> String {
    let mut out = String::new();
    for (name, kind, help) in FAMILIES {
        let mut rows = samples.iter().filter(|((n, _), _)| n == name).peekable();
        if rows.peek().is_none() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for ((_, labels), v) in rows {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    }
    out
}

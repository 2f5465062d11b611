//! Unit tests of `expire`'s rules.

use super::*;

fn entry(date: &str, complete: bool) -> Entry {
    let taken = chrono::NaiveDate::parse_from_str(date, "%Y_%m_%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    Entry {
        key: format!("{date}/3306/mysql-3306-h-1.tgz.des3"),
        location: String::new(),
        scheme: crate::catalog::Scheme::Daily,
        kind: "full".into(),
        date: date.into(),
        host: Some("h".into()),
        instance_id: Some(1),
        port: 3306,
        taken_at: taken.to_rfc3339(),
        size: 1,
        segments: 1,
        chain: "gzip+des3".into(),
        sha1: complete.then(|| "0".repeat(40)),
        sha256: None,
        binlog_pos: None,
        gtid: None,
        binlog_first: None,
        binlog_last: None,
        binlog_count: None,
        damaged: None,
        taken,
        objects: Vec::new(),
        parts: None,
        record: None,
    }
}

fn actions(d: &[Decision]) -> Vec<&str> {
    d.iter().map(|d| d.action).collect()
}

#[test]
fn rules_keep_the_newest_always_and_either_rule_keeps() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let list = [
        entry("2026_11_25", true),
        entry("2026_11_24", true),
        entry("2026_11_20", true),
    ];
    let r = |keep_last, keep_days| Retention {
        keep_last,
        keep_days,
    };
    assert_eq!(
        actions(&decide(&list, r(Some(1), None), today)),
        ["keep", "delete", "delete"]
    );
    assert_eq!(
        actions(&decide(&list, r(None, Some(0)), today)),
        ["keep", "delete", "delete"]
    );
    assert_eq!(
        actions(&decide(&list, r(Some(0), Some(0)), today)),
        ["keep", "delete", "delete"]
    );
    assert_eq!(
        actions(&decide(&list, r(None, Some(2)), today)),
        ["keep", "keep", "delete"]
    );
    assert_eq!(
        actions(&decide(&list, r(Some(1), Some(2)), today)),
        ["keep", "keep", "delete"]
    );
    assert_eq!(
        actions(&decide(&list, r(Some(5), None), today)),
        ["keep", "keep", "keep"]
    );
    // An incomplete newest does not count: the newest complete one is kept too.
    let list = [
        entry("2026_11_25", false),
        entry("2026_11_24", true),
        entry("2026_11_20", true),
    ];
    assert_eq!(
        actions(&decide(&list, r(Some(1), None), today)),
        ["keep", "keep", "delete"]
    );
}

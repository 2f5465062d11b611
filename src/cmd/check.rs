//! `check`: the original tool's data-completeness check with the optional conf statements
//! `sql_test_insert` (with `{v}`) and `sql_test_get_2`.
//!
//! `check` writes a fresh marker with `sql_test_insert` and reads it back with
//! `sql_test_get_2`; it prints the marker. After a restore and catch-up, `check --expect
//! MARKER` succeeds only when the marker written before the backup (or before the instance
//! died) is among the values `sql_test_get_2` returns.

use mysql_async::prelude::Queryable;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::Endpoint;

/// Runs the check on the running instance.
pub async fn check(s: &Settings, expect: Option<&str>) -> Result<String> {
    let get = s
        .sql_test_get_2
        .clone()
        .ok_or_else(|| Error::Config("`sql_test_get_2` is required for check".into()))?;
    let mut conn = Endpoint::from_settings(s).connect().await?;
    let marker = match expect {
        Some(m) => m.to_string(),
        None => {
            let insert = s
                .sql_test_insert
                .clone()
                .ok_or_else(|| Error::Config("`sql_test_insert` is required for check".into()))?;
            let v = format!("mysqlbackup-{}", chrono::Utc::now().timestamp_millis());
            conn.query_drop(insert.replace("{v}", &v))
                .await
                .map_err(|e| Error::mysql("sql_test_insert", e))?;
            v
        }
    };
    let rows: Vec<mysql_async::Row> = conn
        .query(get)
        .await
        .map_err(|e| Error::mysql("sql_test_get_2", e))?;
    let values: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            r.get_opt::<Option<String>, usize>(0)
                .and_then(|v| v.ok())
                .flatten()
        })
        .collect();
    let _ = conn.disconnect().await;
    if values.iter().any(|v| v == &marker) {
        Ok(format!("check ok: {marker}\nvalues: {}", values.join(",")))
    } else {
        Err(Error::Refused(format!(
            "data check failed: {marker} is not among the latest values [{}]",
            values.join(", ")
        )))
    }
}

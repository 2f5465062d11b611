//! `setup_replication`: (re)creates the replication channels of conf `replication` on the
//! running instance, starts each, and reports their state once connected.

use std::time::Duration;

use super::when_allows;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::Endpoint;
use crate::mysql::replication;

/// (Re)creates the channels from conf on the running instance and starts each.
pub async fn setup_replication(s: &Settings) -> Result<Option<String>> {
    if !when_allows(s).await {
        return Ok(None);
    }
    let endpoint = Endpoint::from_settings(s);
    let mut conn = endpoint.connect().await?;
    let info = crate::mysql::server_info(&mut conn).await?;
    let d = info.kind.dialect();
    let d = d.as_ref();
    if s.replication.source.is_empty() {
        return Err(Error::Config("`replication.source` lists no peer".into()));
    }
    let channels = replication::setup_channels(&mut conn, d, &s.replication).await?;
    replication::start_channels(&mut conn, d, &channels).await?;
    let states = replication::wait_running(&mut conn, d, SETUP_WAIT).await?;
    let _ = conn.disconnect().await;
    let mut report = format!("channels started: {}", channels.join(", "));
    for c in &states {
        report.push_str(&format!("\n{}", c.line()));
        if !c.running() {
            report.push_str(&format!(
                " (not connected after {}s; it keeps retrying every {}s)",
                SETUP_WAIT.as_secs(),
                s.replication.connect_retry.unwrap_or(10)
            ));
        }
    }
    Ok(Some(report))
}

/// How long setup_replication waits for its channels to connect before reporting their state.
const SETUP_WAIT: Duration = Duration::from_secs(15);

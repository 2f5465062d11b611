//! The replies a statement gets, and the errors each version words its own way (code, SQL state,
//! message).

use super::Personality;

pub(super) enum Reply {
    Ok,
    Rows(Vec<String>, Vec<Vec<Option<String>>>),
    Err(u16, &'static str, String),
}

pub(super) fn err(code: u16, msg: impl Into<String>) -> Reply {
    let state = match code {
        1064 | 1305 => "42000",
        1046 => "3D000",
        _ => "HY000",
    };
    Reply::Err(code, state, msg.into())
}

pub(super) fn parse_error(p: Personality, q: &str, at: usize) -> Reply {
    let near: String = q[at..].chars().take(80).collect();
    let line = q[..at].matches('\n').count() + 1;
    err(
        1064,
        format!(
            "You have an error in your SQL syntax; check the manual that corresponds to your {} server version for the right syntax to use near '{near}' at line {line}",
            p.product()
        ),
    )
}

pub(super) fn no_channel(p: Personality, name: &str) -> Reply {
    if p.is_mariadb() {
        err(1617, format!("There is no master connection '{name}'"))
    } else {
        err(
            3074,
            format!("Replication channel '{name}' does not exist."),
        )
    }
}

pub(super) fn must_stop(p: Personality, name: &str) -> Reply {
    if p.is_mariadb() {
        err(
            1198,
            format!(
                "This operation cannot be performed as you have a running slave '{name}'; run STOP SLAVE '{name}' first"
            ),
        )
    } else if p.says_source() {
        err(
            3081,
            format!(
                "This operation cannot be performed with running replication threads; run STOP REPLICA FOR CHANNEL '{name}' first"
            ),
        )
    } else {
        err(
            3081,
            format!(
                "This operation cannot be performed with running replication threads; run STOP SLAVE FOR CHANNEL '{name}' first"
            ),
        )
    }
}

pub(super) fn io_must_stop(p: Personality, name: &str) -> Reply {
    if p.is_mariadb() {
        must_stop(p, name)
    } else if p.says_source() {
        err(
            3021,
            format!(
                "This operation cannot be performed with a running replica io thread; run STOP REPLICA IO_THREAD FOR CHANNEL '{name}' first."
            ),
        )
    } else {
        err(
            3021,
            format!(
                "This operation cannot be performed with a running slave io thread; run STOP SLAVE IO_THREAD FOR CHANNEL '{name}' first."
            ),
        )
    }
}

pub(super) fn not_configured(p: Personality) -> Reply {
    if p.is_mariadb() {
        err(
            1200,
            "Misconfigured slave: MASTER_HOST was not set; Fix in config file or with CHANGE MASTER TO",
        )
    } else if p.says_source() {
        err(
            1200,
            "The server is not configured as replica; fix in config file or with CHANGE REPLICATION SOURCE TO",
        )
    } else {
        err(
            1200,
            "The server is not configured as slave; fix in config file or with CHANGE MASTER TO",
        )
    }
}

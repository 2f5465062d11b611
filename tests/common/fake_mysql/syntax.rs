//! Replication statements as each version accepts them: CHANGE MASTER / CHANGE REPLICATION
//! SOURCE options, START / STOP / RESET / SHOW of SLAVE or REPLICA, per-channel targets.

use super::Personality;
use super::lex::{PResult, Parser, Tk, Tok};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Target {
    /// MySQL without FOR CHANNEL (all channels), MariaDB ALL SLAVES.
    All,
    Named(String),
    /// MariaDB without a connection name: @@default_master_connection.
    Default(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum StatusStyle {
    MariaAll,
    MariaOne,
    MySlave,
    MyReplica,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Threads {
    pub(super) io: bool,
    pub(super) sql: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Str(String),
    Int(u64),
    Word(String),
    List(Vec<u64>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Opt {
    Host,
    Port,
    User,
    Password,
    ConnectRetry,
    AutoPosition,
    Ssl,
    GetPublicKey,
    UseGtid,
    IgnoreDomainIds,
    DoDomainIds,
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum VType {
    Str,
    Int,
    Num,
    Word,
    List,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Repl {
    Change(String, Vec<(Opt, Val)>),
    Start(Target, Threads),
    Stop(Target, Threads),
    Reset(Target, bool),
    Show(Target, StatusStyle),
    ResetBinlogs,
}

/// The option's meaning and value type in this version's CHANGE statement, or None (1064).
pub(super) fn option_kind(p: Personality, name: &str) -> Option<(Opt, VType)> {
    let n = name.to_ascii_uppercase();
    let (prefix, rest) = if let Some(r) = n.strip_prefix("MASTER_") {
        ("MASTER", r.to_string())
    } else if let Some(r) = n.strip_prefix("SOURCE_") {
        ("SOURCE", r.to_string())
    } else {
        ("", n.clone())
    };
    if p.is_mariadb() {
        if prefix == "SOURCE" {
            return None;
        }
        return match n.as_str() {
            "MASTER_HOST" => Some((Opt::Host, VType::Str)),
            "MASTER_PORT" => Some((Opt::Port, VType::Int)),
            "MASTER_USER" => Some((Opt::User, VType::Str)),
            "MASTER_PASSWORD" => Some((Opt::Password, VType::Str)),
            "MASTER_CONNECT_RETRY" => Some((Opt::ConnectRetry, VType::Int)),
            "MASTER_USE_GTID" => Some((Opt::UseGtid, VType::Word)),
            "MASTER_SSL" => Some((Opt::Ssl, VType::Int)),
            "IGNORE_DOMAIN_IDS" => Some((Opt::IgnoreDomainIds, VType::List)),
            "DO_DOMAIN_IDS" => Some((Opt::DoDomainIds, VType::List)),
            "IGNORE_SERVER_IDS" => Some((Opt::Ignored, VType::List)),
            "MASTER_LOG_FILE" | "RELAY_LOG_FILE" | "MASTER_SSL_CA" | "MASTER_SSL_CAPATH"
            | "MASTER_SSL_CERT" | "MASTER_SSL_KEY" | "MASTER_SSL_CIPHER" | "MASTER_SSL_CRL"
            | "MASTER_SSL_CRLPATH" => Some((Opt::Ignored, VType::Str)),
            "MASTER_LOG_POS"
            | "RELAY_LOG_POS"
            | "MASTER_DELAY"
            | "MASTER_SSL_VERIFY_SERVER_CERT"
            | "MASTER_DEMOTE_TO_SLAVE" => Some((Opt::Ignored, VType::Int)),
            "MASTER_HEARTBEAT_PERIOD" => Some((Opt::Ignored, VType::Num)),
            _ => None,
        };
    }
    match prefix {
        "MASTER" if !p.has_master_opts() => return None,
        "SOURCE" if !p.has_source_opts() => return None,
        _ => {}
    }
    if !prefix.is_empty() {
        return match rest.as_str() {
            "HOST" => Some((Opt::Host, VType::Str)),
            "PORT" => Some((Opt::Port, VType::Int)),
            "USER" => Some((Opt::User, VType::Str)),
            "PASSWORD" => Some((Opt::Password, VType::Str)),
            "CONNECT_RETRY" => Some((Opt::ConnectRetry, VType::Int)),
            "AUTO_POSITION" => Some((Opt::AutoPosition, VType::Int)),
            "SSL" => Some((Opt::Ssl, VType::Int)),
            "LOG_FILE" | "SSL_CA" | "SSL_CAPATH" | "SSL_CERT" | "SSL_KEY" | "SSL_CIPHER"
            | "SSL_CRL" | "SSL_CRLPATH" | "BIND" | "TLS_VERSION" => {
                Some((Opt::Ignored, VType::Str))
            }
            "PUBLIC_KEY_PATH" | "TLS_CIPHERSUITES" | "COMPRESSION_ALGORITHMS"
                if p != Personality::MySql57 =>
            {
                Some((Opt::Ignored, VType::Str))
            }
            "LOG_POS" | "DELAY" | "RETRY_COUNT" | "SSL_VERIFY_SERVER_CERT" => {
                Some((Opt::Ignored, VType::Int))
            }
            "ZSTD_COMPRESSION_LEVEL" if p != Personality::MySql57 => {
                Some((Opt::Ignored, VType::Int))
            }
            "HEARTBEAT_PERIOD" => Some((Opt::Ignored, VType::Num)),
            "CONNECTION_AUTO_FAILOVER" if p.has_source_opts() => Some((Opt::Ignored, VType::Int)),
            _ => None,
        };
    }
    match n.as_str() {
        "GET_MASTER_PUBLIC_KEY" if p.has_master_opts() && p != Personality::MySql57 => {
            Some((Opt::GetPublicKey, VType::Int))
        }
        "GET_SOURCE_PUBLIC_KEY" if p.has_source_opts() => Some((Opt::GetPublicKey, VType::Int)),
        "IGNORE_SERVER_IDS" => Some((Opt::Ignored, VType::List)),
        "RELAY_LOG_FILE" => Some((Opt::Ignored, VType::Str)),
        "RELAY_LOG_POS" => Some((Opt::Ignored, VType::Int)),
        "PRIVILEGE_CHECKS_USER" | "REQUIRE_ROW_FORMAT" | "REQUIRE_TABLE_PRIMARY_KEY_CHECK"
            if p != Personality::MySql57 =>
        {
            Some((Opt::Ignored, VType::Word))
        }
        "ASSIGN_GTIDS_TO_ANONYMOUS_TRANSACTIONS" | "GTID_ONLY" if p.has_source_opts() => {
            Some((Opt::Ignored, VType::Word))
        }
        _ => None,
    }
}

pub(super) fn parse_value(ps: &mut Parser, ty: VType) -> PResult<Val> {
    match ty {
        VType::Str => ps.string().map(Val::Str),
        VType::Int => ps.uint().map(Val::Int),
        VType::Num => match ps.peek() {
            Some(Tk::Num(_)) => {
                ps.i += 1;
                Ok(Val::Int(0))
            }
            _ => ps.fail(),
        },
        VType::Word => match ps.peek() {
            Some(Tk::Word(w)) => {
                ps.i += 1;
                Ok(Val::Word(w.clone()))
            }
            Some(Tk::Str(s)) => {
                ps.i += 1;
                Ok(Val::Str(s.clone()))
            }
            Some(Tk::Num(n)) => {
                ps.i += 1;
                Ok(Val::Word(n.clone()))
            }
            _ => ps.fail(),
        },
        VType::List => {
            ps.expect_sym('(')?;
            let mut v = Vec::new();
            if !ps.sym(')') {
                loop {
                    v.push(ps.uint()?);
                    if ps.sym(')') {
                        break;
                    }
                    ps.expect_sym(',')?;
                }
            }
            Ok(Val::List(v))
        }
    }
}

pub(super) fn parse_options(p: Personality, ps: &mut Parser) -> PResult<Vec<(Opt, Val)>> {
    let mut opts = Vec::new();
    loop {
        let at = ps.pos();
        let name = match ps.peek() {
            Some(Tk::Word(w)) => w.clone(),
            _ => return ps.fail(),
        };
        let Some((opt, ty)) = option_kind(p, &name) else {
            return Err(at);
        };
        ps.i += 1;
        ps.expect_sym('=')?;
        let at = ps.pos();
        let val = parse_value(ps, ty)?;
        if opt == Opt::UseGtid {
            let w = match &val {
                Val::Word(w) => w.to_ascii_lowercase(),
                _ => return Err(at),
            };
            if !["slave_pos", "current_pos", "no"].contains(&w.as_str()) {
                return Err(at);
            }
        }
        opts.push((opt, val));
        if !ps.sym(',') {
            break;
        }
    }
    Ok(opts)
}

pub(super) fn parse_for_channel(p: Personality, ps: &mut Parser) -> PResult<Option<String>> {
    if p.is_mysql() && ps.kw("FOR") {
        ps.expect_kw("CHANNEL")?;
        return ps.string().map(Some);
    }
    Ok(None)
}

/// SLAVE / REPLICA keyword of this version.
pub(super) fn replica_kw(p: Personality, ps: &mut Parser) -> PResult<&'static str> {
    if p.has_slave_kw() && ps.kw("SLAVE") {
        return Ok("SLAVE");
    }
    if p.has_replica_kw() && ps.kw("REPLICA") {
        return Ok("REPLICA");
    }
    ps.fail()
}

pub(super) fn parse_threads(ps: &mut Parser) -> PResult<Threads> {
    let mut t = Threads {
        io: false,
        sql: false,
    };
    loop {
        if ps.kw("IO_THREAD") {
            t.io = true;
        } else if ps.kw("SQL_THREAD") {
            t.sql = true;
        } else {
            break;
        }
        if !ps.sym(',') {
            break;
        }
    }
    if !t.io && !t.sql {
        t = Threads {
            io: true,
            sql: true,
        };
    }
    Ok(t)
}

/// Parses a replication statement; Ok(None) if the statement is not one (first word unknown).
pub(super) fn parse_repl(
    p: Personality,
    toks: &[Tok],
    qlen: usize,
    default_conn: &str,
) -> PResult<Option<Repl>> {
    let mut ps = Parser::new(toks, qlen);
    let maria = p.is_mariadb();
    let mysql_target = |ch: Option<String>| ch.map_or(Target::All, Target::Named);
    let stmt = if ps.kw("CHANGE") {
        if ps.peek_kw("MASTER") && (maria || p.has_master_opts()) {
            ps.i += 1;
            let name = if maria { ps.opt_string() } else { None };
            ps.expect_kw("TO")?;
            let opts = parse_options(p, &mut ps)?;
            let ch = parse_for_channel(p, &mut ps)?;
            Repl::Change(
                ch.or(name).unwrap_or_else(|| {
                    if maria {
                        default_conn.to_string()
                    } else {
                        String::new()
                    }
                }),
                opts,
            )
        } else if ps.peek_kw("REPLICATION") && p.has_source_opts() {
            ps.i += 1;
            ps.expect_kw("SOURCE")?;
            ps.expect_kw("TO")?;
            let opts = parse_options(p, &mut ps)?;
            let ch = parse_for_channel(p, &mut ps)?;
            Repl::Change(ch.unwrap_or_default(), opts)
        } else {
            return ps.fail();
        }
    } else if ps.peek_kw("START") || ps.peek_kw("STOP") {
        let start = ps.kw("START");
        if !start {
            ps.i += 1;
        }
        let (target, threads) = if maria && ps.kw("ALL") {
            if !(ps.kw("SLAVES") || ps.kw("REPLICAS")) {
                return ps.fail();
            }
            (Target::All, parse_threads(&mut ps)?)
        } else {
            replica_kw(p, &mut ps)?;
            if maria {
                let t = ps
                    .opt_string()
                    .map_or_else(|| Target::Default(default_conn.to_string()), Target::Named);
                (t, parse_threads(&mut ps)?)
            } else {
                let t = parse_threads(&mut ps)?;
                (mysql_target(parse_for_channel(p, &mut ps)?), t)
            }
        };
        if start {
            Repl::Start(target, threads)
        } else {
            Repl::Stop(target, threads)
        }
    } else if ps.kw("RESET") {
        if ps.peek_kw("MASTER") && p != Personality::MySql84 {
            ps.i += 1;
            Repl::ResetBinlogs
        } else if p == Personality::MySql84 && ps.kw("BINARY") {
            ps.expect_kw("LOGS")?;
            ps.expect_kw("AND")?;
            ps.expect_kw("GTIDS")?;
            Repl::ResetBinlogs
        } else {
            replica_kw(p, &mut ps)?;
            if maria {
                let t = ps
                    .opt_string()
                    .map_or_else(|| Target::Default(default_conn.to_string()), Target::Named);
                let all = ps.kw("ALL");
                Repl::Reset(t, all)
            } else {
                let all = ps.kw("ALL");
                Repl::Reset(mysql_target(parse_for_channel(p, &mut ps)?), all)
            }
        }
    } else if ps.kw("SHOW") {
        if maria && ps.kw("ALL") {
            if !(ps.kw("SLAVES") || ps.kw("REPLICAS")) {
                return ps.fail();
            }
            ps.expect_kw("STATUS")?;
            Repl::Show(Target::All, StatusStyle::MariaAll)
        } else if (p.has_slave_kw() && ps.peek_kw("SLAVE"))
            || (p.has_replica_kw() && ps.peek_kw("REPLICA"))
        {
            let kw = replica_kw(p, &mut ps)?;
            if maria {
                let t = ps
                    .opt_string()
                    .map_or_else(|| Target::Default(default_conn.to_string()), Target::Named);
                ps.expect_kw("STATUS")?;
                Repl::Show(t, StatusStyle::MariaOne)
            } else {
                ps.expect_kw("STATUS")?;
                let t = mysql_target(parse_for_channel(p, &mut ps)?);
                let style = if kw == "SLAVE" {
                    StatusStyle::MySlave
                } else {
                    StatusStyle::MyReplica
                };
                Repl::Show(t, style)
            }
        } else {
            return Ok(None);
        }
    } else {
        return Ok(None);
    };
    ps.end()?;
    Ok(Some(stmt))
}

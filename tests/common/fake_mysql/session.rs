//! A connection's statements: dispatch by first word, SET (global variables and their rules),
//! USE.

use super::errors::{Reply, err, must_stop, parse_error};
use super::gtid::{GtidList, GtidSet};
use super::lex::{Parser, Tk, Tok, lex};
use super::syntax::parse_repl;
use super::vars::{READ_ONLY_VARS, normalize_var};
use super::{Personality, Session};

impl Session {
    pub(super) async fn execute(&mut self, q: &str) -> Reply {
        let p = self.p();
        let toks = match lex(q) {
            Ok(t) => t,
            Err(at) => return parse_error(p, q, at),
        };
        let Some(first) = toks.first() else {
            return err(1065, "Query was empty");
        };
        let first_word = match &first.t {
            Tk::Word(w) => w.to_ascii_uppercase(),
            _ => return parse_error(p, q, first.at),
        };
        match first_word.as_str() {
            "SET" => return self.set(p, q, &toks),
            "SELECT" => return self.select(p, q, &toks).await,
            "FLUSH" | "SHUTDOWN" | "BEGIN" | "COMMIT" | "ROLLBACK" | "DO" => return Reply::Ok,
            "USE" => {
                if let Some(Tok {
                    t: Tk::Word(db) | Tk::Quoted(db),
                    ..
                }) = toks.get(1)
                {
                    self.db = Some(db.clone());
                    return Reply::Ok;
                }
                return parse_error(p, q, q.len());
            }
            _ => {}
        }
        let default_conn = self
            .state
            .lock()
            .unwrap()
            .var("default_master_connection")
            .unwrap_or_default();
        match parse_repl(p, &toks, q.len(), &default_conn) {
            Err(at) => parse_error(p, q, at),
            Ok(Some(stmt)) => self.replication(p, stmt),
            Ok(None) => {
                if first_word == "SHOW"
                    && let Some(r) = self.show_other(p, q, &toks)
                {
                    return r;
                }
                let at = toks.get(1).map_or(q.len(), |t| t.at);
                parse_error(p, q, if first_word == "SHOW" { at } else { first.at })
            }
        }
    }

    pub(super) fn set(&self, p: Personality, q: &str, toks: &[Tok]) -> Reply {
        let mut ps = Parser::new(toks, q.len());
        ps.i = 1;
        let mut global = false;
        loop {
            // Scope keyword.
            if ps.kw("GLOBAL") || ps.kw("PERSIST") {
                global = true;
            } else if ps.kw("SESSION") || ps.kw("LOCAL") {
                global = false;
            }
            let name_at = ps.pos();
            let (name, is_global) = match ps.peek() {
                Some(Tk::SysVar(v)) => {
                    ps.i += 1;
                    let lower = v.to_ascii_lowercase();
                    if let Some(n) = lower.strip_prefix("global.") {
                        (Some(v[v.len() - n.len()..].to_string()), true)
                    } else if let Some(n) = lower
                        .strip_prefix("session.")
                        .or_else(|| lower.strip_prefix("local."))
                    {
                        (Some(v[v.len() - n.len()..].to_string()), false)
                    } else {
                        (Some(v.clone()), global)
                    }
                }
                Some(Tk::Word(w)) => {
                    ps.i += 1;
                    if w.eq_ignore_ascii_case("NAMES") || w.eq_ignore_ascii_case("CHARACTER") {
                        // SET NAMES x [COLLATE y], SET CHARACTER SET x: accepted as is.
                        return Reply::Ok;
                    }
                    (Some(w.clone()), global)
                }
                Some(Tk::UserVar(_)) => {
                    ps.i += 1;
                    (None, false)
                }
                _ => return parse_error(p, q, name_at),
            };
            if !(ps.sym('=') || (ps.sym(':') && ps.sym('='))) {
                return parse_error(p, q, ps.pos());
            }
            // The value: everything up to a top-level comma.
            let val_start = ps.i;
            let mut depth = 0i32;
            while let Some(t) = ps.peek() {
                match t {
                    Tk::Sym('(') => depth += 1,
                    Tk::Sym(')') => depth -= 1,
                    Tk::Sym(',') if depth == 0 => break,
                    _ => {}
                }
                ps.i += 1;
            }
            if ps.i == val_start {
                return parse_error(p, q, ps.pos());
            }
            if let (Some(name), true) = (name, is_global) {
                let lname = name.to_ascii_lowercase();
                let mut st = self.state.lock().unwrap();
                if !st.vars.contains_key(&lname) {
                    return err(1193, format!("Unknown system variable '{name}'"));
                }
                if READ_ONLY_VARS.contains(&lname.as_str()) {
                    return err(1238, format!("Variable '{name}' is a read only variable"));
                }
                let value = match (&toks[val_start].t, ps.i - val_start) {
                    (Tk::Str(s), 1) => s.clone(),
                    (Tk::Num(n), 1) => n.clone(),
                    (Tk::Word(w), 1) => {
                        let u = w.to_ascii_uppercase();
                        let cur = st.var(&lname).unwrap_or_default();
                        match u.as_str() {
                            "ON" | "TRUE" if cur == "0" || cur == "1" => "1".into(),
                            "OFF" | "FALSE" if cur == "0" || cur == "1" => "0".into(),
                            "DEFAULT" => cur,
                            _ => u,
                        }
                    }
                    _ => q[toks[val_start].at..toks[ps.i - 1].end].to_string(),
                };
                if st.p.is_mariadb() && lname == "gtid_slave_pos" {
                    if let Some(ch) = st.channels.values().find(|c| c.running()) {
                        return must_stop(st.p, &ch.name);
                    }
                    if GtidList::parse(&value).is_none() {
                        return err(1948, "Could not parse GTID list");
                    }
                }
                if st.p.is_mysql() && lname == "gtid_purged" {
                    let add = value.trim_start().trim_start_matches('+');
                    let Some(add) = GtidSet::parse(add) else {
                        return err(1772, format!("Malformed GTID set specification '{value}'."));
                    };
                    let ex = GtidSet::parse(&st.var("gtid_executed").unwrap_or_default())
                        .unwrap_or_default();
                    let pu = GtidSet::parse(&st.var("gtid_purged").unwrap_or_default())
                        .unwrap_or_default();
                    st.vars
                        .insert("gtid_executed".into(), Some(ex.union(&add).to_string()));
                    st.vars
                        .insert("gtid_purged".into(), Some(pu.union(&add).to_string()));
                    drop(st);
                } else {
                    let v = normalize_var(st.p, &lname, &value);
                    st.vars.insert(lname, Some(v));
                }
            }
            if !ps.sym(',') {
                break;
            }
        }
        match ps.end() {
            Ok(()) => Reply::Ok,
            Err(at) => parse_error(p, q, at),
        }
    }
}

//! SELECT of variables, literals and functions: VERSION(), DATABASE(), CONNECTION_ID(), the GTID
//! waits, and the 1046/1305 of an unknown (stored) function.

use std::time::Duration;

use super::errors::{Reply, err, parse_error};
use super::gtid::{GtidList, GtidSet};
use super::lex::{Tk, Tok};
use super::vars::computed_var;
use super::{Personality, Session};

impl Session {
    pub(super) async fn select(&self, p: Personality, q: &str, toks: &[Tok]) -> Reply {
        // Split the items at top-level commas.
        let mut items: Vec<&[Tok]> = Vec::new();
        let mut depth = 0i32;
        let mut start = 1;
        for (i, t) in toks.iter().enumerate().skip(1) {
            match t.t {
                Tk::Sym('(') => depth += 1,
                Tk::Sym(')') => depth -= 1,
                Tk::Sym(',') if depth == 0 => {
                    items.push(&toks[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&toks[start..]);
        let mut names = Vec::new();
        let mut row = Vec::new();
        let mut sleep = 0.0f64;
        for item in items {
            if item.is_empty() {
                let at = toks.get(start).map_or(q.len(), |t| t.at);
                return parse_error(p, q, at);
            }
            // Optional alias: [AS] name at the end.
            let (expr, alias) = match item {
                [
                    e @ ..,
                    Tok { t: Tk::Word(a), .. },
                    Tok {
                        t: Tk::Word(n) | Tk::Quoted(n) | Tk::Str(n),
                        ..
                    },
                ] if a.eq_ignore_ascii_case("AS") && !e.is_empty() => (e, Some(n.clone())),
                _ => (item, None),
            };
            let text = q[expr[0].at..expr[expr.len() - 1].end].to_string();
            let value = match self.eval(p, q, expr).await {
                Ok((v, s)) => {
                    sleep += s;
                    v
                }
                Err(r) => return r,
            };
            names.push(alias.unwrap_or(text));
            row.push(value);
        }
        if sleep > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(sleep)).await;
        }
        Reply::Rows(names, vec![row])
    }

    /// One SELECT item: its value and how long evaluating it sleeps.
    pub(super) async fn eval(
        &self,
        p: Personality,
        q: &str,
        e: &[Tok],
    ) -> Result<(Option<String>, f64), Reply> {
        match e {
            [
                Tok {
                    t: Tk::SysVar(v), ..
                },
            ] => {
                let lower = v.to_ascii_lowercase();
                let name = ["global.", "session.", "local."]
                    .iter()
                    .find_map(|s| lower.strip_prefix(s))
                    .unwrap_or(&lower);
                let st = self.state.lock().unwrap();
                match computed_var(&st, name) {
                    Some(val) => Ok((val, 0.0)),
                    None => Err(err(
                        1193,
                        format!("Unknown system variable '{}'", &v[v.len() - name.len()..]),
                    )),
                }
            }
            [Tok { t: Tk::Num(n), .. }] | [Tok { t: Tk::Str(n), .. }] => Ok((Some(n.clone()), 0.0)),
            [Tok { t: Tk::Word(w), .. }] if w.eq_ignore_ascii_case("NULL") => Ok((None, 0.0)),
            [
                Tok { t: Tk::Word(f), .. },
                Tok {
                    t: Tk::Sym('('), ..
                },
                args @ ..,
                Tok {
                    t: Tk::Sym(')'), ..
                },
            ] => {
                let fu = f.to_ascii_uppercase();
                match (fu.as_str(), args) {
                    ("VERSION", []) => Ok((Some(p.version().to_string()), 0.0)),
                    ("DATABASE", []) => Ok((self.db.clone(), 0.0)),
                    ("CONNECTION_ID", []) => Ok((Some(self.conn_id.to_string()), 0.0)),
                    ("WAIT_FOR_EXECUTED_GTID_SET", _) if p.is_mysql() => {
                        let (set, timeout) = wait_args(p, q, args)?;
                        let Some(want) = GtidSet::parse(&set) else {
                            return Err(err(
                                1772,
                                format!("Malformed GTID set specification '{set}'."),
                            ));
                        };
                        let have = GtidSet::parse(
                            &self
                                .state
                                .lock()
                                .unwrap()
                                .var("gtid_executed")
                                .unwrap_or_default(),
                        )
                        .unwrap_or_default();
                        if want.is_subset(&have) {
                            Ok((Some("0".into()), 0.0))
                        } else {
                            Ok((Some("1".into()), timeout.min(0.2)))
                        }
                    }
                    ("MASTER_GTID_WAIT", _) if p.is_mariadb() => {
                        let (pos, timeout) = wait_args(p, q, args)?;
                        let Some(want) = GtidList::parse(&pos) else {
                            return Err(err(1948, "Could not parse GTID list"));
                        };
                        let st = self.state.lock().unwrap();
                        let have = GtidList::parse(&st.var("gtid_slave_pos").unwrap_or_default())
                            .unwrap_or_default()
                            .merge_max(
                                &GtidList::parse(&st.var("gtid_binlog_pos").unwrap_or_default())
                                    .unwrap_or_default(),
                            );
                        drop(st);
                        let ok = want
                            .0
                            .iter()
                            .all(|(d, (_, seq))| have.seq(*d).is_some_and(|s| s >= *seq));
                        if ok {
                            Ok((Some("0".into()), 0.0))
                        } else {
                            Ok((Some("-1".into()), timeout.min(0.2)))
                        }
                    }
                    _ => {
                        // An unknown function is a stored function of the current database.
                        match &self.db {
                            None => Err(err(1046, "No database selected")),
                            Some(db) => Err(err(1305, format!("FUNCTION {db}.{f} does not exist"))),
                        }
                    }
                }
            }
            _ => Err(parse_error(p, q, e[0].at)),
        }
    }
}

pub(super) fn wait_args(p: Personality, q: &str, args: &[Tok]) -> Result<(String, f64), Reply> {
    match args {
        [Tok { t: Tk::Str(s), .. }] => Ok((s.clone(), f64::INFINITY)),
        [
            Tok { t: Tk::Str(s), .. },
            Tok {
                t: Tk::Sym(','), ..
            },
            Tok { t: Tk::Num(n), .. },
        ] => Ok((s.clone(), n.parse().unwrap_or(0.0))),
        [] => Err(parse_error(p, q, q.len())),
        _ => Err(parse_error(p, q, args[0].at)),
    }
}

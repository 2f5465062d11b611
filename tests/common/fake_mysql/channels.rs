//! Replication statements executed on the channels: CHANGE, START / STOP, RESET, and the status
//! poll that drives the simulation.

use super::errors::{Reply, err, io_must_stop, must_stop, no_channel, not_configured};
use super::sim::{FakeChannel, apply, connect};
use super::status::status_rows;
use super::syntax::{Opt, Repl, StatusStyle, Target, Threads, Val};
use super::{PeerInfo, Personality, Session, State};

impl Session {
    pub(super) fn replication(&self, p: Personality, stmt: Repl) -> Reply {
        match stmt {
            Repl::Change(name, opts) => self.change(p, &name, opts),
            Repl::Start(t, th) => self.start_stop(p, t, th, true),
            Repl::Stop(t, th) => self.start_stop(p, t, th, false),
            Repl::Reset(t, all) => self.reset(p, t, all),
            Repl::Show(t, style) => self.show_status(p, t, style),
            Repl::ResetBinlogs => {
                let mut st = self.state.lock().unwrap();
                let names: Vec<&str> = if p.is_mysql() {
                    vec!["gtid_executed", "gtid_purged"]
                } else {
                    vec!["gtid_binlog_pos", "gtid_binlog_state"]
                };
                for n in names {
                    st.vars.insert(n.into(), Some(String::new()));
                }
                Reply::Ok
            }
        }
    }

    pub(super) fn change(&self, p: Personality, name: &str, opts: Vec<(Opt, Val)>) -> Reply {
        let mut st = self.state.lock().unwrap();
        if let Some(ch) = st.channels.get(name) {
            if ch.io != "No" {
                return io_must_stop(p, name);
            }
        } else if p.is_mysql()
            && !name.is_empty()
            && st
                .var("master_info_repository")
                .is_some_and(|v| v.eq_ignore_ascii_case("FILE"))
        {
            return err(
                3077,
                "To have multiple channels, repository cannot be of type FILE; Please check the repository configuration and convert them to TABLE.",
            );
        }
        let ch = st
            .channels
            .entry(name.to_string())
            .or_insert_with(|| FakeChannel::new(name, p));
        for (opt, val) in opts {
            match (opt, val) {
                (Opt::Host, Val::Str(s)) => ch.host = s,
                (Opt::Port, Val::Int(n)) => ch.port = n as u16,
                (Opt::User, Val::Str(s)) => ch.user = s,
                (Opt::Password, Val::Str(s)) => ch.password = s,
                (Opt::ConnectRetry, Val::Int(n)) => ch.connect_retry = n as u32,
                (Opt::AutoPosition, Val::Int(n)) => ch.auto_position = n != 0,
                (Opt::Ssl, Val::Int(n)) => ch.ssl = n != 0,
                (Opt::GetPublicKey, Val::Int(n)) => ch.get_public_key = n != 0,
                (Opt::UseGtid, Val::Word(w)) => {
                    ch.use_gtid = match w.to_ascii_lowercase().as_str() {
                        "slave_pos" => "Slave_Pos",
                        "current_pos" => "Current_Pos",
                        _ => "No",
                    }
                    .into()
                }
                (Opt::IgnoreDomainIds, Val::List(l)) => {
                    ch.ignore_domain_ids = l.into_iter().map(|d| d as u32).collect()
                }
                (Opt::DoDomainIds, Val::List(l)) => {
                    ch.do_domain_ids = l.into_iter().map(|d| d as u32).collect()
                }
                _ => {}
            }
        }
        Reply::Ok
    }

    /// The channels a statement names; `show` tolerates a missing MariaDB default connection.
    pub(super) fn targets(&self, st: &State, t: &Target, show: bool) -> Result<Vec<String>, Reply> {
        match t {
            Target::All => Ok(st.channels.keys().cloned().collect()),
            Target::Named(n) | Target::Default(n) if st.channels.contains_key(n) => {
                Ok(vec![n.clone()])
            }
            // MariaDB's default connection '' always exists, unconfigured.
            Target::Named(n) | Target::Default(n) if st.p.is_mariadb() && n.is_empty() => {
                Ok(Vec::new())
            }
            Target::Default(_) if show => Ok(Vec::new()),
            Target::Named(n) | Target::Default(n) => Err(no_channel(st.p, n)),
        }
    }

    pub(super) fn start_stop(&self, p: Personality, t: Target, th: Threads, start: bool) -> Reply {
        let names = {
            let st = self.state.lock().unwrap();
            match self.targets(&st, &t, false) {
                Ok(n) => n,
                Err(r) => return r,
            }
        };
        if !start {
            let mut st = self.state.lock().unwrap();
            for n in names {
                if let Some(ch) = st.channels.get_mut(&n) {
                    if th.io {
                        ch.io = "No".into();
                    }
                    if th.sql {
                        ch.sql = "No".into();
                    }
                }
            }
            return Reply::Ok;
        }
        let st0 = self.state.lock().unwrap();
        if (names.is_empty() && (t != Target::All || p.is_mysql()))
            || names.iter().any(|n| st0.channels[n].host.is_empty())
        {
            return not_configured(p);
        }
        drop(st0);
        // Look the peers up without holding our own lock (a peer may be ourselves).
        let hosts: Vec<(String, String, u16)> = {
            let st = self.state.lock().unwrap();
            names
                .iter()
                .map(|n| (n.clone(), st.channels[n].host.clone(), st.channels[n].port))
                .collect()
        };
        let peers: Vec<(String, Option<PeerInfo>)> = hosts
            .into_iter()
            .map(|(n, h, port)| (n, self.world.lookup(&h, port)))
            .collect();
        let mut st = self.state.lock().unwrap();
        for (n, peer) in peers {
            let Some(ch) = st.channels.get_mut(&n) else {
                continue;
            };
            if th.io && ch.io == "No" {
                ch.retries = 0;
                ch.polls = 0;
                ch.applied = false;
                connect(p, ch, peer.as_ref());
            }
            if th.sql && ch.sql == "No" {
                ch.sql = "Yes".into();
                ch.polls = 0;
                ch.applied = false;
            }
        }
        Reply::Ok
    }

    pub(super) fn reset(&self, p: Personality, t: Target, all: bool) -> Reply {
        let mut st = self.state.lock().unwrap();
        let names = match self.targets(&st, &t, false) {
            Ok(n) => n,
            Err(r) => return r,
        };
        if let Some(n) = names.iter().find(|n| st.channels[*n].running()) {
            return must_stop(p, n);
        }
        for n in names {
            if all {
                st.channels.remove(&n);
            } else if let Some(ch) = st.channels.get_mut(&n) {
                ch.received = String::new();
                ch.last_io_errno = 0;
                ch.last_io_error = String::new();
                ch.applied = false;
                ch.polls = 0;
                ch.retries = 0;
            }
        }
        Reply::Ok
    }

    /// A status poll: running channels reconnect or advance, then rows are built.
    pub(super) fn show_status(&self, p: Personality, t: Target, style: StatusStyle) -> Reply {
        let names = {
            let st = self.state.lock().unwrap();
            match self.targets(&st, &t, true) {
                Ok(n) => n,
                Err(r) => return r,
            }
        };
        let hosts: Vec<(String, String, u16)> = {
            let st = self.state.lock().unwrap();
            names
                .iter()
                .filter(|n| st.channels[*n].io != "No")
                .map(|n| (n.clone(), st.channels[n].host.clone(), st.channels[n].port))
                .collect()
        };
        let peers: Vec<(String, Option<PeerInfo>)> = hosts
            .into_iter()
            .map(|(n, h, port)| (n, self.world.lookup(&h, port)))
            .collect();
        let mut st = self.state.lock().unwrap();
        let apply_polls = st.apply_polls;
        for (n, peer) in peers {
            let Some(ch) = st.channels.get_mut(&n) else {
                continue;
            };
            match (ch.io.as_str(), &peer) {
                ("Connecting", _) => connect(p, ch, peer.as_ref()),
                ("Yes", None) => connect(p, ch, None),
                ("Yes", Some(peer)) => ch.received = peer.position.clone(),
                _ => {}
            }
            // The SQL thread applies what the relay log holds, connected or not.
            if ch.sql == "Yes" && (ch.io == "Yes" || !ch.received.is_empty()) {
                let seen = ch.polls;
                ch.polls += 1;
                if seen >= apply_polls {
                    apply(&mut st, &n);
                }
            }
        }
        status_rows(&st, &names, style)
    }
}

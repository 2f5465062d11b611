//! Running the parsed command: each command's flags turned into its options, its call, and
//! its report made an [`Outcome`] (with the exit code a command that ran may set).

use super::{Cli, Command, Outcome};
use crate::catalog::Selection;
use crate::cmd::backup::{Output, backup};
use crate::cmd::expire::ExpireOptions;
use crate::cmd::restore::{RestoreOptions, restore};
use crate::cmd::verify::VerifyOptions;
use crate::config::Settings;
use crate::error::{Error, Result};

pub(super) async fn run_command(cli: Cli, s: &Settings) -> Result<Outcome> {
    match cli.command {
        Command::Backup {
            output,
            stream,
            init,
        } => {
            let out = match (output.as_deref(), stream) {
                (None, false) => Output::Store,
                (Some("-"), _) | (None, true) => Output::Stdout,
                (Some(other), _) => {
                    return Err(Error::Config(format!(
                        "--output takes only `-` (stdout), got {other:?}"
                    )));
                }
            };
            if out == Output::Stdout && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(Error::Config(
                    "--output - writes the archive to stdout, which is a terminal: pipe it \
                     somewhere"
                        .into(),
                ));
            }
            Outcome::or_skipped(backup(s, out, init).await?, s)
        }
        Command::Restore {
            backup_key,
            from_host,
            from_instance,
            allow_other_port,
            data_only,
            keep_code_options,
            input,
            sha1,
            until_gtid,
            until,
        } => {
            let stdin = match input.as_deref() {
                None => false,
                Some("-") => true,
                Some(other) => {
                    return Err(Error::Config(format!(
                        "--input takes only `-` (stdin), got {other:?}"
                    )));
                }
            };
            let opts = RestoreOptions {
                selection: Selection {
                    key: backup_key,
                    from_host,
                    from_instance,
                },
                stdin,
                sha1,
                allow_other_port,
                data_only,
                keep_code_options,
                until: crate::cmd::restore::pitr::Until::parse(
                    until_gtid.as_deref(),
                    until.as_deref(),
                    s.timezone.as_deref(),
                )?,
            };
            Outcome::or_skipped(restore(s, &opts).await?, s)
        }
        Command::ArchiveBinlog { flush } => {
            let report = crate::cmd::archive_binlog::archive_binlog(s, flush).await?;
            let failed = report.failed();
            let mut o = Outcome::of(Some(report))?;
            if failed {
                o.exit = Error::Failed(String::new()).exit_code();
            }
            Ok(o)
        }
        Command::CatchupBinlog => Ok(match crate::cmd::catchup::catchup(s).await? {
            Some(t) => Outcome::text(t),
            None => Outcome::or_skipped(None::<String>, s)?,
        }),
        Command::SetupReplication => {
            match crate::cmd::setup_replication::setup_replication(s).await? {
                Some(t) => Ok(Outcome::text(t)),
                None => Outcome::or_skipped(None::<String>, s),
            }
        }
        Command::WatchReplication { once, interval } => {
            use crate::cmd::watch_replication as w;
            if once {
                let snap = w::snapshot(s).await?;
                let healthy = snap.healthy();
                let mut o = Outcome::of(Some(snap))?;
                if !healthy {
                    o.exit = 1;
                }
                return Ok(o);
            }
            if !(interval.is_finite() && (0.1..=86400.0).contains(&interval)) {
                return Err(Error::Config(format!(
                    "--interval takes seconds from 0.1 to 86400, got {interval}"
                )));
            }
            w::watch(s, std::time::Duration::from_secs_f64(interval), cli.json).await?;
            Ok(Outcome::printed())
        }
        Command::Check { expect } => Ok(Outcome::text(
            crate::cmd::check::check(s, expect.as_deref()).await?,
        )),
        Command::List { all } => Outcome::of(Some(crate::cmd::list::list(s, all).await?)),
        Command::Verify {
            backup_key,
            all,
            binlogs,
            prepare,
            scratch,
        } => {
            let opts = VerifyOptions {
                key: backup_key,
                all,
                prepare,
                scratch,
                binlogs,
            };
            let report = crate::cmd::verify::verify(s, &opts).await?;
            let failed = report.failed();
            let mut o = Outcome::of(Some(report))?;
            if failed {
                o.exit = Error::format("verify", "").exit_code();
            }
            Ok(o)
        }
        Command::Expire {
            keep_last,
            keep_days,
            confirm,
            port_group,
        } => {
            let opts = ExpireOptions {
                keep_last,
                keep_days,
                confirm,
                port_group,
            };
            let report = crate::cmd::expire::expire(s, &opts).await?;
            let failed = !report.failures.is_empty() || !report.damaged.is_empty();
            let mut o = Outcome::of(Some(report))?;
            if failed {
                o.exit = 1;
            }
            Ok(o)
        }
    }
}

//! The command line: `mysqlbackup [--conf-path conf.yaml] <command> [overrides]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::backup::{Output, backup};
use crate::config::{ConfFile, Overrides, Settings};
use crate::error::{Error, Result};
use crate::restore::{RestoreOptions, restore};
use crate::source::fetch::Selection;

/// Streaming backup and restore of MariaDB/MySQL instances through S3-compatible storage.
#[derive(Debug, Parser)]
#[command(name = "mysqlbackup", version, about)]
pub struct Cli {
    /// conf.yaml describing the instance and where backups go.
    #[arg(long, global = true)]
    pub conf_path: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Back up a running instance (data, my.cnf, binlog) to S3, the local store, or stdout.
    Backup {
        /// `-` writes the backup to stdout instead of the store.
        #[arg(long, alias = "stream", value_name = "-")]
        output: Option<String>,
    },
    /// Rebuild the data dir from a backup and apply the binlog in it.
    Restore {
        /// Restore this exact backup (object key, or path under backup_base) instead of the
        /// newest backup of this host and instance for the port (on --date-str if given).
        #[arg(long)]
        backup_key: Option<String>,
        /// Restore the newest backup made on this host instead of this one's.
        #[arg(long)]
        from_host: Option<String>,
        /// Restore the newest backup of this instance id instead of this one's.
        #[arg(long)]
        from_instance: Option<u32>,
        /// Restore a backup of another port (e.g. to move an instance, or build a copy).
        #[arg(long)]
        allow_other_port: bool,
        /// Restore the data alone: the backup's binlog is checked, not applied or installed.
        #[arg(long)]
        data_only: bool,
    },
    /// Catch up from replication peers under a temporary server-id.
    #[command(name = "catchup_binlog", alias = "catchup-binlog")]
    CatchupBinlog,
    /// (Re)configure the replication channels from conf.
    #[command(name = "setup_replication", alias = "setup-replication")]
    SetupReplication,
    /// Data-completeness check with conf `sql_test_insert` / `sql_test_get_2`: write a marker
    /// and read it back, or (`--expect`) look for a marker written earlier.
    Check {
        /// A marker printed by an earlier `check`, to be found now (e.g. after restore).
        #[arg(long)]
        expect: Option<String>,
    },
}

/// Resolves settings from the command line.
pub fn settings(cli: &Cli) -> Result<Settings> {
    let conf = match &cli.conf_path {
        Some(p) => ConfFile::load(p)?,
        None => ConfFile::default(),
    };
    Settings::resolve(conf, &cli.overrides, cli.conf_path.as_deref())
}

fn skipped(report: Option<String>) -> String {
    report.unwrap_or_else(|| "skipped: --when condition does not hold".into())
}

/// Runs the command; returns what to print on success.
pub async fn run(cli: Cli) -> Result<String> {
    if cli.overrides.s3_secret_key.is_some() {
        tracing::warn!(
            "--s3-secret-key is visible to every user in `ps`: set AWS_SECRET_ACCESS_KEY or \
             conf `s3_credentials_file` instead"
        );
    }
    let s = settings(&cli)?;
    match cli.command {
        Command::Backup { output } => {
            let out = match output.as_deref() {
                None => Output::Store,
                Some("-") => Output::Stdout,
                Some(other) => {
                    return Err(Error::Config(format!(
                        "--output takes only `-` (stdout), got {other:?}"
                    )));
                }
            };
            Ok(skipped(backup(&s, out).await?.map(|r| r.to_string())))
        }
        Command::Restore {
            backup_key,
            from_host,
            from_instance,
            allow_other_port,
            data_only,
        } => {
            let opts = RestoreOptions {
                selection: Selection {
                    key: backup_key,
                    from_host,
                    from_instance,
                },
                allow_other_port,
                data_only,
            };
            Ok(skipped(restore(&s, &opts).await?.map(|r| r.to_string())))
        }
        Command::CatchupBinlog => Ok(skipped(crate::catchup::catchup(&s).await?)),
        Command::SetupReplication => Ok(skipped(crate::catchup::setup_replication(&s).await?)),
        Command::Check { expect } => crate::check::check(&s, expect.as_deref()).await,
    }
}

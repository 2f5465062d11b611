//! The command line: `mysqlbackup [--conf-path conf.yaml] <command> [overrides]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::catalog::Selection;
use crate::cmd::backup::{Output, backup};
use crate::cmd::restore::{RestoreOptions, restore};
use crate::config::{ConfFile, Overrides, Settings};
use crate::error::{Error, Result};

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
        /// `-` writes the backup to stdout instead of the store (not to a terminal).
        #[arg(long, value_name = "-")]
        output: Option<String>,
        /// The same as `--output -`.
        #[arg(long, conflicts_with = "output")]
        stream: bool,
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
        /// Keep the my.cnf options that run code when the instance starts (init-file,
        /// init-connect, init-slave, plugin-load, plugin-load-add); commented out otherwise.
        #[arg(long)]
        keep_code_options: bool,
        /// `-` reads the archive from stdin (what `backup --output -` wrote) instead of the
        /// store; its format is recognised from its bytes.
        #[arg(long, value_name = "-")]
        input: Option<String>,
        /// The SHA-1 the archive read from stdin must have.
        #[arg(long, requires = "input")]
        sha1: Option<String>,
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
        Command::Backup { output, stream } => {
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
            Ok(skipped(backup(&s, out).await?.map(|r| r.to_string())))
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
            };
            Ok(skipped(restore(&s, &opts).await?.map(|r| r.to_string())))
        }
        Command::CatchupBinlog => Ok(skipped(crate::cmd::catchup::catchup(&s).await?)),
        Command::SetupReplication => Ok(skipped(
            crate::cmd::setup_replication::setup_replication(&s).await?,
        )),
        Command::Check { expect } => crate::cmd::check::check(&s, expect.as_deref()).await,
    }
}

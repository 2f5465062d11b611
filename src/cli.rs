//! The command line: `mysqlbackup [--conf-path conf.yaml] <command> [overrides]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{ConfFile, Overrides, Settings};
use crate::error::{Error, Result};

mod dispatch;

/// What `--help` says after the options: files, conf, environment, exit codes.
const AFTER_HELP: &str = "\
Conf: --conf-path names a YAML file; every key is described in conf.example.yaml (the flags
above override the keys of the same name). The des3 password is the first line of conf
des3_key_file (default {conf_base}/des3_password, conf_base defaulting to the conf file's
directory); an age identity is conf age_identity_file: keep both readable by their owner alone.

Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when conf and
flags give no S3 keys; RUST_LOG overrides the log filter (default info; -v debug, -q warn).

Exit codes: 0 success (or --when did not hold); 1 an operation failed; 2 the configuration or
command line is wrong; 3 a precondition does not hold and nothing was done (the instance runs
or is not reachable, a dir is not empty, no backup matches, the store cannot be used); 4 the
data is bad (checksum, format; a verify failed); 5 the command began and could not complete
(e.g. a binlog gap); 130 interrupted. watch-replication --once: 1 when a channel is broken.";

/// Streaming backup and restore of MariaDB/MySQL instances through S3-compatible storage.
#[derive(Debug, Parser)]
#[command(name = "mysqlbackup", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// conf.yaml describing the instance and where backups go.
    #[arg(long, global = true)]
    pub conf_path: Option<PathBuf>,
    /// Print the report as one JSON document on stdout (on stderr when the archive goes to
    /// stdout), the error too; field names in the README.
    #[arg(long, global = true)]
    pub json: bool,
    /// More in the log: debug lines, and the process's peak memory and disk writes at the end.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Only warnings and errors in the log, and no progress.
    #[arg(short, long, global = true)]
    pub quiet: bool,
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
        /// `--output -` writes the backup to stdout instead of the store (not to a terminal);
        /// `-` is the only target.
        #[arg(long, value_name = "TARGET")]
        output: Option<String>,
        /// The same as `--output -`.
        #[arg(long, conflicts_with = "output")]
        stream: bool,
        /// Create the local store (backup_base) if it does not exist: the first backup into a
        /// new store. Without it a missing backup_base is refused (a typo would otherwise
        /// start a new, empty store).
        #[arg(long)]
        init: bool,
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
        /// `--input -` reads the archive from stdin (what `backup --output -` wrote) instead of
        /// the store; its format is recognised from its bytes. `-` is the only source.
        #[arg(long, value_name = "SOURCE")]
        input: Option<String>,
        /// The SHA-1 the archive read from stdin must have.
        #[arg(long, requires = "input")]
        sha1: Option<String>,
        /// Point-in-time: restore up to this GTID position, included (per domain), from the
        /// newest backup before it and the binlog archive (see archive_binlog).
        #[arg(long, value_name = "POS")]
        until_gtid: Option<String>,
        /// Point-in-time: restore every transaction at or before TIME (RFC 3339 with an
        /// offset or Z, or YYYY-MM-DD HH:MM:SS in conf `timezone`), or `latest`: the last
        /// archived event.
        #[arg(long, value_name = "TIME|latest", conflicts_with = "until_gtid")]
        until: Option<String>,
    },
    /// Store every closed binlog file the archive does not hold yet (run it from a timer).
    #[command(
        name = "archive_binlog",
        visible_aliases = ["archive-binlog", "binlog-push"]
    )]
    ArchiveBinlog {
        /// Rotate first, so that the active binlog file is archived too.
        #[arg(long)]
        flush: bool,
    },
    /// Catch up from replication peers under a temporary server-id.
    #[command(name = "catchup_binlog", alias = "catchup-binlog")]
    CatchupBinlog,
    /// (Re)configure the replication channels from conf.
    #[command(name = "setup_replication", alias = "setup-replication")]
    SetupReplication,
    /// The state of every replication channel (source, IO/SQL threads, seconds behind, GTID
    /// position, last error), refreshed in place until Ctrl-C; `--once` prints one snapshot
    /// and exits 1 when a channel is stopped or broken.
    #[command(name = "watch-replication", visible_alias = "watch_replication")]
    WatchReplication {
        /// One snapshot, then exit: 0 when every channel runs without error, 1 otherwise.
        #[arg(long)]
        once: bool,
        /// Seconds between refreshes.
        #[arg(long, default_value_t = 1.0, value_name = "S")]
        interval: f64,
    },
    /// Data-completeness check with conf `sql_test_insert` / `sql_test_get_2`: write a marker
    /// and read it back, or (`--expect`) look for a marker written earlier.
    Check {
        /// A marker printed by an earlier `check`, to be found now (e.g. after restore).
        #[arg(long)]
        expect: Option<String>,
    },
    /// The backups of this port (every port with --all), newest first, and the leftovers of
    /// interrupted uploads.
    List {
        /// Every port's backups.
        #[arg(long)]
        all: bool,
    },
    /// Check backups without restoring them: checksums, decryption, decompression, tar,
    /// xbstream CRCs, manifest, binlog. Writes nothing unless --prepare.
    Verify {
        /// This backup (object key, or path under backup_base); default: the newest of this
        /// host and instance (on --date-str if given).
        #[arg(long, conflicts_with = "all")]
        backup_key: Option<String>,
        /// Every backup of the port, and the archived binlog files of this instance.
        #[arg(long)]
        all: bool,
        /// The archived binlog files of this instance (see archive_binlog): digests, decryption,
        /// binlog magic, every event's checksum.
        #[arg(long, conflicts_with = "backup_key")]
        binlogs: bool,
        /// Also extract into a scratch dir, prepare, open with a private read-only server and
        /// CHECK TABLE every InnoDB table; the scratch dir is removed after.
        #[arg(long)]
        prepare: bool,
        /// Where --prepare extracts (default backup_base); needs room for the data.
        #[arg(long, requires = "prepare")]
        scratch: Option<PathBuf>,
    },
    /// Delete the backups retention does not keep (a dry run unless --confirm).
    Expire {
        /// Keep the newest N backups of each instance (default: conf retention.keep_last).
        #[arg(long)]
        keep_last: Option<usize>,
        /// Keep the backups of the last D days (default: conf retention.keep_days).
        #[arg(long)]
        keep_days: Option<u32>,
        /// Delete; without it, only say what would be deleted.
        #[arg(long)]
        confirm: bool,
        /// Every instance of the port, not only this host's and instance's backups.
        #[arg(long)]
        port_group: bool,
    },
}

/// What a command has to say: text for people, JSON for programs, and the exit code.
#[derive(Debug)]
pub struct Outcome {
    pub text: String,
    pub json: serde_json::Value,
    /// 0, or the code of a command that ran and found something wrong (verify).
    pub exit: u8,
}

impl Outcome {
    fn of<T: std::fmt::Display + serde::Serialize>(report: Option<T>) -> Result<Self> {
        Ok(match report {
            Some(r) => Outcome {
                text: r.to_string(),
                json: serde_json::to_value(&r).map_err(|e| Error::stage("json", e.to_string()))?,
                exit: 0,
            },
            None => Outcome {
                text: "skipped: --when condition does not hold".into(),
                json: serde_json::json!({"skipped": "--when condition does not hold"}),
                exit: 0,
            },
        })
    }

    /// The report, or (None) what `--when` found that skipped the command.
    fn or_skipped<T: std::fmt::Display + serde::Serialize>(
        report: Option<T>,
        s: &Settings,
    ) -> Result<Self> {
        match report {
            Some(r) => Self::of(Some(r)),
            None => {
                let why = crate::cmd::when_skip_reason(s);
                Ok(Outcome {
                    text: format!("skipped: {why}"),
                    json: serde_json::json!({ "skipped": why }),
                    exit: 0,
                })
            }
        }
    }

    /// The command printed what it had to say as it went.
    fn printed() -> Self {
        Outcome {
            text: String::new(),
            json: serde_json::Value::Null,
            exit: 0,
        }
    }

    fn text(text: String) -> Self {
        Outcome {
            json: serde_json::json!({ "message": text }),
            text,
            exit: 0,
        }
    }
}

/// Where `--json` goes: stdout, unless the archive does.
pub fn json_on_stdout(cli: &Cli) -> bool {
    !matches!(
        &cli.command,
        Command::Backup {
            output: Some(_),
            ..
        } | Command::Backup { stream: true, .. }
    )
}

/// Resolves settings from the command line.
pub fn settings(cli: &Cli) -> Result<Settings> {
    let conf = match &cli.conf_path {
        Some(p) => ConfFile::load(p)?,
        None => ConfFile::default(),
    };
    Settings::resolve(conf, &cli.overrides, cli.conf_path.as_deref())
}

/// Runs the command; returns what to print on success.
pub async fn run(cli: Cli) -> Result<Outcome> {
    if cli.overrides.s3_secret_key.is_some() {
        tracing::warn!(
            "--s3-secret-key is visible to every user in `ps`: set AWS_SECRET_ACCESS_KEY or \
             conf `s3_credentials_file` instead"
        );
    }
    let s = settings(&cli)?;
    let name = command_name(&cli.command);
    let started = std::time::Instant::now();
    let result = dispatch::run_command(cli, &s).await;
    if let Some(path) = &s.metrics_file {
        let run = crate::metrics::Run {
            command: name,
            port: s.port,
            ended_at: chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
            seconds: started.elapsed().as_secs_f64(),
            exit_code: match &result {
                Ok(o) => o.exit,
                Err(e) => e.exit_code(),
            },
            report: result.as_ref().ok().map(|o| &o.json),
        };
        if let Err(e) = crate::metrics::record(path, &run) {
            tracing::warn!("metrics not written: {e}");
        }
    }
    result
}

/// The command's name in docs and metrics.
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Backup { .. } => "backup",
        Command::Restore { .. } => "restore",
        Command::ArchiveBinlog { .. } => "archive_binlog",
        Command::CatchupBinlog => "catchup_binlog",
        Command::SetupReplication => "setup_replication",
        Command::WatchReplication { .. } => "watch_replication",
        Command::Check { .. } => "check",
        Command::List { .. } => "list",
        Command::Verify { .. } => "verify",
        Command::Expire { .. } => "expire",
    }
}

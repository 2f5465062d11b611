//! The `mysqlbackup` binary: parses the command line, runs it (see the library), and maps the
//! error kind to the exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = mysqlbackup::cli::Cli::parse();
    let (json, to_stdout) = (cli.json, mysqlbackup::cli::json_on_stdout(&cli));
    let verbose = cli.verbose;
    let level = match (cli.verbose, cli.quiet) {
        (true, _) => "info,mysqlbackup=debug",
        (_, true) => "warn",
        _ => "info",
    };
    let stderr_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    mysqlbackup::progress::init(match (cli.quiet, stderr_tty) {
        (true, _) => mysqlbackup::progress::Mode::Off,
        (false, true) => mysqlbackup::progress::Mode::Bar,
        (false, false) => mysqlbackup::progress::Mode::Log,
    });
    tracing_subscriber::fmt()
        .with_writer(mysqlbackup::progress::LogWriter)
        .with_ansi(stderr_tty)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut result = runtime.block_on(async {
        mysqlbackup::cancel::install_signal_handlers()?;
        mysqlbackup::cli::run(cli).await
    });
    let (rss, written) = (
        mysqlbackup::procfs::peak_rss_bytes(),
        mysqlbackup::procfs::disk_written_bytes(),
    );
    if let (true, Some(rss), Some(written)) = (verbose, rss, written) {
        tracing::info!(
            "peak RSS {} MiB; this process wrote {written} bytes to disk (the children it reaped included)",
            rss >> 20
        );
    }
    if let Ok(serde_json::Value::Object(o)) = result.as_mut().map(|o| &mut o.json) {
        o.insert("peak_rss_bytes".into(), rss.into());
        o.insert("disk_written_bytes".into(), written.into());
    }
    // The report goes to stdout, unless the archive does (then to stderr, with the logs).
    let say = |text: &str| {
        if to_stdout {
            println!("{text}");
        } else {
            eprintln!("{text}");
        }
    };
    match result {
        Ok(outcome) if outcome.text.is_empty() && outcome.json.is_null() => {
            std::process::ExitCode::from(outcome.exit)
        }
        Ok(outcome) => {
            if json {
                say(&outcome.json.to_string());
            } else {
                say(&outcome.text);
            }
            std::process::ExitCode::from(outcome.exit)
        }
        Err(e) => {
            let lines = mysqlbackup::error::report_lines(&e);
            eprintln!("error: {}", lines[0]);
            for cause in &lines[1..] {
                eprintln!("  caused by: {cause}");
            }
            if !to_stdout {
                eprintln!(
                    "  note: what went to stdout is no complete archive: discard it (a restore \
                     of it fails as truncated)"
                );
            }
            if json {
                say(&serde_json::json!({
                    "error": lines[0],
                    "causes": &lines[1..],
                    "exit_code": e.exit_code(),
                })
                .to_string());
            }
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

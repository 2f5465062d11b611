//! Progress of a long command: on a terminal a bar (indicatif) with the log kept above it; off
//! a terminal one log line every [`LOG_EVERY`]; nothing with `--quiet`. The mode is set once
//! by the binary ([`init`]); the library's default is off, so tests and embedders see nothing.

use std::io::Write;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// A bar on stderr (a terminal).
    Bar,
    /// A log line now and then.
    Log,
}

static MODE: AtomicU8 = AtomicU8::new(0);
/// The bar on screen, if any, with its id: log lines are written while it is hidden.
static BAR: Mutex<Option<(u64, ProgressBar)>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Unregisters bar `id` if it is the one on screen (a newer bar stays).
fn unregister(id: u64) {
    if let Ok(mut g) = BAR.lock()
        && g.as_ref().is_some_and(|(i, _)| *i == id)
    {
        *g = None;
    }
}

/// How often a progress line is logged off a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(15);

/// Sets the mode for the process (the binary: [`Mode::Bar`] when stderr is a terminal, else
/// [`Mode::Log`]; [`Mode::Off`] with `--quiet`).
pub fn init(mode: Mode) {
    MODE.store(mode as u8, Ordering::Relaxed);
}

fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        1 => Mode::Bar,
        2 => Mode::Log,
        _ => Mode::Off,
    }
}

/// A writer for the log: stderr, with the bar (if any) hidden while a line is written.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR
            .lock()
            .ok()
            .and_then(|b| b.as_ref().map(|(_, b)| b.clone()));
        match bar {
            Some(b) => b
                .suspend(|| std::io::stderr().write_all(buf))
                .map(|_| buf.len()),
            None => std::io::stderr().write_all(buf).map(|_| buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

/// The progress of one task: bytes done of a total (known or not).
#[derive(Clone, Debug)]
pub struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: u64,
    what: String,
    total: AtomicU64,
    done: AtomicU64,
    started: Instant,
    last_log: Mutex<Instant>,
    bar: Option<ProgressBar>,
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
}

impl Progress {
    /// Starts showing the progress of `what` (e.g. "restore"); `total` bytes if known.
    pub fn start(what: &str, total: Option<u64>) -> Self {
        Self::with_template(
            what,
            total,
            match total {
                Some(_) => {
                    "{prefix} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} \
                     {elapsed} ETA {eta} {msg}"
                }
                None => "{prefix} {spinner} {bytes} {bytes_per_sec} {elapsed} {msg}",
            },
        )
    }

    /// A task without bytes to count (e.g. catch-up): a spinner, the time, and its message.
    pub fn status(what: &str) -> Self {
        Self::with_template(what, None, "{prefix} {spinner} {elapsed} {msg}")
    }

    fn with_template(what: &str, total: Option<u64>, template: &str) -> Self {
        let bar = (mode() == Mode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let (Some(b), Ok(mut g)) = (&bar, BAR.lock()) {
            *g = Some((id, b.clone()));
        }
        Progress {
            inner: Arc::new(Inner {
                id,
                what: what.to_string(),
                total: AtomicU64::new(total.unwrap_or(0)),
                done: AtomicU64::new(0),
                started: Instant::now(),
                last_log: Mutex::new(Instant::now()),
                bar,
            }),
        }
    }

    /// Progress that shows nothing (e.g. for a nested task).
    pub fn hidden() -> Self {
        Progress {
            inner: Arc::new(Inner {
                id: 0,
                what: String::new(),
                total: AtomicU64::new(0),
                done: AtomicU64::new(0),
                started: Instant::now(),
                last_log: Mutex::new(Instant::now()),
                bar: None,
            }),
        }
    }

    /// `n` more bytes done.
    pub fn inc(&self, n: u64) {
        let i = &self.inner;
        let done = i.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(b) = &i.bar {
            if let Some(len) = b.length()
                && done > len
            {
                b.set_length(done);
            }
            b.inc(n);
            return;
        }
        if mode() != Mode::Log || i.what.is_empty() {
            return;
        }
        let Ok(mut last) = i.last_log.try_lock() else {
            return;
        };
        if last.elapsed() < LOG_EVERY {
            return;
        }
        *last = Instant::now();
        tracing::info!("{}", self.line(done));
    }

    /// A side note shown with the bar (e.g. each channel's lag); off a terminal the caller
    /// logs what matters itself.
    pub fn message(&self, text: &str) {
        if let Some(b) = &self.inner.bar {
            b.set_message(text.to_string());
        }
    }

    /// The progress line of the log.
    fn line(&self, done: u64) -> String {
        let i = &self.inner;
        let secs = i.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let total = i.total.load(Ordering::Relaxed);
        if total > 0 {
            let pct = (done as f64 * 100.0 / total as f64).min(100.0);
            let eta = if rate > 0.0 && total > done {
                format!(", ETA {:.0} s", (total - done) as f64 / rate)
            } else {
                String::new()
            };
            format!(
                "{}: {pct:.0}% ({} of {}), {}/s, {secs:.0} s{eta}",
                i.what,
                mib(done),
                mib(total),
                mib(rate as u64)
            )
        } else {
            format!(
                "{}: {}, {}/s, {secs:.0} s",
                i.what,
                mib(done),
                mib(rate as u64)
            )
        }
    }

    /// Ends the bar (left on screen at its last state) or logs nothing more.
    /// The task is done: a total that was an estimate (the data dir's size for a backup)
    /// becomes what was done, so the bar ends at 100%.
    pub fn finish(&self) {
        if let Some(b) = &self.inner.bar {
            let done = self.inner.done.load(Ordering::Relaxed);
            if b.length().is_some() {
                b.set_length(done);
            }
            b.set_position(done);
            b.abandon();
            unregister(self.inner.id);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon();
            }
            unregister(self.id);
        }
    }
}

/// `input`, counted into `progress` as it is read.
pub fn counted(
    input: futures::stream::BoxStream<'static, crate::Result<bytes::Bytes>>,
    progress: Progress,
) -> futures::stream::BoxStream<'static, crate::Result<bytes::Bytes>> {
    use futures::StreamExt;
    input
        .inspect(move |c| {
            if let Ok(b) = c {
                progress.inc(b.len() as u64);
            }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_has_percent_rate_and_eta() {
        let p = Progress::hidden();
        p.inner.total.store(4 << 20, Ordering::Relaxed);
        let line = p.line(1 << 20);
        assert!(line.contains("25% (1.0 MiB of 4.0 MiB)"), "{line}");
        assert!(line.contains("ETA"), "{line}");
    }
}

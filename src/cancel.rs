//! Cancellation on SIGINT/SIGTERM: the signal cancels one process-wide token; every pipeline,
//! child-process wait and server wait selects on it, so an interrupted command still takes its
//! failure path (abort the upload, remove what it created, stop its children) before exiting.

use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

static TOKEN: OnceLock<CancellationToken> = OnceLock::new();

/// The process-wide cancellation token.
pub fn token() -> CancellationToken {
    TOKEN.get_or_init(CancellationToken::new).clone()
}

/// Fails with [`Error::Interrupted`] once a signal arrived.
pub fn check() -> Result<()> {
    if token().is_cancelled() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// Resolves when a signal arrived.
pub async fn cancelled() {
    token().cancelled().await
}

/// Runs `fut` unless a signal arrives first.
pub async fn or_cancelled<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = fut => r,
        _ = cancelled() => Err(Error::Interrupted),
    }
}

/// Cancels the token on SIGINT or SIGTERM (call once, inside the runtime).
pub fn install_signal_handlers() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| Error::io("install SIGINT handler", "signal", e))?;
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Error::io("install SIGTERM handler", "signal", e))?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        tracing::warn!("{name}: stopping, cleaning up");
        token().cancel();
    });
    Ok(())
}

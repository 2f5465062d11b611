//! The crate's error type and its policy.
//!
//! Policy: every public function returns [`Result`]. An error names what failed (which stage,
//! which file, which key, which command) and keeps its cause; it is never flattened into a
//! vaguer one. Secrets never enter an error message: values that hold them are wrapped in
//! [`crate::config::Secret`], whose `Display`/`Debug` print `***`.

use std::path::PathBuf;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (unknown key, missing required value, bad value).
    #[error("configuration: {0}")]
    Config(String),

    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A stage of the pipeline failed.
    #[error("{stage}: {message}")]
    Stage {
        stage: &'static str,
        message: String,
    },

    /// The downstream end of a pipe went away; the real cause is reported by another stage.
    #[error("{0}: downstream stage stopped")]
    PipeClosed(&'static str),

    /// The backup tool (mariabackup/xtrabackup) failed.
    #[error("{tool} failed ({status}); last lines of its stderr:\n{stderr_tail}")]
    BackupTool {
        tool: String,
        status: String,
        stderr_tail: String,
    },

    /// A data format is broken (des3 header, xbstream, tar, manifest, ...).
    #[error("{format}: {message}")]
    Format {
        format: &'static str,
        message: String,
    },

    /// A SQL statement or connection to the server failed.
    #[error("mysql {what}: {source}")]
    Mysql {
        what: String,
        #[source]
        source: mysql_async::Error,
    },

    /// The object store failed.
    #[error("store {what}: {message}")]
    Store { what: String, message: String },

    /// SIGINT or SIGTERM arrived; what the command had started was undone.
    #[error("interrupted by a signal; the command's partial work was cleaned up")]
    Interrupted,

    /// A precondition of a command does not hold.
    #[error("{0}")]
    Refused(String),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Format`].
    pub fn format(format: &'static str, message: impl Into<String>) -> Self {
        Error::Format {
            format,
            message: message.into(),
        }
    }

    /// An [`Error::Stage`].
    pub fn stage(stage: &'static str, message: impl Into<String>) -> Self {
        Error::Stage {
            stage,
            message: message.into(),
        }
    }

    /// An [`Error::Store`].
    pub fn store(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Store {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// An [`Error::Mysql`].
    pub fn mysql(what: impl Into<String>, source: mysql_async::Error) -> Self {
        Error::Mysql {
            what: what.into(),
            source,
        }
    }

    /// True when this error only says that another stage stopped first.
    pub fn is_secondary(&self) -> bool {
        matches!(self, Error::PipeClosed(_))
    }
}

/// At most `max` characters of `text` (on a char boundary), with how much was cut: tool output
/// quoted in an error (a failed statement can echo megabytes of base64) stays readable.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... [{} more bytes]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        assert_eq!(super::excerpt("abc", 5), "abc");
        assert_eq!(super::excerpt("abcdef", 3), "abc... [3 more bytes]");
        assert_eq!(super::excerpt("aé", 2), "a... [2 more bytes]");
    }
}

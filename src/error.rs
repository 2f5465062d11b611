//! The crate's error type and its policy.
//!
//! Policy: every public function returns [`Result`]. An error names what failed (which stage,
//! which file, which key, which command) and keeps its cause; it is never flattened into a
//! vaguer one, and nothing matches on error strings: the variant is the kind, and the kind
//! decides the exit code ([`Error::exit_code`], documented in the README). Secrets never enter
//! an error message: values that hold them are wrapped in [`crate::secret::Secret`], whose
//! `Display`/`Debug` print `***`, and server messages that may echo one are redacted. Store
//! errors carry the server's code and message, never a raw XML body.

use std::path::PathBuf;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (unknown key, missing required value, bad value).
    #[error("{0}")]
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
    #[error("store {what}: {source}")]
    Store {
        what: String,
        #[source]
        source: StoreFailure,
    },

    /// SIGINT or SIGTERM arrived; what the command had started was undone.
    #[error("interrupted by a signal; the command's partial work was cleaned up")]
    Interrupted,

    /// A precondition of a command does not hold: nothing was done.
    #[error("{0}")]
    Refused(String),

    /// The command began its work and could not complete it (a server that exited while
    /// starting, a binlog apply that failed, a catch-up that timed out or cannot be complete).
    /// What it had begun was undone, or the message says what is left.
    #[error("{0}")]
    Failed(String),
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

    /// An [`Error::Store`] whose cause is `cause` (an error of the client, or a text of ours).
    pub fn store(
        what: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Store {
            what: what.into(),
            source: StoreFailure::Cause(cause.into()),
        }
    }

    /// The store server's answer if this error is one: HTTP status and S3 error code.
    pub fn store_answer(&self) -> Option<(u16, Option<&str>)> {
        match self {
            Error::Store {
                source: StoreFailure::Answer { status, code, .. },
                ..
            } => Some((*status, code.as_deref())),
            _ => None,
        }
    }

    /// The process exit code of this error: 2 the configuration or command line is wrong,
    /// 3 a precondition does not hold (the command refused: nothing was done), 4 the data is
    /// bad (a checksum, a format, a backup tool's stream), 5 the command began and could not
    /// complete ([`Error::Failed`]), 130 interrupted by a signal, 1 any other failure (I/O,
    /// the server, the store, a tool).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => 2,
            Error::Refused(_) => 3,
            Error::Format { .. } => 4,
            Error::Failed(_) => 5,
            Error::Interrupted => 130,
            _ => 1,
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

/// Why a store request failed: the server's answer, or a cause on our side (transport, the
/// client library, a check of ours), kept as the source.
#[derive(Debug)]
pub enum StoreFailure {
    /// The server answered with an error.
    Answer {
        status: u16,
        /// The S3 error code (`NoSuchBucket`, `AccessDenied`, ...), if the body had one.
        code: Option<String>,
        message: String,
    },
    Cause(Box<dyn std::error::Error + Send + Sync>),
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreFailure::Answer {
                status,
                code,
                message,
            } => {
                let text = format!("{status} {} {message}", code.as_deref().unwrap_or(""));
                f.write_str(&text.split_whitespace().collect::<Vec<_>>().join(" "))
            }
            // A client's message may quote the XML body: its code and message are enough.
            StoreFailure::Cause(e) => f.write_str(&without_xml(&e.to_string())),
        }
    }
}

impl std::error::Error for StoreFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The cause's own text is this one's (without XML); its causes follow.
            StoreFailure::Cause(e) => e.source(),
            StoreFailure::Answer { .. } => None,
        }
    }
}

/// `text` with an XML error body (`<Error><Code>..</Code><Message>..</Message>...`) replaced
/// by `Code: Message`.
fn without_xml(text: &str) -> String {
    let Some(start) = text.find("<?xml").or_else(|| text.find("<Error>")) else {
        return text.to_string();
    };
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let from = text[start..].find(&open)? + start + open.len();
        let to = text[from..].find(&format!("</{name}>"))? + from;
        Some(text[from..to].to_string())
    };
    let summary = match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        (None, Some(m)) => m,
        (None, None) => "(an XML error body)".into(),
    };
    let prefix = text[..start].trim_end_matches([' ', ':']);
    if prefix.is_empty() {
        summary
    } else {
        format!("{prefix}: {summary}")
    }
}

/// The lines to print for `e`: its message, then each cause that says something new (a cause
/// whose text the message already holds is left out).
pub fn report_lines(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut lines = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = without_xml(&c.to_string());
        if !lines.iter().any(|l| l.contains(&text)) {
            lines.push(text);
        }
        cause = c.source();
    }
    lines
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
    use super::*;

    #[test]
    fn store_errors_carry_no_xml_and_kinds_map_to_exit_codes() {
        let e = Error::store(
            "upload of s3://b/k",
            "Client error with status 403: <?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1</RequestId></Error>",
        );
        assert_eq!(
            e.to_string(),
            "store upload of s3://b/k: Client error with status 403: AccessDenied: Access Denied"
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(Error::Config("x".into()).exit_code(), 2);
        assert_eq!(Error::Refused("x".into()).exit_code(), 3);
        assert_eq!(Error::format("sha1", "x").exit_code(), 4);
        assert_eq!(Error::Failed("x".into()).exit_code(), 5);
        assert_eq!(Error::Interrupted.exit_code(), 130);
        let io = Error::io(
            "read",
            "/x",
            std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        );
        assert_eq!(report_lines(&io), ["read /x: gone"]);
    }

    #[test]
    fn store_failures_keep_the_answer_and_the_cause() {
        let e = Error::Store {
            what: "HEAD /b".into(),
            source: StoreFailure::Answer {
                status: 404,
                code: Some("NoSuchBucket".into()),
                message: "The specified bucket does not exist".into(),
            },
        };
        assert_eq!(e.store_answer(), Some((404, Some("NoSuchBucket"))));
        assert_eq!(
            e.to_string(),
            "store HEAD /b: 404 NoSuchBucket The specified bucket does not exist"
        );
        // A client error whose cause quotes an XML body: kept as the source, printed without
        // the XML.
        #[derive(Debug, thiserror::Error)]
        #[error("request failed")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error(
            "status 403: <?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>"
        )]
        struct Inner;
        let e = Error::store("GET /b/k", Outer(Inner));
        assert!(e.store_answer().is_none());
        assert_eq!(
            report_lines(&e),
            [
                "store GET /b/k: request failed",
                "status 403: AccessDenied: no"
            ]
        );
    }

    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        assert_eq!(super::excerpt("abc", 5), "abc");
        assert_eq!(super::excerpt("abcdef", 3), "abc... [3 more bytes]");
        assert_eq!(super::excerpt("aé", 2), "a... [2 more bytes]");
    }
}

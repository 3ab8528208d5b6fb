//! The one error type of the tool: a message for the operator, with the
//! library's error kept as its source.
//!
//! It is printed as a single line (`error: message: cause: cause`) and the
//! process exits 1. Messages never quote a secret, a URL (it may hold a
//! password) or a session key.

use std::error::Error as StdError;
use std::fmt;

/// A failure after the command line was understood.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl CliError {
    /// An error with no underlying cause.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`, whose chain is printed after `message`.
    pub(crate) fn with(
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The message and every cause, on one line.
    pub(crate) fn one_line(&self) -> String {
        let mut out = self.message.clone();
        let mut cause = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        while let Some(e) = cause {
            let text = e.to_string();
            // Many errors (sqlx's among them) already print their source.
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = e.source();
        }
        // Some driver errors span lines; the promise is one line on stderr.
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CliError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_on_one_line() {
        let inner = std::io::Error::other("line one\nline two");
        let e = CliError::with("cannot open", inner);
        assert_eq!(e.one_line(), "cannot open: line one line two");
    }

    #[test]
    fn repeated_causes_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "outer: {}", self.0)
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let e = CliError::with("failed", Outer(std::io::Error::other("inner")));
        assert_eq!(e.one_line(), "failed: outer: inner");
    }
}

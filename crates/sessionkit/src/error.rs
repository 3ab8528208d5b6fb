//! Errors, sorted by what the caller can do about them.
//!
//! Expected outcomes (a conflict, a deleted session, a missing record) are
//! values elsewhere, not errors. No `Display` here ever contains a secret, a
//! session key or a cookie value.

use std::error::Error as StdError;

/// A boxed error kept as the source of ours, so the cause chain survives.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A session store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached (connection refused or lost, pool
    /// timeout). Retrying later may succeed.
    #[error("session store unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered with an error (bad query, I/O error, …).
    #[error("session store failed")]
    Backend(#[source] BoxError),
    /// The encoded session is larger than the engine can hold.
    #[error("session too large for this store: {size} bytes, limit {limit}")]
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
        /// The engine's limit in bytes.
        limit: usize,
    },
    /// The store was configured with values it cannot work with.
    #[error("invalid session store configuration: {0}")]
    Config(String),
}

/// An error from the session API, as a handler sees it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The request has no session: the session layer (or actix middleware) is missing.
    #[error("no session in this request: did you forget to add `SessionLayer` (tower, axum) or `sessionkit::actix::SessionMiddleware` (actix-web)?")]
    MissingLayer,
    /// The session could not be loaded because its store failed.
    #[error("could not load the session")]
    Load(#[source] StoreError),
    /// A stored value is not of the type the handler asked for.
    #[error("session value {key:?} is not of the requested type")]
    Type {
        /// The session dict key.
        key: String,
        /// Why it did not deserialize (without the value).
        #[source]
        source: ValueError,
    },
    /// A value could not be turned into JSON.
    #[error("value for session key {key:?} cannot be stored as JSON")]
    Serialize {
        /// The session dict key.
        key: String,
        /// Why it did not serialize (without the value).
        #[source]
        source: ValueError,
    },
    /// `increment` found a value that is not an integer.
    #[error("session value {key:?} is not an integer")]
    NotAnInteger {
        /// The session dict key.
        key: String,
    },
    /// `increment` would overflow an `i64`.
    #[error("incrementing session value {key:?} overflows")]
    Overflow {
        /// The session dict key.
        key: String,
    },
}

/// Why a session value did not convert to or from JSON: serde's error with
/// its message dropped, because that message quotes the value ("invalid
/// type: string \"…\"") and session values are tokens, personal data and
/// credentials. What is kept is safe to log: the kind of failure, where in
/// the JSON text (if any) it happened, and the Rust type involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    category: serde_json::error::Category,
    line: usize,
    column: usize,
    type_name: &'static str,
}

impl ValueError {
    /// Keeps what is safe of `e`, a conversion from or to `type_name`.
    pub(crate) fn new(e: &serde_json::Error, type_name: &'static str) -> Self {
        Self {
            category: e.classify(),
            line: e.line(),
            column: e.column(),
            type_name,
        }
    }

    /// serde_json's category: a value of the wrong shape is `Data`.
    pub fn category(&self) -> serde_json::error::Category {
        self.category
    }

    /// The line in the JSON text, 0 when converting a value (no text).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column in the JSON text, 0 when converting a value (no text).
    pub fn column(&self) -> usize {
        self.column
    }

    /// The Rust type asked for (a read) or given (a write).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use serde_json::error::Category;
        let kind = match self.category {
            Category::Io => "I/O",
            Category::Syntax => "syntax",
            Category::Data => "data",
            Category::Eof => "end of input",
        };
        write!(f, "JSON {kind} error for type `{}`", self.type_name)?;
        if self.line > 0 {
            write!(f, " at line {} column {}", self.line, self.column)?;
        }
        Ok(())
    }
}

impl StdError for ValueError {}

/// An error and its sources on one line, for logs (`a: b: c`).
pub(crate) fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

//! Why a signed value was refused.
//!
//! The variants are sorted by what a caller does next: a bad or expired signature
//! means "treat it as absent"; the others only happen after the signature checked
//! out, so the value was made by someone holding a key, yet is not a session.
//! No message ever contains a key or the signed value.

use std::error::Error as StdError;
use std::fmt;

/// Why `unsign`, `loads` or `Codec::decode` refused a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// No key produced this signature (tampered, wrong salt, unknown key, or not a
    /// signed value at all). Django's `BadSignature`.
    #[error("bad signature")]
    BadSignature,
    /// The signature is valid but older than `max_age`. Django's `SignatureExpired`.
    #[error(
        "signature expired: age {:.3}s exceeds max age {:.3}s",
        .age.as_seconds_f64(),
        .max_age.as_seconds_f64()
    )]
    Expired {
        /// How old the signature is at `now`.
        age: time::Duration,
        /// The limit it was checked against.
        max_age: time::Duration,
    },
    /// The signature is valid but what it covers cannot be read (timestamp, base64
    /// or zlib). Django raises `ValueError`/`zlib.error` here.
    #[error("malformed signed value")]
    Malformed(#[source] Malformed),
    /// The payload decoded but is not JSON that Python's `json.loads` reads (or it
    /// nests deeper than [`python_json::MAX_DEPTH`](super::python_json::MAX_DEPTH)).
    /// The source is serde_json's reason.
    #[error("signed payload is not valid json")]
    Json(#[source] serde_json::Error),
    /// The payload is valid JSON but not an object, so it cannot be a session.
    #[error("signed payload is not a json object")]
    NotAnObject,
}

impl SigningError {
    pub(crate) fn malformed(kind: MalformedKind) -> Self {
        Self::Malformed(Malformed { kind, source: None })
    }

    pub(crate) fn malformed_by(
        kind: MalformedKind,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Malformed(Malformed {
            kind,
            source: Some(Box::new(source)),
        })
    }
}

/// Details of [`SigningError::Malformed`], keeping the decoder's error as source.
#[derive(Debug)]
pub struct Malformed {
    kind: MalformedKind,
    // Boxed so the base64 and flate2 error types stay out of our public API.
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl Malformed {
    /// Which part of the value could not be read.
    pub fn kind(&self) -> MalformedKind {
        self.kind
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl StdError for Malformed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Which part of a validly signed value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedKind {
    /// No `:` before the signature, or the timestamp is not base62 / overflows i64.
    Timestamp,
    /// The payload is not URL-safe base64.
    Base64,
    /// The payload is flagged as compressed but is not a complete zlib stream.
    Zlib,
    /// The payload decompresses to more than the cap (a zip bomb, or a mistake).
    TooLarge,
}

impl fmt::Display for MalformedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timestamp => "timestamp is missing or not base62",
            Self::Base64 => "payload is not url-safe base64",
            Self::Zlib => "payload is not a complete zlib stream",
            Self::TooLarge => "payload decompresses beyond the size cap",
        })
    }
}

//! Django's signing (`django.core.signing`) and the session codec built on it.
//!
//! A signed value is `payload:timestamp:signature`, exactly as Django writes it:
//!
//! - **payload**: the value as Python's compact `json.dumps` writes it (see
//!   [`json`]), zlib-compressed (level 6, as CPython) when asked and when that
//!   saves at least 2 bytes (then prefixed with `.`), in URL-safe base64 without
//!   padding;
//! - **timestamp**: Unix seconds in Django's [`base62`];
//! - **signature**: URL-safe base64 of HMAC-SHA256 over `payload:timestamp`, keyed
//!   with `sha256(salt + "signer" + secret)`.
//!
//! New values are signed with the current key; verification tries the current key
//! and then each fallback (`SECRET_KEY_FALLBACKS`), comparing in constant time,
//! and reports whether a fallback was used so the value can be re-signed.
//!
//! Session stores use a [`Codec`]: one salt, always compressed (as Django's
//! `SessionBase.encode`), decoding to a JSON object. [`Signer`], [`dumps`] and
//! [`loads`] serve users who sign their own values the Django way.
//!
//! ```
//! use serde_json::json;
//! use sessionkit::signing::{Codec, Keys, SecretKey, SigningError};
//! use time::{Duration, OffsetDateTime};
//!
//! let keys = Keys::new(SecretKey::new("a long random secret"), vec![])?;
//! let codec = Codec::sessions(&keys);
//! let now = OffsetDateTime::now_utc();
//! let Some(data) = json!({"visit": 11}).as_object().cloned() else { unreachable!() };
//!
//! let signed = codec.encode(&data, now);
//! assert!(signed.starts_with("eyJ2aXNpdCI6MTF9:")); // {"visit":11}
//! let decoded = codec.decode(&signed, Some(Duration::weeks(2)), now)?;
//! assert_eq!(decoded.data, data);
//! assert!(!decoded.fallback);
//!
//! let tampered = signed.replacen("eyJ2", "eyJ3", 1);
//! assert!(matches!(codec.decode(&tampered, None, now), Err(SigningError::BadSignature)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Values only Python can hold
//!
//! Python's `json` reads and writes values that `serde_json::Value` cannot hold:
//! `NaN`, `Infinity` and `-Infinity`; integers beyond the `i64`/`u64` range
//! (`10**22`); strings (and dict keys) with lone surrogates (`"\ud800"`). A session
//! holding one decodes all the same: the value is kept as a *raw marker*, a
//! one-entry object `{"\u0000sessionkit:python-json": "<token>"}` (a key gets the
//! token after that prefix), and every save writes the token back verbatim, so
//! Django reads exactly what it wrote. An app sees the marker as an object; it
//! can recognise one with [`python_json::raw_token`] and make one with
//! [`python_json::raw_value`]. Everything `Value` can hold reads as before.
//!
//! Such a value as `_session_expiry` is not a number or a date to
//! [`crate::expiry`], so the session gets the default age (`SESSION_COOKIE_AGE`)
//! and is not a browser-close session, never a panic. Django raises on it
//! (turning `NaN` or `10**22` seconds into a cookie date or a `timedelta`), so its
//! middleware cannot save such a session.
//!
//! # Known limits
//!
//! - Nesting deeper than [`python_json::MAX_DEPTH`] (512) levels fails to decode
//!   (a [`SigningError::Json`] error, so a session loads empty); Python stops near
//!   1000.
//! - Decompression stops at 5 MiB of output ([`MalformedKind::TooLarge`]); Django
//!   has no cap. Timestamps must fit an `i64`.

mod codec;
mod error;
#[cfg(feature = "fuzzing")]
#[path = "../fuzzing/signing.rs"]
pub(crate) mod fuzz;
mod keys;
mod object;
mod signer;
mod zlib;

#[doc(hidden)] // Django's base62 timestamps, for tests: not an API
pub mod base62;
#[doc(hidden)] // the JSON writer, for tests and the harness: not an API
pub mod json;
pub mod python_json;

pub use codec::{Codec, Decoded};
pub use error::{Malformed, MalformedKind, SigningError};
pub use keys::{EmptyKey, Keys, SecretKey};
pub use object::{dumps, loads, Verified};
pub use signer::{Signer, Unsigned};

/// The salt of Django's `signing.dumps`/`loads` when none is given.
pub const DEFAULT_SALT: &str = "django.core.signing";

/// The salt of Django's db, cached_db and file session engines: every class
/// named `SessionStore` signs with it.
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";

/// The salt of Django's signed_cookies session engine.
pub const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

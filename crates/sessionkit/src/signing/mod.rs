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
//! let keys = Keys::new(SecretKey::new("a long random secret"), vec![]);
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
//! # Ok::<(), SigningError>(())
//! ```
//!
//! # Known limits
//!
//! Django can sign values that do not survive the trip into `serde_json::Value`;
//! they fail to decode (a [`SigningError::Json`] error, so a session loads empty)
//! or lose precision:
//!
//! - `NaN`, `Infinity` and `-Infinity`, which Python writes for non-finite floats;
//! - lone surrogates (`"\ud800"`), which Python accepts in strings;
//! - nesting deeper than 128 levels (serde_json's recursion limit);
//! - integers beyond the `u64`/`i64` range become floats (`10**20` reads as
//!   `1e20` and is written back as `1e+20`).
//!
//! Decompression stops at 5 MiB of output ([`MalformedKind::TooLarge`]); Django has
//! no cap. Timestamps must fit an `i64`.

mod codec;
mod error;
mod keys;
mod object;
mod signer;
mod zlib;

pub mod base62;
pub mod json;

pub use codec::{Codec, Decoded};
pub use error::{Malformed, MalformedKind, SigningError};
pub use keys::{Keys, SecretKey};
pub use object::{dumps, loads, Verified};
pub use signer::{Signer, Unsigned};

/// The salt of Django's `signing.dumps`/`loads` when none is given.
pub const DEFAULT_SALT: &str = "django.core.signing";

/// The salt of Django's db, cached_db and file session engines: every class
/// named `SessionStore` signs with it.
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";

/// The salt of Django's signed_cookies session engine.
pub const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

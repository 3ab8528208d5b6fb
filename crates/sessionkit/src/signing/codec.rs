//! The session codec: Django's `SessionBase.encode`/`decode` for one salt.

use serde_json::{Map, Value};

use super::error::SigningError;
use super::keys::Keys;
use super::signer::Signer;
use super::{json, SESSION_SALT, SIGNED_COOKIES_SALT};

/// Encodes session maps as Django's `SessionBase.encode` does (always with
/// `compress=True`) and decodes them back. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Codec {
    signer: Signer,
}

/// A verified session map.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The session's data, `_session_expiry` included when set.
    pub data: Map<String, Value>,
    /// The signing time, in Unix seconds.
    pub timestamp: i64,
    /// Verified by a fallback key, not the current one: re-sign it on next save.
    pub fallback: bool,
}

impl Codec {
    /// A codec for any salt (a custom Django store class named `MyStore` signs
    /// with `"django.contrib.sessions.MyStore"`).
    pub fn new(keys: &Keys, salt: &str) -> Self {
        Self {
            signer: Signer::new(keys, salt),
        }
    }

    /// The codec of Django's db, cached_db and file engines ([`SESSION_SALT`]).
    pub fn sessions(keys: &Keys) -> Self {
        Self::new(keys, SESSION_SALT)
    }

    /// The codec of Django's signed_cookies engine ([`SIGNED_COOKIES_SALT`]).
    pub fn signed_cookies(keys: &Keys) -> Self {
        Self::new(keys, SIGNED_COOKIES_SALT)
    }

    /// The signer underneath, for values that are not session maps.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Signs `data` at `now`, byte-identical to Django's `SessionBase.encode`.
    pub fn encode(&self, data: &Map<String, Value>, now: time::OffsetDateTime) -> String {
        let mut raw = String::with_capacity(64);
        json::write_object(data, &mut raw);
        self.signer.dumps_json(raw.as_bytes(), true, now)
    }

    /// Verifies and decodes a session. Where Django's `decode` returns `{}` on
    /// any failure, this says why; stores turn every error into an empty session.
    pub fn decode(
        &self,
        signed: &str,
        max_age: Option<time::Duration>,
        now: time::OffsetDateTime,
    ) -> Result<Decoded, SigningError> {
        let verified = self.signer.loads_object(signed, max_age, now)?;
        match verified.value {
            Value::Object(data) => Ok(Decoded {
                data,
                timestamp: verified.timestamp,
                fallback: verified.fallback,
            }),
            _ => Err(SigningError::NotAnObject),
        }
    }
}

//! Rules every engine that stores Django's signed format shares, kept in one
//! place so a Django rule changes in one edit: the create-with-a-fresh-key
//! loop, the corrupt record that loads as an empty session, and the signing
//! keys a store takes from the layer it serves.

use std::sync::OnceLock;

use time::{Duration, OffsetDateTime};

use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::key;
use crate::signing::Codec;

use super::{fresh_key, SessionMap};

/// Django's `create`: draws fresh keys until `try_key` finds one free.
/// `try_key` answers `Ok(Some(value))` once written, `Ok(None)` when the key
/// was taken (the loop draws another), or an error, returned as it is.
pub(crate) async fn with_fresh_key<T, F, Fut>(mut try_key: F) -> Result<T, StoreError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, StoreError>>,
{
    for _ in 0..fresh_key::CREATE_ATTEMPTS {
        let key = key::generate_key();
        // A copy, not the log tag: the tag is a SHA-256 that only a
        // collision (which never happens) logs, and creates are hot.
        match try_key(key.clone()).await? {
            Some(written) => return Ok(written),
            None => fresh_key::collided(&key),
        }
    }
    Err(fresh_key::no_free_key())
}

/// Django's `decode`: a stored value whose signature, key, JSON or text is
/// bad loads as an empty dict, with a warning ("Session data corrupted"). The
/// key is kept, so the next save overwrites the bad value.
pub(crate) fn decode_or_empty(
    codec: &Codec,
    engine: &'static str,
    session_key: &str,
    stored: &[u8],
    max_age: Option<Duration>,
    now: OffsetDateTime,
) -> SessionMap {
    let decoded = std::str::from_utf8(stored)
        .ok()
        .and_then(|text| codec.decode(text, max_age, now).ok());
    match decoded {
        Some(decoded) => decoded.data,
        None => {
            tracing::warn!(
                session = %key::log_tag(session_key),
                engine,
                "session data corrupted: loading it as an empty session"
            );
            SessionMap::new()
        }
    }
}

/// The signing keys of a store that encodes Django's signed format: given
/// when the store is built (`with_codec`) or taken from the first layer the
/// store serves (`SessionStore::attach`), so a user gives the secret once.
#[derive(Default)]
pub(crate) struct SigningKeys {
    codec: OnceLock<Codec>,
}

impl SigningKeys {
    /// Keys given now; a later `attach` keeps them.
    #[cfg(any(feature = "redis", feature = "memcached"))]
    pub(crate) fn given(codec: Codec) -> Self {
        let keys = Self::default();
        keys.set(codec);
        keys
    }

    /// Sets the keys unless the store already has some: the first keys stay,
    /// so a store shared by two layers never switches secret mid-flight.
    pub(crate) fn set(&self, codec: Codec) {
        let _ = self.codec.set(codec);
    }

    /// Takes the session codec (Django's session salt) from `config` unless
    /// the store already has keys.
    pub(crate) fn attach(&self, config: &SessionConfig) {
        if self.codec.get().is_none() {
            self.set(config.codec());
        }
    }

    /// The codec, or a configuration error naming the fix.
    pub(crate) fn codec(&self, engine: &'static str) -> Result<&Codec, StoreError> {
        self.codec.get().ok_or_else(|| {
            StoreError::Config(format!(
                "the {engine} store has no signing keys: give it to a SessionLayer (which \
                 passes SECRET_KEY along), or build it `.with_codec(config.codec())`"
            ))
        })
    }
}

impl std::fmt::Debug for SigningKeys {
    // Keys are secrets: only whether there are any.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("set", &self.codec.get().is_some())
            .finish()
    }
}

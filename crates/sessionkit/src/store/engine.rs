//! Rules every engine shares, kept in one place so a Django rule changes in
//! one edit: the create-with-a-fresh-key loop and its failure, the corrupt
//! record that loads as an empty session, and the signing keys a store takes
//! from the layer it serves.

use std::sync::OnceLock;

use time::{Duration, OffsetDateTime};

use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::key;
use crate::signing::Codec;

use super::SessionMap;

/// How many fresh keys `create` draws before it gives up.
pub(crate) const CREATE_ATTEMPTS: usize = 10;

/// `create` drew only keys that were already taken; with 165-bit random keys
/// this means the random source or the store is broken, not bad luck.
#[derive(Debug, thiserror::Error)]
#[error("no free session key after {attempts} attempts")]
pub(crate) struct NoFreeKey {
    attempts: usize,
}

/// Django's `create`: draws fresh keys until `try_key` finds one free.
/// `try_key` answers `Ok(Some(value))` once written, `Ok(None)` when the key
/// was taken (the loop draws another), or an error, returned as it is.
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "file",
    feature = "redis",
    feature = "memcached"
))]
pub(crate) async fn with_fresh_key<T, F, Fut>(mut try_key: F) -> Result<T, StoreError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, StoreError>>,
{
    for _ in 0..CREATE_ATTEMPTS {
        let key = key::generate_key();
        // A copy, not the log tag: the tag is a SHA-256 that only a
        // collision (which never happens) logs, and creates are hot.
        match try_key(key.clone()).await? {
            Some(written) => return Ok(written),
            None => collided(&key),
        }
    }
    Err(no_free_key())
}

/// [`with_fresh_key`] for an engine that writes without waiting: `try_key`
/// gives a taken key back instead of `None`, so no key is copied.
#[cfg(feature = "memory")]
pub(crate) fn with_fresh_key_now<T>(
    mut try_key: impl FnMut(String) -> Result<T, String>,
) -> Result<T, StoreError> {
    for _ in 0..CREATE_ATTEMPTS {
        match try_key(key::generate_key()) {
            Ok(written) => return Ok(written),
            Err(taken) => collided(&taken),
        }
    }
    Err(no_free_key())
}

fn collided(key: &str) {
    tracing::warn!(session = %key::log_tag(key), "session key collision; retrying");
}

fn no_free_key() -> StoreError {
    StoreError::Backend(Box::new(NoFreeKey {
        attempts: CREATE_ATTEMPTS,
    }))
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

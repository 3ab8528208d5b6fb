//! Django's `create`: fresh keys drawn until one is free, in one place for
//! every engine that stores sessions under a key.

use crate::error::StoreError;
use crate::key;

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

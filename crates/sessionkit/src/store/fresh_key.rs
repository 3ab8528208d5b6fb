//! Django's `create`: fresh keys drawn until one is free. The limit and the
//! failure are shared by the async loop of the engines that wait
//! (`engine::with_fresh_key`) and the in-process engine's loop here.

use crate::error::StoreError;
use crate::key;

/// How many fresh keys `create` draws before it gives up.
pub(super) const CREATE_ATTEMPTS: usize = 10;

/// `create` drew only keys that were already taken; with 165-bit random keys
/// this means the random source or the store is broken, not bad luck.
#[derive(Debug, thiserror::Error)]
#[error("no free session key after {attempts} attempts")]
pub(crate) struct NoFreeKey {
    attempts: usize,
}

/// The async loop (`engine::with_fresh_key`) for an engine that writes
/// without waiting: `try_key` gives a taken key back instead of `None`, so
/// no key is copied.
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

pub(super) fn collided(key: &str) {
    tracing::warn!(session = %key::log_tag(key), "session key collision; retrying");
}

pub(super) fn no_free_key() -> StoreError {
    StoreError::Backend(Box::new(NoFreeKey {
        attempts: CREATE_ATTEMPTS,
    }))
}

//! Striped async locks that serialize the saves of one session inside one process.
//!
//! Compare-and-set alone is correct, but 50 requests of one session racing in one
//! process would each lose the race many times. Holding a lock per session key
//! across "save, on conflict reload and replay, save again" makes every request
//! conflict at most once per outside writer. Stripes (a fixed array indexed by a
//! hash of the key) avoid a map of locks that would need cleaning; two sessions
//! sharing a stripe only wait on each other's saves, never deadlock, because a
//! request holds at most one stripe at a time.

use std::hash::BuildHasher;

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 1024;

/// A fixed set of async mutexes indexed by session key.
pub(crate) struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl KeyLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn stripe(&self, key: &str) -> &Mutex<()> {
        &self.stripes[(self.hasher.hash_one(key) as usize) % STRIPES]
    }

    /// Waits for the stripe of `key`.
    pub(crate) async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let stripe = self.stripe(key);
        // Uncontended on nearly every save: taken without a wait queue.
        match stripe.try_lock() {
            Ok(guard) => guard,
            Err(_) => stripe.lock().await,
        }
    }

    /// The stripe of `key` if it is free now.
    pub(crate) fn try_lock(&self, key: &str) -> Option<MutexGuard<'_, ()>> {
        self.stripe(key).try_lock().ok()
    }
}

impl std::fmt::Debug for KeyLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLocks")
            .field("stripes", &self.stripes.len())
            .finish()
    }
}

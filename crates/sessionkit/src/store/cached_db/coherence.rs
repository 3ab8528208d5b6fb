//! Keeps this process from trusting a cache entry that may be older than the
//! db: fences against racing cache writes, and the keys whose entry could not
//! be repaired.
//!
//! Neither is needed for correctness of saves (the db's compare-and-set
//! catches every stale version); both keep *reads* from serving a session the
//! db has moved on from — above all one that was deleted (a logout).
//!
//! **Fences.** Every operation that changes a session in the db, or finds a
//! cache entry wrong, advances the key's epoch before it touches the cache. A
//! cache write that derives from the db reads the epoch *before* its db call
//! and, after writing, deletes its own entry again if the epoch moved: then an
//! older state can never stay in the cache after a newer one was written or
//! removed by this process. Epochs live in a few striped counters, so a
//! collision only costs an extra cache miss.
//!
//! **Untrusted keys.** When the cache fails to take a write or a delete, the
//! entry it holds may be stale; the key is then read from the db until a later
//! cache write or delete for it succeeds (this also makes the reload after a
//! `Conflict` bypass the cache even when the cache could not be cleaned).

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Epoch counters; a power of two keeps the stripe pick cheap.
const STRIPES: usize = 64;

/// Untrusted keys remembered at most (a few MB). Only a cache that fails
/// writes for this many distinct sessions fills it; beyond it a stale entry
/// can be served until a save of that session repairs it or it expires.
pub(super) const UNTRUSTED_CAP: usize = 100_000;

/// A key's epoch as read at one moment.
#[derive(Clone, Copy, Debug)]
pub(super) struct Epoch {
    stripe: usize,
    value: u64,
}

impl Epoch {
    /// Whether `self` was made by the very next advance after `earlier`: no
    /// other change of the key came between them.
    pub(super) fn follows(self, earlier: Epoch) -> bool {
        self.stripe == earlier.stripe && self.value == earlier.value.wrapping_add(1)
    }
}

pub(super) struct Coherence {
    epochs: [AtomicU64; STRIPES],
    hasher: RandomState,
    untrusted: Mutex<HashSet<String>>,
    // Mirrors `untrusted.len()` so the usual case (nothing untrusted) takes no lock.
    untrusted_len: AtomicUsize,
}

impl Coherence {
    pub(super) fn new() -> Self {
        Self {
            epochs: std::array::from_fn(|_| AtomicU64::new(0)),
            hasher: RandomState::new(),
            untrusted: Mutex::new(HashSet::new()),
            untrusted_len: AtomicUsize::new(0),
        }
    }

    fn stripe(&self, key: &str) -> usize {
        // Truncation is fine: only the low bits pick the stripe.
        (self.hasher.hash_one(key) as usize) % STRIPES
    }

    fn untrusted(&self) -> MutexGuard<'_, HashSet<String>> {
        // The set holds no invariant a panic could break halfway.
        self.untrusted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key's epoch now.
    pub(super) fn epoch(&self, key: &str) -> Epoch {
        let stripe = self.stripe(key);
        Epoch {
            stripe,
            value: self.epochs[stripe].load(Ordering::SeqCst),
        }
    }

    /// Marks a change of the key; returns the epoch it left.
    pub(super) fn advance(&self, key: &str) -> Epoch {
        let stripe = self.stripe(key);
        let before = self.epochs[stripe].fetch_add(1, Ordering::SeqCst);
        Epoch {
            stripe,
            value: before.wrapping_add(1),
        }
    }

    fn unchanged(&self, epoch: Epoch) -> bool {
        self.epochs[epoch.stripe].load(Ordering::SeqCst) == epoch.value
    }

    /// Whether the cache may answer for `key`.
    pub(super) fn is_trusted(&self, key: &str) -> bool {
        self.untrusted_len.load(Ordering::SeqCst) == 0 || !self.untrusted().contains(key)
    }

    /// After a cache write or delete for `key` that began at `epoch`
    /// succeeded: trusts the key again if nothing changed it since, and says
    /// whether that was so. The check and the removal share the lock
    /// [`distrust`](Self::distrust) takes, so a concurrent distrust is never
    /// erased.
    pub(super) fn settle(&self, key: &str, epoch: Epoch) -> bool {
        if self.untrusted_len.load(Ordering::SeqCst) == 0 {
            // Nothing to remove; a distrust racing past this check advances
            // the epoch, so `unchanged` sees it.
            return self.unchanged(epoch);
        }
        let mut untrusted = self.untrusted();
        if !self.unchanged(epoch) {
            return false;
        }
        untrusted.remove(key);
        self.untrusted_len.store(untrusted.len(), Ordering::SeqCst);
        true
    }

    /// Stops trusting the cache for `key` until a cache write or delete for it
    /// succeeds. Returns `false` when the set is full and the key could not be
    /// remembered.
    pub(super) fn distrust(&self, key: &str) -> bool {
        let mut untrusted = self.untrusted();
        // Advanced under the lock: a `settle` that began before this can no
        // longer trust the key.
        self.advance(key);
        if untrusted.len() >= UNTRUSTED_CAP && !untrusted.contains(key) {
            return false;
        }
        untrusted.insert(key.to_owned());
        self.untrusted_len.store(untrusted.len(), Ordering::SeqCst);
        true
    }

    /// How many keys are read from the db because their entry may be stale.
    pub(super) fn untrusted_count(&self) -> usize {
        self.untrusted_len.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advance_in_between_is_seen() {
        let c = Coherence::new();
        let start = c.epoch("k");
        let mine = c.advance("k");
        assert!(mine.follows(start));
        assert!(c.settle("k", mine));
        let other = c.advance("k");
        assert!(!c.settle("k", mine), "a later change must be seen");
        assert!(!other.follows(start));
    }

    #[test]
    fn distrust_holds_until_a_settle_that_began_after_it() {
        let c = Coherence::new();
        let before = c.epoch("k");
        assert!(c.distrust("k"));
        assert!(!c.is_trusted("k"));
        assert!(c.is_trusted("other"));
        assert!(
            !c.settle("k", before),
            "a write that began earlier cannot vouch"
        );
        assert!(!c.is_trusted("k"));
        let after = c.epoch("k");
        assert!(c.settle("k", after));
        assert!(c.is_trusted("k"));
        assert_eq!(c.untrusted_count(), 0);
    }

    #[test]
    fn the_set_is_bounded() {
        let c = Coherence::new();
        for i in 0..UNTRUSTED_CAP {
            assert!(c.distrust(&format!("key{i}")));
        }
        assert!(!c.distrust("one-more"));
        assert!(c.distrust("key0"), "a key already there stays");
        assert_eq!(c.untrusted_count(), UNTRUSTED_CAP);
    }
}

//! One session's place in a pool: the record under its own lock, and what
//! the pool reads without that lock (key, expiry, weight, kind, use, eviction).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use super::pool::Hashed;
use crate::store::{SessionMap, Version};

/// Versions come from one process-wide counter, so a version is never valid
/// for any other record or store than the one that issued it.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_version() -> u64 {
    NEXT_VERSION.fetch_add(1, Ordering::Relaxed)
}

/// The most entries an evicted session's dict may have for a new session
/// to reuse its allocations.
const REUSED_DICT_LEN: usize = 16;

/// `at` in Unix microseconds, saturating: how the pool compares expiries
/// without taking a slot's lock.
pub(super) fn unix_micros(at: OffsetDateTime) -> i64 {
    // In i64: through nanoseconds it is an i128 division on every store call.
    at.unix_timestamp()
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(at.microsecond()))
}

/// One session's place in a pool.
pub(super) struct Slot {
    /// The session key, stored once: the pool's set is keyed by it.
    pub(super) key: String,
    /// The key's hash by the store's hasher, computed once.
    pub(super) hash: u64,
    entry: Mutex<Entry>,
    /// A copy of the entry's expiry (Unix µs), for the pool, which must not
    /// lock a slot. Changed only under the slot's lock.
    expires_at: AtomicI64,
    /// The size estimate of the current record.
    pub(super) weight: AtomicU32,
    /// The weight the pool charged for the slot (changed under the shard's
    /// lock).
    pub(super) charged: AtomicU32,
    /// Which pool holds the slot: the record has `_auth_user_id`. Changed
    /// only under the slot's lock; read by the pools when they evict.
    pub(super) authenticated: AtomicBool,
    /// The slot's pool dropped it to make room: a save that raced with that
    /// must not report success.
    pub(super) evicted: AtomicBool,
    /// Used since the pool's eviction hand last passed: it gets another round.
    pub(super) referenced: AtomicBool,
}

pub(super) struct Entry {
    pub(super) data: SessionMap,
    expires_at: OffsetDateTime,
    pub(super) version: u64,
    /// Deleted (or found expired): never loadable or saved again, even by a
    /// request that fetched the slot before it left the pool.
    pub(super) removed: bool,
}

impl Entry {
    pub(super) fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.removed && self.expires_at > now
    }

    pub(super) fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    pub(super) fn version(&self) -> Version {
        Version::copied(&self.version.to_be_bytes())
    }

    /// Marks the entry removed and lets its data go at once: a removed slot
    /// may stay referenced for a while (a request holding it, the pool's
    /// queue), its data need not.
    pub(super) fn remove(&mut self) {
        self.removed = true;
        self.data = SessionMap::new();
    }
}

/// What a new session's slot starts with.
pub(super) struct NewSession<'a> {
    pub(super) key: Hashed<'a>,
    pub(super) data: &'a SessionMap,
    pub(super) expires_at: OffsetDateTime,
    pub(super) weight: u32,
    pub(super) authenticated: bool,
    pub(super) version: u64,
}

impl Slot {
    pub(super) fn new(new: &NewSession<'_>) -> Self {
        Self {
            key: new.key.key.to_owned(),
            hash: new.key.hash,
            entry: Mutex::new(Entry {
                data: new.data.clone(),
                expires_at: new.expires_at,
                version: new.version,
                removed: false,
            }),
            expires_at: AtomicI64::new(unix_micros(new.expires_at)),
            weight: AtomicU32::new(new.weight),
            charged: AtomicU32::new(new.weight),
            authenticated: AtomicBool::new(new.authenticated),
            evicted: AtomicBool::new(false),
            referenced: AtomicBool::new(false),
        }
    }

    /// Makes this evicted slot, which nothing else holds, `new`'s:
    /// [`Slot::new`] reusing the slot's, key's and (for a small dict) the
    /// dict's allocations.
    pub(super) fn renew(&mut self, new: &NewSession<'_>) {
        self.key.clear();
        self.key.push_str(new.key.key);
        self.hash = new.key.hash;
        let entry = self.entry.get_mut().unwrap_or_else(|e| e.into_inner());
        // A large dict's spare capacity would be memory the budget does not
        // see: only a small one's is kept.
        if entry.data.len() <= REUSED_DICT_LEN {
            entry.data.clone_from(new.data);
        } else {
            entry.data = new.data.clone();
        }
        entry.expires_at = new.expires_at;
        entry.version = new.version;
        entry.removed = false;
        *self.expires_at.get_mut() = unix_micros(new.expires_at);
        *self.weight.get_mut() = new.weight;
        *self.charged.get_mut() = new.weight;
        *self.authenticated.get_mut() = new.authenticated;
        *self.evicted.get_mut() = false;
        *self.referenced.get_mut() = false;
    }

    /// The key with its hash, for the pools.
    pub(super) fn hashed(&self) -> Hashed<'_> {
        Hashed {
            key: &self.key,
            hash: self.hash,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Entry> {
        // Every change under this lock is a single assignment, so a panic
        // elsewhere cannot leave the entry half-written.
        self.entry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the session's expiry; `entry` is this slot's, locked.
    pub(super) fn set_expiry(&self, entry: &mut Entry, expires_at: OffsetDateTime) {
        entry.expires_at = expires_at;
        self.expires_at
            .store(unix_micros(expires_at), Ordering::Relaxed);
    }

    /// Whether the session expired by `now` (Unix µs), without the lock.
    pub(super) fn expired_by(&self, now: i64) -> bool {
        self.expires_at.load(Ordering::Relaxed) <= now
    }

    pub(super) fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }

    pub(super) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Records `weight` as the record's size; returns whether it drifted so
    /// far from what the pool charged that the pool must be told. A session
    /// growing a little on every save then re-weighs only at each quarter of
    /// growth, not on every save.
    pub(super) fn reweigh(&self, weight: u32) -> bool {
        self.weight.store(weight, Ordering::Relaxed);
        let charged = self.charged.load(Ordering::Relaxed);
        weight.abs_diff(charged) > charged / 4 + 512
    }
}

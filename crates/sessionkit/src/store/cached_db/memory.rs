//! The in-process cache for a [`CachedDbStore`](super::CachedDbStore): decoded
//! entries in a bounded [moka] cache, so a hit costs no signing, no JSON and
//! no I/O.
//!
//! Each process has its own: with several processes in front of one
//! database, a session another process changed or **deleted (logged out)**
//! is seen here only when this process saves it (the save conflicts, or
//! finds it gone) or the entry outlives the store's `max_entry_age` and the
//! db is read again. Saves never lose an update either way (versions are the
//! db's), but reads lag, so `store::open` takes this cache only for a
//! process declared to be the single one; a shared cache (Redis, Memcached)
//! sees this crate's logouts at once.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use moka::Expiry;
use time::OffsetDateTime;

use super::cache::{keep_until, CacheEntry, SessionCache};
use crate::error::StoreError;
use crate::store::{Record, Version};

/// How many sessions [`MemoryCache::new`] holds before evicting the least
/// recently used.
const DEFAULT_CAPACITY: u64 = 100_000;

/// How long after its session expires moka reclaims an entry: `get` hides it
/// by the caller's clock at once; the grace keeps moka's own monotonic clock
/// from dropping an entry the caller's clock still sees live.
const RECLAIM_GRACE: StdDuration = StdDuration::from_secs(1);

/// Decoded sessions in an in-process cache. Clones are cheap and share it.
#[derive(Clone)]
pub struct MemoryCache {
    cache: Cache<String, Arc<Held>, foldhash::fast::RandomState>,
}

struct Held {
    entry: CacheEntry,
    // Fixed when written: moka's `Expiry` is not told the caller's `now`.
    ttl: StdDuration,
}

struct HeldExpiry;

impl Expiry<String, Arc<Held>> for HeldExpiry {
    fn expire_after_create(&self, _: &String, held: &Arc<Held>, _: Instant) -> Option<StdDuration> {
        Some(held.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        held: &Arc<Held>,
        _: Instant,
        _: Option<StdDuration>,
    ) -> Option<StdDuration> {
        Some(held.ttl)
    }
}

impl MemoryCache {
    /// A cache of up to 100 000 sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A cache of up to `capacity` sessions (at least one); beyond it the
    /// least recently used is evicted (its next load reads the db).
    pub fn with_capacity(capacity: u64) -> Self {
        let cache = Cache::builder()
            .name("sessionkit-cached-db")
            .max_capacity(capacity.max(1))
            // LRU, not TinyLFU: TinyLFU may refuse a new entry, so a session
            // just written would cost a db read on its next request.
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(HeldExpiry)
            // As the in-process store: foldhash, not SipHash (see there).
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self { cache }
    }

    /// How many entries the cache holds, expired ones not yet reclaimed
    /// included. Approximate while writes are in flight.
    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryCache {
    // Counts only: the keys are credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.cache.entry_count())
            .field("capacity", &self.cache.policy().max_capacity())
            .finish()
    }
}

#[async_trait]
impl SessionCache for MemoryCache {
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError> {
        Ok(self
            .cache
            .get(key)
            .filter(|held| held.entry.record.expires_at > now)
            .map(|held| held.entry.clone()))
    }

    async fn set(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        now: OffsetDateTime,
        max_age: StdDuration,
    ) -> Result<(), StoreError> {
        // Already expired becomes zero, leaving only the grace.
        let until = keep_until(record.expires_at, now, max_age);
        let left = StdDuration::try_from(until - now).unwrap_or(StdDuration::ZERO);
        let held = Held {
            entry: CacheEntry {
                record: record.clone(),
                db_version: db_version.clone(),
                cached_at: now,
            },
            ttl: left.saturating_add(RECLAIM_GRACE),
        };
        self.cache.insert(key.to_owned(), Arc::new(held));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.cache.invalidate(key);
        Ok(())
    }
}

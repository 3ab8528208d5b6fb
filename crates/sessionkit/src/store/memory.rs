//! The in-process engine: sessions in a bounded [moka] cache of this process.
//!
//! It holds the *decoded* record and a counter as its version, so the hot path
//! does no signing, no JSON and no I/O. Sessions live as long as the process:
//! use it for one-instance services, tests and development, or as the cache
//! in front of a database.
//!
//! ```
//! use sessionkit::store::memory::MemoryStore;
//! use sessionkit::store::{Record, SessionMap, SessionStore};
//! use time::{Duration, OffsetDateTime};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::with_capacity(10_000);
//! let now = OffsetDateTime::now_utc();
//! let record = Record::new(SessionMap::new(), now + Duration::weeks(2));
//! let saved = store.create(&record, now).await?;
//! assert!(store.load(&saved.cookie_value, now).await?.is_some());
//! # Ok::<(), sessionkit::error::StoreError>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use moka::ops::compute::{CompResult, Op};
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use moka::Expiry;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::key;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version};

/// How many sessions [`MemoryStore::new`] holds before evicting the least
/// recently used: a few hundred MB at most for typical small sessions.
pub const DEFAULT_CAPACITY: u64 = 100_000;

/// Fresh keys tried before `create` gives up; with 165 random bits a second
/// attempt already means the random source is broken.
const CREATE_ATTEMPTS: u32 = 8;

/// How long after its session expires moka reclaims an entry. `load` hides an
/// expired session by the caller's clock at once; the grace only keeps moka's
/// monotonic clock from dropping a session that the caller's clock (a stepped
/// system clock, a test's stopped one) still sees live.
const RECLAIM_GRACE: StdDuration = StdDuration::from_secs(1);

/// Versions come from one process-wide counter, so a version is never valid
/// for any other record or store than the one that issued it.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

/// Sessions in an in-process cache. Clones are cheap and share the cache.
#[derive(Clone)]
pub struct MemoryStore {
    cache: Cache<String, Arc<Entry>>,
}

struct Entry {
    // Behind an `Arc` so `touch` can move the expiry without copying the dict.
    data: Arc<SessionMap>,
    expires_at: OffsetDateTime,
    version: u64,
    // How long moka keeps the entry, fixed when it is written: `Expiry` is not
    // told the caller's `now`, which is the one that counts.
    ttl: StdDuration,
}

impl Entry {
    fn new(data: Arc<SessionMap>, expires_at: OffsetDateTime, now: OffsetDateTime) -> Self {
        // Negative (already expired) becomes zero, leaving only the grace.
        let left = StdDuration::try_from(expires_at - now).unwrap_or(StdDuration::ZERO);
        Self {
            data,
            expires_at,
            version: NEXT_VERSION.fetch_add(1, Ordering::Relaxed),
            ttl: left.saturating_add(RECLAIM_GRACE),
        }
    }

    fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at > now
    }

    fn version(&self) -> Version {
        Version::new(self.version.to_be_bytes())
    }

    fn saved(&self, key: String) -> Saved {
        Saved {
            cookie_value: key,
            version: self.version(),
        }
    }
}

/// Reclaims an entry's memory when its session expires.
struct SessionExpiry;

impl Expiry<String, Arc<Entry>> for SessionExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        entry: &Arc<Entry>,
        _: Instant,
    ) -> Option<StdDuration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Arc<Entry>,
        _: Instant,
        _: Option<StdDuration>,
    ) -> Option<StdDuration> {
        Some(entry.ttl)
    }
}

impl MemoryStore {
    /// A store holding up to [`DEFAULT_CAPACITY`] sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding up to `capacity` sessions (at least one); beyond it the
    /// least recently used session is evicted, and its next save is `Gone`.
    pub fn with_capacity(capacity: u64) -> Self {
        let cache = Cache::builder()
            .name("sessionkit")
            .max_capacity(capacity.max(1))
            // LRU, not moka's default TinyLFU: TinyLFU may refuse a new entry
            // in favour of frequently read ones, which would drop a session
            // the moment it is created.
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(SessionExpiry)
            .build();
        Self { cache }
    }

    /// How many sessions the store holds, including expired ones not yet
    /// reclaimed. Approximate while writes are in flight.
    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// The most sessions the store holds before it evicts.
    pub fn capacity(&self) -> u64 {
        self.cache
            .policy()
            .max_capacity()
            .unwrap_or(DEFAULT_CAPACITY)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    // Counts only: the keys are credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.cache.entry_count())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// `create` found only taken keys: the random source is broken.
#[derive(Debug, thiserror::Error)]
#[error("no free session key after {CREATE_ATTEMPTS} attempts")]
struct NoFreeKey;

#[async_trait]
impl SessionStore for MemoryStore {
    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        Ok(self
            .cache
            .get(key)
            .filter(|entry| entry.is_live(now))
            .map(|entry| Loaded {
                record: Record::new((*entry.data).clone(), entry.expires_at),
                version: entry.version(),
            }))
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let data = Arc::new(record.data.clone());
        for _ in 0..CREATE_ATTEMPTS {
            let key = key::generate_key();
            // Insert-if-absent under moka's per-key lock, the same lock saves
            // take: never check-then-insert.
            let result = self
                .cache
                .entry(key.clone())
                .and_compute_with(|current| match current {
                    Some(_) => Op::Nop,
                    None => Op::Put(Arc::new(Entry::new(data.clone(), record.expires_at, now))),
                });
            match result {
                CompResult::Inserted(entry) => return Ok(entry.value().saved(key)),
                _ => {
                    tracing::warn!(session = %key::log_tag(&key), "session key collision; retrying")
                }
            }
        }
        Err(StoreError::Backend(Box::new(NoFreeKey)))
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let mut outcome = SaveOutcome::Gone;
        // Compare and set under moka's per-key lock: no other write to this
        // key runs between the version check and the put.
        self.cache
            .entry(key.to_owned())
            .and_compute_with(|current| match current {
                None => Op::Nop,
                // Expired means gone for good: nothing may revive it, so reclaim it now.
                Some(entry) if !entry.value().is_live(now) => Op::Remove,
                Some(entry) if entry.value().version().as_bytes() != expected.as_bytes() => {
                    outcome = SaveOutcome::Conflict;
                    Op::Nop
                }
                Some(_) => {
                    let entry = Entry::new(Arc::new(record.data.clone()), record.expires_at, now);
                    outcome = SaveOutcome::Saved(entry.saved(key.to_owned()));
                    Op::Put(Arc::new(entry))
                }
            });
        if !matches!(outcome, SaveOutcome::Saved(_)) {
            tracing::debug!(session = %key::log_tag(key), ?outcome, "session not saved");
        }
        Ok(outcome)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.cache.invalidate(key);
        Ok(())
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        // Entries whose moka expiry already passed are gone and not counted;
        // what is left expired by the caller's clock, ahead of moka's.
        let mut removed = 0;
        for (key, entry) in self.cache.iter() {
            if entry.is_live(now) {
                continue;
            }
            // Re-checked under the key's lock: the iterator's copy may be old.
            let result =
                self.cache
                    .entry((*key).clone())
                    .and_compute_with(|current| match current {
                        Some(entry) if !entry.value().is_live(now) => Op::Remove,
                        _ => Op::Nop,
                    });
            if matches!(result, CompResult::Removed(_)) {
                removed += 1;
            }
        }
        self.cache.run_pending_tasks();
        Ok(removed)
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut found = false;
        self.cache
            .entry(key.to_owned())
            .and_compute_with(|current| match current {
                None => Op::Nop,
                Some(entry) if !entry.value().is_live(now) => Op::Remove,
                Some(entry) => {
                    found = true;
                    let old = entry.value();
                    // Same version: a touch must not make a concurrent save stale.
                    let mut touched = Entry::new(old.data.clone(), expires_at, now);
                    touched.version = old.version;
                    Op::Put(Arc::new(touched))
                }
            });
        Ok(found)
    }
}

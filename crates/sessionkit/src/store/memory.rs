//! The in-process engine: sessions in a bounded [moka] cache of this process.
//!
//! It holds the *decoded* record and a counter as its version, so the hot path
//! does no signing, no JSON and no I/O. moka holds one slot per session and
//! does what it is good at — the capacity bound (LRU) and reclaiming expired
//! sessions; the session inside a slot changes in place under the slot's own
//! lock, so a save is a moka read and a short lock, not a moka write (which
//! costs several times more: its per-key insert lock and write log). Sessions live as long as the process:
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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use moka::notification::RemovalCause;
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

/// When a save moves a session's expiry past moka's deadline for its slot,
/// the deadline moves further by this fraction of the session's age, capped
/// at [`MAX_SLACK`]: a session saved on every request then re-arms moka's
/// timer about once an hour, not on every save.
const SLACK_DIVISOR: u32 = 8;
const MAX_SLACK: StdDuration = StdDuration::from_secs(3600);

/// Deadlines are kept as nanoseconds after this instant, so moka's expiry
/// callbacks can read them without a lock; about 290 years fit.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Versions come from one process-wide counter, so a version is never valid
/// for any other record or store than the one that issued it.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

fn next_version() -> u64 {
    NEXT_VERSION.fetch_add(1, Ordering::Relaxed)
}

/// Sessions in an in-process cache. Clones are cheap and share the cache.
#[derive(Clone)]
pub struct MemoryStore {
    cache: Cache<String, Arc<Slot>, foldhash::fast::RandomState>,
}

/// One session's place in the cache.
struct Slot {
    entry: Mutex<Entry>,
    /// When moka may drop the slot (nanoseconds after [`base`]). Outside the
    /// lock: moka's expiry callbacks read it, and they can run inside a save
    /// that holds the lock.
    reclaim_at: AtomicU64,
    /// moka dropped the slot (capacity or expiry): a save that raced with
    /// that must not report success. Atomic for the same reason.
    evicted: AtomicBool,
}

struct Entry {
    data: SessionMap,
    expires_at: OffsetDateTime,
    version: u64,
    /// Deleted (or found expired): never loadable or saved again, even by a
    /// request that fetched the slot before it left the cache.
    removed: bool,
}

impl Entry {
    fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.removed && self.expires_at > now
    }

    fn version(&self) -> Version {
        Version::new(self.version.to_be_bytes())
    }
}

/// How long a session expiring at `expires_at` (seen at `now`) needs its slot.
fn time_to_live(expires_at: OffsetDateTime, now: OffsetDateTime) -> StdDuration {
    // Negative (already expired) becomes zero, leaving only the grace.
    StdDuration::try_from(expires_at - now).unwrap_or(StdDuration::ZERO)
}

/// The instant `ttl` plus the grace from now, or a century away when that
/// does not fit in an `Instant` (a session expiring in year 9999).
fn deadline_after(ttl: StdDuration) -> Instant {
    let now = Instant::now();
    now.checked_add(ttl.saturating_add(RECLAIM_GRACE))
        .or_else(|| now.checked_add(StdDuration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

fn nanos_after_base(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(base()).as_nanos()).unwrap_or(u64::MAX)
}

impl Slot {
    fn new(data: SessionMap, expires_at: OffsetDateTime, now: OffsetDateTime) -> Self {
        let deadline = deadline_after(time_to_live(expires_at, now));
        Self {
            entry: Mutex::new(Entry {
                data,
                expires_at,
                version: next_version(),
                removed: false,
            }),
            reclaim_at: AtomicU64::new(nanos_after_base(deadline)),
            evicted: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entry> {
        // Every change under this lock is a single assignment, so a panic
        // elsewhere cannot leave the entry half-written.
        self.entry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long moka keeps the slot, counted from `at`.
    fn reclaim_after(&self, at: Instant) -> StdDuration {
        let nanos = self.reclaim_at.load(Ordering::Relaxed);
        base()
            .checked_add(StdDuration::from_nanos(nanos))
            .map_or(StdDuration::MAX, |deadline| {
                deadline.saturating_duration_since(at)
            })
    }

    /// Moves moka's deadline when the session now outlives it. Returns
    /// whether moka must be told (by re-inserting the slot).
    fn extend(&self, expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        let ttl = time_to_live(expires_at, now);
        let needed = deadline_after(ttl);
        if nanos_after_base(needed) <= self.reclaim_at.load(Ordering::Relaxed) {
            return false;
        }
        let slack = (ttl / SLACK_DIVISOR).min(MAX_SLACK);
        let deadline = needed.checked_add(slack).unwrap_or(needed);
        self.reclaim_at
            .store(nanos_after_base(deadline), Ordering::Relaxed);
        true
    }
}

/// Reclaims an entry's memory when its session expires.
struct SessionExpiry;

impl Expiry<String, Arc<Slot>> for SessionExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        slot: &Arc<Slot>,
        at: Instant,
    ) -> Option<StdDuration> {
        Some(slot.reclaim_after(at))
    }

    fn expire_after_update(
        &self,
        _: &String,
        slot: &Arc<Slot>,
        at: Instant,
        _: Option<StdDuration>,
    ) -> Option<StdDuration> {
        Some(slot.reclaim_after(at))
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
            // Sized up front (to a point): growing the table while full of
            // churning sessions rehashes it again and again.
            .initial_capacity(usize::try_from(capacity.min(1 << 17)).unwrap_or(1 << 17))
            // LRU, not moka's default TinyLFU: TinyLFU may refuse a new entry
            // in favour of frequently read ones, which would drop a session
            // the moment it is created.
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(SessionExpiry)
            .eviction_listener(|_key, slot: Arc<Slot>, cause| {
                // Replacing a slot with itself (a deadline re-arm) is not an
                // eviction; capacity and expiry are.
                if !matches!(cause, RemovalCause::Replaced) {
                    slot.evicted.store(true, Ordering::Relaxed);
                }
            })
            // A session key is hashed several times per request (lookup,
            // LRU order, eviction), and the whole table again when moka
            // resizes it: SipHash made a third of a new-client request's
            // CPU. foldhash is several times faster and still seeded per
            // process, and only keys we generated are ever inserted.
            .build_with_hasher(foldhash::fast::RandomState::default());
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

    /// Marks `key`'s slot removed under its lock, then drops it from moka.
    /// Returns whether a live session was removed (expired by `now` only, when
    /// given).
    fn remove(&self, key: &str, only_expired_at: Option<OffsetDateTime>) -> bool {
        let Some(slot) = self.cache.get(key) else {
            return false;
        };
        let removed = {
            let mut entry = slot.lock();
            let take = !entry.removed && only_expired_at.is_none_or(|now| entry.expires_at <= now);
            if take {
                entry.removed = true;
            }
            take
        };
        if removed {
            self.cache.invalidate(key);
        }
        removed
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
        let Some(slot) = self.cache.get(key) else {
            return Ok(None);
        };
        let entry = slot.lock();
        if !entry.is_live(now) {
            return Ok(None);
        }
        Ok(Some(Loaded {
            record: Record::new(entry.data.clone(), entry.expires_at),
            version: entry.version(),
        }))
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        for _ in 0..CREATE_ATTEMPTS {
            let key = key::generate_key();
            let slot = Arc::new(Slot::new(record.data.clone(), record.expires_at, now));
            let version = slot.lock().version();
            // Insert-if-absent under moka's per-key lock: never check-then-insert.
            let inserted = self
                .cache
                .entry(key.clone())
                .or_insert_with(|| slot.clone());
            if inserted.is_fresh() {
                return Ok(Saved {
                    cookie_value: key,
                    version,
                });
            }
            tracing::warn!(session = %key::log_tag(&key), "session key collision; retrying");
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
        let Some(slot) = self.cache.get(key) else {
            tracing::debug!(session = %key::log_tag(key), "session not saved: gone");
            return Ok(SaveOutcome::Gone);
        };
        let mut entry = slot.lock();
        if entry.removed || slot.evicted.load(Ordering::Relaxed) {
            return Ok(SaveOutcome::Gone);
        }
        if entry.expires_at <= now {
            // Expired means gone for good: nothing may revive it, so reclaim it now.
            entry.removed = true;
            drop(entry);
            self.cache.invalidate(key);
            return Ok(SaveOutcome::Gone);
        }
        if entry.version().as_bytes() != expected.as_bytes() {
            tracing::debug!(session = %key::log_tag(key), "session not saved: conflict");
            return Ok(SaveOutcome::Conflict);
        }
        // Compare and set under the slot's lock: no other write to this
        // session runs between the version check and the update. `clone_from`
        // reuses the old dict's allocations.
        entry.data.clone_from(&record.data);
        entry.expires_at = record.expires_at;
        entry.version = next_version();
        let version = entry.version();
        if slot.extend(record.expires_at, now) {
            // Still under the lock, so a concurrent delete (which takes it
            // first) cannot have its removal undone by this re-insert.
            self.cache.insert(key.to_owned(), slot.clone());
        }
        Ok(SaveOutcome::Saved(Saved {
            cookie_value: key.to_owned(),
            version,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.remove(key, None);
        Ok(())
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        // Entries whose moka expiry already passed are gone and not counted;
        // what is left expired by the caller's clock, ahead of moka's.
        let expired: Vec<Arc<String>> = self
            .cache
            .iter()
            .filter(|(_, slot)| {
                let entry = slot.lock();
                !entry.removed && entry.expires_at <= now
            })
            .map(|(key, _)| key)
            .collect();
        let mut removed = 0;
        for key in expired {
            // Re-checked under the slot's lock: a save may have extended it.
            if self.remove(&key, Some(now)) {
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
        let Some(slot) = self.cache.get(key) else {
            return Ok(false);
        };
        let mut entry = slot.lock();
        if entry.removed || slot.evicted.load(Ordering::Relaxed) {
            return Ok(false);
        }
        if entry.expires_at <= now {
            entry.removed = true;
            drop(entry);
            self.cache.invalidate(key);
            return Ok(false);
        }
        // Same version: a touch must not make a concurrent save stale.
        entry.expires_at = expires_at;
        if slot.extend(expires_at, now) {
            self.cache.insert(key.to_owned(), slot.clone());
        }
        Ok(true)
    }
}

//! Django's `cached_db` engine: a cache in front of a db store, itself a store.
//!
//! Writes go to the db first (it is authoritative) and then through to the
//! cache; reads try the cache and fall back to the db, filling the cache. A
//! cache failure is logged and never fatal: the db answers instead.
//!
//! **Versions are the db's.** Each cache entry carries the db's version of its
//! record ([`CacheEntry`]), so a hit costs no db round trip and a save from it
//! is still a compare-and-set against the db. A stale entry (another process
//! wrote, or a cache write failed) therefore never loses an update: the save
//! gets `Conflict`, the entry is dropped, and the session layer's reload reads
//! the db and repairs the cache. `Gone` drops the entry too.
//!
//! Within one process, racing cache writes are fenced so an older state never
//! replaces a newer one in the cache, and a key whose entry could not be
//! repaired (the cache failed a write and then the delete) is read from the db
//! until the cache takes a write for it again. What remains: another process
//! sharing the cache can briefly put back an older entry, and one that cannot
//! reach the cache leaves its entries unrepaired; either way a read may see
//! the older session until this process saves it (and conflicts) or the
//! entry gets too old (below). With an in-process cache per process
//! ([`MemoryCache`]), changes made by another process are seen here the same
//! way — use a shared cache when several processes serve one database.
//!
//! **Entries are trusted for a bounded time.** A hit is served without the
//! db only while the entry is younger than [`max_entry_age`]
//! ([`DEFAULT_MAX_ENTRY_AGE`], measured with the `now` the store is given);
//! an older one is a miss: the db is read and the entry refilled or dropped.
//! Caches also keep entries no longer than that. So a session deleted where
//! this process's cache cannot see it — a logout in another process with its
//! own in-process cache, a logout **by Django** (it deletes the row, never
//! this crate's entry), a logout whose cache delete failed — is refused here
//! within `max_entry_age` at most. Zero reads the db on every load.
//!
//! [`max_entry_age`]: CachedDbStore::with_max_entry_age
//!
//! `clear_expired` is the db's (the cache drops entries when their session
//! expires), and so is `accepts`.
//!
//! ```
//! # #[cfg(all(feature = "sqlite", feature = "memory"))] {
//! use std::sync::Arc;
//! use sessionkit::signing::{Codec, Keys, SecretKey};
//! use sessionkit::store::cached_db::{CachedDbStore, MemoryCache};
//! use sessionkit::store::db::DbStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let keys = Keys::new(SecretKey::new("a long random secret shared with Django"), vec![])
//!     .expect("a non-empty secret");
//! let db = DbStore::open("sqlite::memory:").await?.with_codec(Codec::sessions(&keys));
//! let store = CachedDbStore::new(Arc::new(MemoryCache::new()), Arc::new(db));
//! # Ok::<(), sessionkit::error::StoreError>(())
//! # }).unwrap();
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::error::{chain, StoreError};
use crate::key::log_tag;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};

mod cache;
mod coherence;
#[cfg(feature = "memory")]
mod memory;

#[cfg(any(feature = "redis", feature = "memcached"))]
pub(crate) use cache::keep_until;
pub use cache::{CacheEntry, SessionCache};
#[cfg(feature = "memory")]
pub use memory::MemoryCache;

use coherence::{Coherence, Epoch};

/// How long a cache entry is served without asking the db, unless
/// [`CachedDbStore::with_max_entry_age`] says otherwise: the longest a
/// logout this process's cache did not see can take to be seen here.
pub const DEFAULT_MAX_ENTRY_AGE: Duration = Duration::from_secs(30);

/// A cache in front of a db store (Django's `cached_db`). Cheap to clone;
/// clones share the cache, the db and the fences.
#[derive(Clone)]
pub struct CachedDbStore {
    cache: Arc<dyn SessionCache>,
    db: Arc<dyn SessionStore>,
    coherence: Arc<Coherence>,
    max_entry_age: Duration,
}

impl CachedDbStore {
    /// `cache` in front of `db`, both already built. Given to a layer, it
    /// passes the layer's settings on to both ([`SessionStore::attach`]),
    /// so neither needs its keys given here.
    ///
    /// Build one per process and clone it: the fences that keep racing cache
    /// writes in order are shared by clones, not by separate stores.
    pub fn new(cache: Arc<dyn SessionCache>, db: Arc<dyn SessionStore>) -> Self {
        Self {
            cache,
            db,
            coherence: Arc::new(Coherence::new()),
            max_entry_age: DEFAULT_MAX_ENTRY_AGE,
        }
    }

    /// How long a cache entry is served without asking the db, by the `now`
    /// the store is given; an older entry is a miss and is refilled from the
    /// db. This bounds how long a session deleted behind this process's
    /// cache (by another process, by Django) stays usable here. Zero reads
    /// the db on every load and writes nothing to the cache; longer means
    /// fewer db reads and a longer lag.
    #[must_use]
    pub fn with_max_entry_age(mut self, max_entry_age: Duration) -> Self {
        self.max_entry_age = max_entry_age;
        self
    }

    /// How long a cache entry is served without asking the db.
    pub fn max_entry_age(&self) -> Duration {
        self.max_entry_age
    }

    /// Whether the cache is used at all (a zero age never trusts it).
    fn caching(&self) -> bool {
        !self.max_entry_age.is_zero()
    }

    /// Whether an entry cached at `cached_at` may still be served at `now`.
    /// An entry from the future (clocks that disagree) counts its distance
    /// too, so a skewed writer cannot stretch the bound.
    fn is_fresh(&self, cached_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        (now - cached_at).unsigned_abs() < self.max_entry_age
    }

    /// Writes what the db just said about `key` to the cache; `epoch` was
    /// read before that db call. If anything changed the key meanwhile, the
    /// entry may be older than that change and is dropped again.
    async fn fill(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        epoch: Epoch,
        now: OffsetDateTime,
    ) {
        if !self.caching() {
            return;
        }
        if record.expires_at <= now {
            return self.evict(key).await;
        }
        match self
            .cache
            .set(key, record, db_version, now, self.max_entry_age)
            .await
        {
            Ok(()) if self.coherence.settle(key, epoch) => {}
            Ok(()) => self.evict(key).await,
            Err(e) => {
                tracing::warn!(
                    session = %log_tag(key),
                    error = %chain(&e),
                    "session cache write failed; the db still has the session"
                );
                self.evict(key).await;
            }
        }
    }

    /// Writes a record the db just took to the cache. `epoch` was read before
    /// the db write: if another change of the key came in between, nobody
    /// knows which is newer, so the entry is dropped instead.
    async fn write_through(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        epoch: Epoch,
        now: OffsetDateTime,
    ) {
        let mine = self.coherence.advance(key);
        if mine.follows(epoch) {
            self.fill(key, record, db_version, mine, now).await;
        } else {
            self.evict(key).await;
        }
    }

    /// The db changed `key` in a way the cache cannot follow (deleted, saved
    /// elsewhere, touched): fence racing fills, then drop the entry.
    async fn invalidate(&self, key: &str) {
        self.coherence.advance(key);
        self.evict(key).await;
    }

    /// Drops the entry for `key`. If the cache fails, the entry may be stale
    /// and the key is read from the db until a later cache write succeeds.
    async fn evict(&self, key: &str) {
        let epoch = self.coherence.epoch(key);
        match self.cache.delete(key).await {
            Ok(()) => {
                // Gone from the cache: nothing there can be stale. Trusted
                // again unless something distrusted it meanwhile.
                self.coherence.settle(key, epoch);
            }
            Err(e) => {
                let remembered = self.coherence.distrust(key);
                tracing::warn!(
                    session = %log_tag(key),
                    error = %chain(&e),
                    "session cache could not drop a stale entry; reading this session from the db"
                );
                if !remembered {
                    tracing::error!(
                        session = %log_tag(key),
                        limit = coherence::UNTRUSTED_CAP,
                        "too many sessions with unrepaired cache entries: this one may be served stale until it is saved or expires"
                    );
                }
            }
        }
    }
}

impl fmt::Debug for CachedDbStore {
    // The inner stores' Debug shows no keys; neither does the count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedDbStore")
            .field("cache", &self.cache)
            .field("db", &self.db)
            .field("untrusted", &self.coherence.untrusted_count())
            .field("max_entry_age", &self.max_entry_age)
            .finish()
    }
}

#[async_trait]
impl SessionStore for CachedDbStore {
    fn engine_name(&self) -> &'static str {
        "cached_db"
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        self.db.accepts(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        // Whether the cache holds an entry the db may disagree with. Not
        // assumed when the cache fails to answer: a key nobody issued must
        // not take a place among the untrusted ones.
        let mut doubtful = !self.coherence.is_trusted(key);
        if !doubtful && self.caching() {
            match self.cache.get(key, now).await {
                Ok(Some(entry))
                    if entry.record.expires_at > now && self.is_fresh(entry.cached_at, now) =>
                {
                    return Ok(Some(Loaded {
                        record: entry.record,
                        version: entry.db_version,
                    }));
                }
                Ok(None) => {}
                // Expired by the caller's clock but kept by the cache's, or
                // too old to vouch that the row is still there (it may have
                // been deleted where this cache could not see): the db
                // decides, and the entry is refreshed or dropped below.
                Ok(Some(_)) => doubtful = true,
                Err(e) => tracing::warn!(
                    session = %log_tag(key),
                    error = %chain(&e),
                    "session cache read failed; reading the db"
                ),
            }
        }
        let epoch = self.coherence.epoch(key);
        let loaded = self.db.load(key, now).await?;
        match &loaded {
            Some(l) => {
                self.fill(key, &l.record, &l.version, epoch, now).await;
            }
            None if doubtful => self.evict(key).await,
            None => {}
        }
        Ok(loaded)
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let saved = self.db.create(record, now).await?;
        let key = &saved.cookie_value;
        // A fresh key: nothing can have raced it yet.
        let epoch = self.coherence.epoch(key);
        self.write_through(key, record, &saved.version, epoch, now)
            .await;
        Ok(saved)
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let epoch = self.coherence.epoch(key);
        // On a db error the cache keeps what it had: if the db did write
        // after all, that entry's version is stale and its next save conflicts.
        let outcome = self.db.save(key, record, expected, now).await?;
        match &outcome {
            SaveOutcome::Saved(saved) => {
                self.write_through(key, record, &saved.version, epoch, now)
                    .await;
            }
            // The entry (if any) is stale or dead: drop it, so the session
            // layer's reload after a conflict reads the db and refills it.
            SaveOutcome::Conflict | SaveOutcome::Gone => self.invalidate(key).await,
        }
        Ok(outcome)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        // The db first: dropping the entry first would let a racing load
        // refill it from the row about to go. The entry goes even when the
        // db fails: it may have deleted the row and lost the reply, and an
        // entry must never outlive its row (a row still there costs one db
        // read).
        let deleted = self.db.delete(key).await;
        self.invalidate(key).await;
        deleted
    }

    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // The db compares, never the cache: an entry may hold an older
        // version than the row. Whatever it answers, the entry goes, as for
        // `delete` (a refusal means the entry may be stale too).
        let deleted = self.db.delete_if(key, expected, now).await;
        self.invalidate(key).await;
        deleted
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.db.clear_expired(now).await
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let found = self.db.touch(key, expires_at, now).await?;
        // The entry holds the old expiry; the next load refills it from the
        // db (a touch keeps the db's version, so nothing else changes).
        self.invalidate(key).await;
        Ok(found)
    }

    /// Both halves sign Django's format (the db, and a cache that keeps
    /// signed entries): each takes its keys from the layer's settings.
    fn attach(&self, config: &SessionConfig) {
        self.db.attach(config);
        self.cache.attach(config);
    }
}

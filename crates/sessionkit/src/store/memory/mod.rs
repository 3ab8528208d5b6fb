//! The in-process engine: sessions in bounded [moka] caches of this process.
//!
//! It holds the *decoded* record and a counter as its version, so the hot path
//! does no signing, no JSON and no I/O. moka holds one slot per session and
//! does what it is good at — the memory bound (LRU) and reclaiming expired
//! sessions; the session inside a slot changes in place under the slot's own
//! lock, so a save is a moka read and a short lock, not a moka write (which
//! costs several times more: its per-key insert lock and write log).
//!
//! **One process only.** Sessions live in this process's memory: they are
//! not shared with other instances behind a load balancer, and a restart
//! logs everyone out. Use it for one-instance services, tests and
//! development; several instances need a shared engine (db, cache, cached_db).
//!
//! **Bounded in bytes, logged-in sessions apart.** The budget counts an
//! estimate of each session's bytes, not sessions, so large sessions cannot
//! take unbounded memory. Sessions holding `_auth_user_id` live in their own
//! pool with its own budget: a flood of anonymous session creations (any
//! cookieless request that writes the session) evicts only anonymous
//! sessions, never a logged-in user's (Django's CVE-2015-5963 impact class).
//! A session moves between pools when a save adds or removes the user.
//!
//! ```
//! use sessionkit::store::memory::MemoryStore;
//! use sessionkit::store::{Record, SessionMap, SessionStore};
//! use time::{Duration, OffsetDateTime};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // 16 MiB for anonymous sessions, 48 MiB for logged-in ones.
//! let store = MemoryStore::with_budgets(16 << 20, 48 << 20);
//! let now = OffsetDateTime::now_utc();
//! let record = Record::new(SessionMap::new(), now + Duration::weeks(2));
//! let saved = store.create(&record, now).await?;
//! assert!(store.load(&saved.cookie_value, now).await?.is_some());
//! # Ok::<(), sessionkit::error::StoreError>(())
//! # }).unwrap();
//! ```

mod slot;
mod weight;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use time::OffsetDateTime;

use self::slot::{next_version, SessionExpiry, Slot};
use self::weight::weigh;
use crate::auth::SESSION_KEY;
use crate::error::StoreError;
use crate::key;
use crate::store::{engine, Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version};

/// The bytes [`MemoryStore::new`] may hold, split evenly between anonymous
/// and logged-in sessions: about 100k small sessions in each pool.
const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// The least a pool is given, whatever was asked: room for a few dozen small
/// sessions, so a tiny budget still keeps the session it just created.
const MIN_POOL_BYTES: u64 = 16 << 10;

type Pool = Cache<String, Arc<Slot>, foldhash::fast::RandomState>;

/// Sessions in an in-process cache. Clones are cheap and share the cache.
#[derive(Clone)]
pub struct MemoryStore {
    /// Sessions without `_auth_user_id`.
    anonymous: Pool,
    /// Sessions with `_auth_user_id`: out of reach of anonymous floods.
    authenticated: Pool,
}

/// Whether a record belongs in the logged-in pool.
fn is_authenticated(data: &SessionMap) -> bool {
    data.contains_key(SESSION_KEY)
}

/// A pool of `max_bytes` whose eviction listener marks slots it drops,
/// unless the slot has moved to the other pool meanwhile.
fn pool(max_bytes: u64, authenticated: bool) -> Pool {
    Cache::builder()
        .name(if authenticated {
            "sessionkit-authenticated"
        } else {
            "sessionkit-anonymous"
        })
        .max_capacity(max_bytes.max(MIN_POOL_BYTES))
        .weigher(|_key: &String, slot: &Arc<Slot>| {
            slot.weight.load(std::sync::atomic::Ordering::Relaxed)
        })
        // Sized up front (to a point): growing the table while full of
        // churning sessions rehashes it again and again.
        .initial_capacity(usize::try_from((max_bytes / 512).min(1 << 16)).unwrap_or(1 << 16))
        // LRU, not moka's default TinyLFU: TinyLFU may refuse a new entry
        // in favour of frequently read ones, which would drop a session
        // the moment it is created.
        .eviction_policy(EvictionPolicy::lru())
        .expire_after(SessionExpiry)
        .eviction_listener(move |_key, slot: Arc<Slot>, cause| {
            // Only capacity and expiry evict: an explicit removal has marked
            // the slot removed already, and a replacement (a re-arm, a
            // re-weigh) keeps it. A slot that moved to the other pool lives on.
            if matches!(cause, RemovalCause::Size | RemovalCause::Expired)
                && slot.is_authenticated() == authenticated
            {
                slot.evicted
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        })
        // A session key is hashed several times per request (lookup,
        // LRU order, eviction), and the whole table again when moka
        // resizes it: SipHash made a third of a new-client request's
        // CPU. foldhash is several times faster and still seeded per
        // process, and only keys we generated are ever inserted.
        .build_with_hasher(foldhash::fast::RandomState::default())
}

impl MemoryStore {
    /// A store holding up to 64 MiB of sessions, half for
    /// anonymous ones and half for logged-in ones.
    pub fn new() -> Self {
        Self::with_max_bytes(DEFAULT_MAX_BYTES)
    }

    /// A store holding up to about `max_bytes` of sessions, split evenly
    /// between anonymous and logged-in ones.
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        let half = max_bytes / 2;
        Self::with_budgets(half, max_bytes - half)
    }

    /// A store holding up to about `anonymous` bytes of sessions without a
    /// user and `authenticated` bytes of sessions with `_auth_user_id`. In
    /// each pool, beyond its budget, the least recently used session is
    /// evicted (its next save is `Gone`). Sizes are estimates of the decoded
    /// data plus a few hundred bytes of bookkeeping per session; a session
    /// larger than its pool's whole budget is evicted at once. Each pool gets
    /// at least 16 KiB.
    pub fn with_budgets(anonymous: u64, authenticated: u64) -> Self {
        Self {
            anonymous: pool(anonymous, false),
            authenticated: pool(authenticated, true),
        }
    }

    /// How many sessions the store holds, including expired ones not yet
    /// reclaimed. Approximate while writes are in flight.
    pub fn entry_count(&self) -> u64 {
        self.anonymous.run_pending_tasks();
        self.authenticated.run_pending_tasks();
        self.anonymous.entry_count() + self.authenticated.entry_count()
    }

    /// The estimated bytes the sessions take, as counted against the budgets.
    /// Approximate while writes are in flight.
    pub fn weighted_size(&self) -> u64 {
        self.anonymous.run_pending_tasks();
        self.authenticated.run_pending_tasks();
        self.anonymous.weighted_size() + self.authenticated.weighted_size()
    }

    /// The most bytes of sessions the store holds before it evicts, both
    /// pools together.
    fn max_bytes(&self) -> u64 {
        let max = |pool: &Pool| pool.policy().max_capacity().unwrap_or(0);
        max(&self.anonymous).saturating_add(max(&self.authenticated))
    }

    fn pool(&self, authenticated: bool) -> &Pool {
        if authenticated {
            &self.authenticated
        } else {
            &self.anonymous
        }
    }

    /// `key`'s slot, in whichever pool holds it.
    fn find(&self, key: &str) -> Option<Arc<Slot>> {
        // A save moving the slot inserts it into the new pool before taking
        // it out of the old one, so a lookup that missed in both raced with a
        // move out of the pool it looked in second: the first one has it now.
        self.authenticated
            .get(key)
            .or_else(|| self.anonymous.get(key))
            .or_else(|| self.authenticated.get(key))
    }

    /// Marks `key`'s slot removed under its lock, then drops it from its
    /// pool. Returns whether a live session was removed (expired by `now`
    /// only, when given).
    fn remove(&self, key: &str, only_expired_at: Option<OffsetDateTime>) -> bool {
        let Some(slot) = self.find(key) else {
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
            self.drop_removed(key, &slot);
        }
        removed
    }

    /// Puts `record` under `key` if no session holds it; `None` if one does.
    fn insert_new(
        &self,
        key: String,
        record: &Record,
        weight: u32,
        now: OffsetDateTime,
    ) -> Option<Saved> {
        let authenticated = is_authenticated(&record.data);
        // The other pool cannot be locked with this one; a key there is as
        // taken (and with random keys, never there).
        if self.pool(!authenticated).contains_key(&key) {
            return None;
        }
        let slot = Arc::new(Slot::new(
            record.data.clone(),
            record.expires_at,
            now,
            weight,
            authenticated,
        ));
        let version = slot.lock().version();
        // Insert-if-absent under moka's per-key lock: never check-then-insert.
        let inserted = self
            .pool(authenticated)
            .entry(key.clone())
            .or_insert_with(|| slot);
        inserted.is_fresh().then_some(Saved {
            cookie_value: key,
            version,
        })
    }

    /// Takes a slot marked removed out of its pool. A removed slot never
    /// moves again, so its pool is settled without the lock.
    fn drop_removed(&self, key: &str, slot: &Slot) {
        self.pool(slot.is_authenticated()).invalidate(key);
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
            .field("anonymous", &self.anonymous.entry_count())
            .field("authenticated", &self.authenticated.entry_count())
            .field("max_bytes", &self.max_bytes())
            .finish()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn engine_name(&self) -> &'static str {
        "memory"
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        let Some(slot) = self.find(key) else {
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
        let weight = weigh(&record.data);
        engine::with_fresh_key(|key| {
            std::future::ready(Ok(self.insert_new(key, record, weight, now)))
        })
        .await
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let Some(slot) = self.find(key) else {
            tracing::debug!(session = %key::log_tag(key), "session not saved: gone");
            return Ok(SaveOutcome::Gone);
        };
        let mut entry = slot.lock();
        if entry.removed || slot.is_evicted() {
            return Ok(SaveOutcome::Gone);
        }
        if entry.expires_at <= now {
            // Expired means gone for good: nothing may revive it, so reclaim it now.
            entry.removed = true;
            drop(entry);
            self.drop_removed(key, &slot);
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
        let rearm = slot.extend(record.expires_at, now);
        let reweigh = slot.reweigh(weigh(&record.data));
        let was_authenticated = slot.is_authenticated();
        let authenticated = is_authenticated(&record.data);
        // Still under the lock, so a concurrent delete (which takes it first)
        // cannot have its removal undone by these re-inserts.
        if authenticated != was_authenticated {
            // Into the new pool first, then out of the old: `find` relies on
            // that order.
            slot.authenticated
                .store(authenticated, std::sync::atomic::Ordering::Relaxed);
            self.pool(authenticated)
                .insert(key.to_owned(), slot.clone());
            self.pool(was_authenticated).invalidate(key);
            slot.charged_now();
        } else if rearm || reweigh {
            self.pool(authenticated)
                .insert(key.to_owned(), slot.clone());
            slot.charged_now();
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

    /// Compares the version and removes under the slot's lock, so a save
    /// can never land between the two.
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let Some(slot) = self.find(key) else {
            return Ok(true);
        };
        let mut entry = slot.lock();
        if entry.removed || slot.is_evicted() {
            return Ok(true);
        }
        if entry.expires_at > now && entry.version().as_bytes() != expected.as_bytes() {
            return Ok(false);
        }
        // The expected version, or expired (gone either way): remove it.
        entry.removed = true;
        drop(entry);
        self.drop_removed(key, &slot);
        Ok(true)
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        // Entries whose moka expiry already passed are gone and not counted;
        // what is left expired by the caller's clock, ahead of moka's.
        let expired: Vec<Arc<String>> = self
            .anonymous
            .iter()
            .chain(self.authenticated.iter())
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
        self.anonymous.run_pending_tasks();
        self.authenticated.run_pending_tasks();
        Ok(removed)
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let Some(slot) = self.find(key) else {
            return Ok(false);
        };
        let mut entry = slot.lock();
        if entry.removed || slot.is_evicted() {
            return Ok(false);
        }
        if entry.expires_at <= now {
            entry.removed = true;
            drop(entry);
            self.drop_removed(key, &slot);
            return Ok(false);
        }
        // Same version: a touch must not make a concurrent save stale.
        entry.expires_at = expires_at;
        if slot.extend(expires_at, now) {
            self.pool(slot.is_authenticated())
                .insert(key.to_owned(), slot.clone());
            slot.charged_now();
        }
        Ok(true)
    }
}

//! The in-process engine: sessions in bounded pools in this process's memory.
//!
//! It holds the *decoded* record and a counter as its version, so the hot path
//! does no signing, no JSON and no I/O. A pool is a sharded hash set of
//! slots, one per session, under a byte budget (see `pool.rs`); the session
//! inside a slot changes in place under the slot's own lock, so a save is a
//! lookup and a short lock, and a new session one insert.
//!
//! **One process only.** Sessions live in this process's memory: they are
//! not shared with other instances behind a load balancer, and a restart
//! logs everyone out. Use it for one-instance services, tests and
//! development; several instances need a shared engine (db, cache, cached_db).
//!
//! **Bounded in bytes, logged-in sessions apart.** The budget counts an
//! estimate of each session's bytes, not sessions, so large sessions cannot
//! take unbounded memory. Beyond it, sessions are evicted about least
//! recently used first (a CLOCK: oldest first, with one more round for a
//! session used since, never for an expired one). Expired
//! sessions never load; their memory goes when the budget needs room or at
//! [`clear_expired`](SessionStore::clear_expired) (a
//! [sweeper](crate::store::sweeper) runs it on a timer). Sessions holding `_auth_user_id` live in their own
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

mod pool;
mod slot;
mod weight;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use self::pool::{Hashed, Hasher64, Pool};
use self::slot::{next_version, unix_micros, NewSession, Slot};
use self::weight::weigh;
use crate::auth::SESSION_KEY;
use crate::error::StoreError;
use crate::key;
use crate::store::{
    fresh_key, ImmediateStore, Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore,
    Version,
};

/// The bytes [`MemoryStore::new`] may hold, split evenly between anonymous
/// and logged-in sessions: about 100k small sessions in each pool.
const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// The least a pool is given, whatever was asked: room for a few dozen small
/// sessions, so a tiny budget still keeps the session it just created.
const MIN_POOL_BYTES: u64 = 16 << 10;

/// Sessions in an in-process cache. Clones are cheap and share the cache.
#[derive(Clone)]
pub struct MemoryStore {
    pools: Arc<Pools>,
}

struct Pools {
    /// Hashes every key once for both pools.
    hasher: Hasher64,
    /// Sessions without `_auth_user_id`.
    anonymous: Pool,
    /// Sessions with `_auth_user_id`: out of reach of anonymous floods.
    authenticated: Pool,
}

/// Whether a record belongs in the logged-in pool.
fn is_authenticated(data: &SessionMap) -> bool {
    data.contains_key(SESSION_KEY)
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
    /// each pool, beyond its budget, about the least recently used session is
    /// evicted (its next save is `Gone`). Sizes are estimates of the decoded
    /// data plus a few hundred bytes of bookkeeping per session; a session
    /// larger than its share of the pool is evicted at once. Each pool gets
    /// at least 16 KiB.
    pub fn with_budgets(anonymous: u64, authenticated: u64) -> Self {
        Self {
            pools: Arc::new(Pools {
                hasher: Hasher64::default(),
                anonymous: Pool::new(anonymous.max(MIN_POOL_BYTES), false),
                authenticated: Pool::new(authenticated.max(MIN_POOL_BYTES), true),
            }),
        }
    }

    /// How many sessions the store holds, including expired ones not yet
    /// reclaimed.
    pub fn entry_count(&self) -> u64 {
        self.pools.anonymous.len() + self.pools.authenticated.len()
    }

    /// The estimated bytes the sessions take, as counted against the budgets.
    pub fn weighted_size(&self) -> u64 {
        self.pools.anonymous.bytes() + self.pools.authenticated.bytes()
    }

    /// The most bytes of sessions the store holds before it evicts, both
    /// pools together.
    fn max_bytes(&self) -> u64 {
        self.pools
            .anonymous
            .max_bytes()
            .saturating_add(self.pools.authenticated.max_bytes())
    }

    fn pool(&self, authenticated: bool) -> &Pool {
        if authenticated {
            &self.pools.authenticated
        } else {
            &self.pools.anonymous
        }
    }

    /// `key`'s slot, in whichever pool holds it.
    fn find(&self, key: &str) -> Option<Arc<Slot>> {
        // A save moving the slot inserts it into the new pool before taking
        // it out of the old one, so a lookup that missed in both raced with a
        // move out of the pool it looked in second: the first one has it now.
        let pools = &self.pools;
        let key = Hashed::new(&pools.hasher, key);
        pools
            .authenticated
            .get(key)
            .or_else(|| pools.anonymous.get(key))
            .or_else(|| pools.authenticated.get(key))
    }

    /// Marks `key`'s slot removed under its lock, then drops it from its
    /// pool. Returns whether a live session was removed (expired by `now`
    /// only, when given).
    fn remove(&self, key: &str, only_expired_at: Option<OffsetDateTime>) -> bool {
        let Some(slot) = self.find(key) else {
            return false;
        };
        self.remove_slot(&slot, only_expired_at)
    }

    fn remove_slot(&self, slot: &Arc<Slot>, only_expired_at: Option<OffsetDateTime>) -> bool {
        let removed = {
            let mut entry = slot.lock();
            let take =
                !entry.removed && only_expired_at.is_none_or(|now| entry.expires_at() <= now);
            if take {
                entry.remove();
            }
            take
        };
        if removed {
            self.drop_removed(slot);
        }
        removed
    }

    /// Puts `record` under `key` if no session holds it; the key back if
    /// one does.
    fn insert_new(
        &self,
        key: String,
        record: &Record,
        weight: u32,
        now: OffsetDateTime,
    ) -> Result<Saved, String> {
        let authenticated = is_authenticated(&record.data);
        let hashed = Hashed::new(&self.pools.hasher, &key);
        // The other pool cannot be locked with this one; a key there is as
        // taken (and with random keys, never there).
        if self.pool(!authenticated).contains(hashed) {
            return Err(key);
        }
        let version = next_version();
        let new = NewSession {
            key: hashed,
            data: &record.data,
            expires_at: record.expires_at,
            weight,
            authenticated,
            version,
        };
        let make = |spare: Option<Arc<Slot>>| {
            if let Some(mut spare) = spare {
                if let Some(slot) = Arc::get_mut(&mut spare) {
                    slot.renew(&new);
                    return spare;
                }
            }
            Arc::new(Slot::new(&new))
        };
        // Insert-if-absent under the shard's lock: never check-then-insert.
        if !self
            .pool(authenticated)
            .insert_new(hashed, weight, unix_micros(now), make)
        {
            return Err(key);
        }
        Ok(Saved {
            cookie_value: key,
            version: Version::copied(&version.to_be_bytes()),
        })
    }

    /// Takes a slot marked removed out of its pool. A removed slot never
    /// moves again, so its pool is settled without the lock.
    fn drop_removed(&self, slot: &Arc<Slot>) {
        self.pool(slot.is_authenticated()).remove(slot);
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
            .field("anonymous", &self.pools.anonymous.len())
            .field("authenticated", &self.pools.authenticated.len())
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
        self.load_now(key, now)
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.create_now(record, now)
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_now(key, record, expected, now)
    }

    fn immediate(&self) -> Option<&dyn ImmediateStore> {
        Some(self)
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
        if entry.expires_at() > now && entry.version().as_bytes() != expected.as_bytes() {
            return Ok(false);
        }
        // The expected version, or expired (gone either way): remove it.
        entry.remove();
        drop(entry);
        self.drop_removed(&slot);
        Ok(true)
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let at = unix_micros(now);
        let mut removed = 0;
        for pool in [&self.pools.anonymous, &self.pools.authenticated] {
            for slot in pool.expired(at) {
                // Re-checked under the slot's lock: a save may have extended it.
                if self.remove_slot(&slot, Some(now)) {
                    removed += 1;
                }
            }
        }
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
        if entry.expires_at() <= now {
            entry.remove();
            drop(entry);
            self.drop_removed(&slot);
            return Ok(false);
        }
        // Same version: a touch must not make a concurrent save stale.
        slot.set_expiry(&mut entry, expires_at);
        Ok(true)
    }
}

/// Every call is a lock of one shard and of one slot: nothing waits.
impl ImmediateStore for MemoryStore {
    fn load_now(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        let Some(slot) = self.find(key) else {
            return Ok(None);
        };
        let entry = slot.lock();
        if !entry.is_live(now) {
            return Ok(None);
        }
        Ok(Some(Loaded {
            record: Record::new(entry.data.clone(), entry.expires_at()),
            version: entry.version(),
        }))
    }

    fn create_now(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let weight = weigh(&record.data);
        fresh_key::with_fresh_key_now(|key| self.insert_new(key, record, weight, now))
    }

    fn save_now(
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
        if entry.expires_at() <= now {
            // Expired means gone for good: nothing may revive it, so reclaim it now.
            entry.remove();
            drop(entry);
            self.drop_removed(&slot);
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
        slot.set_expiry(&mut entry, record.expires_at);
        entry.version = next_version();
        let version = entry.version();
        let reweigh = slot.reweigh(weigh(&record.data));
        let was_authenticated = slot.is_authenticated();
        let authenticated = is_authenticated(&record.data);
        // Still under the lock, so a concurrent delete (which takes it first)
        // cannot have its removal undone by these moves.
        if authenticated != was_authenticated {
            // Into the new pool first, then out of the old: `find` relies on
            // that order.
            slot.authenticated.store(authenticated, Ordering::Relaxed);
            self.pool(authenticated)
                .insert_moved(&slot, unix_micros(now));
            if !self.pool(was_authenticated).remove(&slot) {
                // The old pool evicted it while it moved: it lives in the new one.
                slot.evicted.store(false, Ordering::Relaxed);
            }
        } else if reweigh {
            self.pool(authenticated).recharge(&slot, unix_micros(now));
        }
        Ok(SaveOutcome::Saved(Saved {
            cookie_value: key.to_owned(),
            version,
        }))
    }
}

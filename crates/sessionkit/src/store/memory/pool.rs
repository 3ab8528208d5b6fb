//! A pool of sessions under one byte budget: a sharded hash set of slots,
//! each shard with its own lock, its own share of the budget and a CLOCK
//! queue (insertion order with a second chance for sessions used since the
//! hand last passed) that picks what to evict.
//!
//! Why not a general cache (moka, as before): every new session is an
//! insert, and a cache's insert path (write log, LRU deques, timer wheel,
//! eviction listener, batched maintenance) made a new client's request cost
//! more than all the rest of it, with maintenance pauses in the tail. Here an
//! insert is a hash-set insert, a queue push and, when the shard is full, a
//! pop or two, all under one short uncontended lock.
//!
//! Lock order: a slot's lock may be held while a shard's is taken, never the
//! reverse, so nothing here locks a slot.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use hashbrown::HashTable;

use super::slot::Slot;

/// Each shard gets at least this much of the budget, so a small pool has few
/// shards and still fits a large session; a large pool gets up to
/// [`MAX_SHARDS`].
const MIN_SHARD_BYTES: u64 = 256 << 10;
const MAX_SHARDS: u64 = 64;

/// The hasher of both pools of a store: a slot's key is hashed once, when
/// the slot is made, and a session moving between pools keeps its hash.
pub(super) type Hasher64 = foldhash::fast::RandomState;

/// A session key with its hash, computed once per store call.
#[derive(Clone, Copy)]
pub(super) struct Hashed<'a> {
    pub(super) key: &'a str,
    pub(super) hash: u64,
}

impl<'a> Hashed<'a> {
    pub(super) fn new(hasher: &Hasher64, key: &'a str) -> Self {
        Self {
            key,
            hash: hasher.hash_one(key),
        }
    }
}

struct Shard {
    /// The slots, found by their stored hash: by key for a lookup, by
    /// identity when the pool lets a slot go, which then reads neither the
    /// key nor a hash of it (an evicted slot is cold in the cache).
    slots: HashTable<Arc<Slot>>,
    /// Every slot the shard took, oldest first, including some it has let go
    /// since (skipped when reached, compacted when they pile up).
    queue: VecDeque<Arc<Slot>>,
    /// The weights charged for the slots in `slots`.
    bytes: u64,
}

impl Shard {
    fn find(&self, key: Hashed<'_>) -> Option<&Arc<Slot>> {
        // An empty set is still probed at the key's place in its (presized,
        // cold) control bytes: the logged-in pool, empty on many sites, is
        // asked about every new key.
        if self.slots.is_empty() {
            return None;
        }
        self.slots.find(key.hash, |held| held.key == key.key)
    }

    /// Whether this very slot (not only its key) is in the shard.
    fn holds(&self, slot: &Arc<Slot>) -> bool {
        self.slots
            .find(slot.hash, |held| Arc::ptr_eq(held, slot))
            .is_some()
    }

    /// Evicts until the shard fits `budget`. Expired slots (by `now`, Unix
    /// µs) go first in queue order; a slot used since the hand last passed
    /// gets one more round, at most once per slot per call, so this ends.
    /// With `spare`, the first evicted slot nobody else holds is kept there
    /// instead of freed, for a new session to reuse.
    fn make_room(
        &mut self,
        budget: u64,
        now: i64,
        authenticated: bool,
        mut spare: Option<&mut Option<Arc<Slot>>>,
    ) {
        let mut chances = self.queue.len();
        while self.bytes > budget {
            let Some(slot) = self.queue.pop_front() else {
                break;
            };
            if !self.holds(&slot) {
                continue;
            }
            if chances > 0
                && !slot.expired_by(now)
                && slot.referenced.swap(false, Ordering::Relaxed)
            {
                chances -= 1;
                self.queue.push_back(slot);
                continue;
            }
            self.take(&slot);
            // A slot that moved to the other pool meanwhile lives on there
            // (the save moving it clears the mark if this raced with it).
            if slot.is_authenticated() == authenticated {
                slot.evicted.store(true, Ordering::Relaxed);
            }
            // Out of the set and the queue, a slot with no other holder can
            // never be reached again: reusable as it is.
            if let Some(spare) = spare.as_mut() {
                if spare.is_none() && Arc::strong_count(&slot) == 1 {
                    **spare = Some(slot);
                }
            }
        }
    }

    /// Drops `slot` from the set and its weight from the total.
    fn take(&mut self, slot: &Arc<Slot>) {
        if let Ok(held) = self
            .slots
            .find_entry(slot.hash, |held| Arc::ptr_eq(held, slot))
        {
            held.remove();
        }
        self.bytes = self
            .bytes
            .saturating_sub(u64::from(slot.charged.load(Ordering::Relaxed)));
        // Slots let go without being popped stay queued; past twice the
        // live ones, the queue is rebuilt.
        if self.queue.len() > 2 * self.slots.len() + 32 {
            let slots = &self.slots;
            self.queue.retain(|queued| {
                slots
                    .find(queued.hash, |held| Arc::ptr_eq(held, queued))
                    .is_some()
            });
        }
    }
}

/// Sessions of one kind (anonymous or logged-in) under one byte budget.
pub(super) struct Pool {
    shards: Box<[Mutex<Shard>]>,
    /// The budget, as asked.
    max_bytes: u64,
    /// Each shard's share of the budget.
    shard_budget: u64,
    /// Which kind of session the pool holds.
    authenticated: bool,
}

impl Pool {
    pub(super) fn new(max_bytes: u64, authenticated: bool) -> Self {
        let wanted = (max_bytes / MIN_SHARD_BYTES).clamp(1, MAX_SHARDS);
        // A power of two, so a shard is picked by a mask.
        let count = 1u64 << wanted.ilog2();
        // Sized for the sessions of a typical few hundred bytes the budget
        // holds (to a point): growing the tables while full of churning
        // sessions rehashes them again and again.
        let per_shard = usize::try_from((max_bytes / 512 / count).min(1 << 14)).unwrap_or(1 << 14);
        let shards = (0..count)
            .map(|_| {
                Mutex::new(Shard {
                    slots: HashTable::with_capacity(per_shard),
                    queue: VecDeque::with_capacity(per_shard),
                    bytes: 0,
                })
            })
            .collect();
        Self {
            shards,
            max_bytes,
            shard_budget: max_bytes / count,
            authenticated,
        }
    }

    /// The most bytes the pool holds before it evicts.
    pub(super) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // Middle bits: the set inside the shard uses the low bits for its
        // bucket and the top seven as each bucket's tag; taking either here
        // would leave its keys alike there (tags alike make every probe
        // compare whole keys).
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        // Every change under a shard's lock keeps the shard consistent at
        // each step, so a poisoned lock is still usable.
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `key`'s slot, marked as used.
    pub(super) fn get(&self, key: Hashed<'_>) -> Option<Arc<Slot>> {
        let slot = self.shard(key.hash).find(key).cloned()?;
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
        Some(slot)
    }

    /// Whether a slot holds `key`.
    pub(super) fn contains(&self, key: Hashed<'_>) -> bool {
        self.shard(key.hash).find(key).is_some()
    }

    /// Puts a new slot for `key`, of `weight`, in the pool unless the key is
    /// taken; returns whether it did. Makes room by `now` (Unix µs) first,
    /// and `make` builds the slot, given one the pool just evicted when no
    /// one else held it: under churn a new session then takes over an old
    /// one's memory (its slot, key and dict allocations) instead of freeing
    /// it and allocating the same again. The new slot itself is evicted only
    /// if it alone is over the shard's budget.
    pub(super) fn insert_new(
        &self,
        key: Hashed<'_>,
        weight: u32,
        now: i64,
        make: impl FnOnce(Option<Arc<Slot>>) -> Arc<Slot>,
    ) -> bool {
        let mut shard = self.shard(key.hash);
        if shard.find(key).is_some() {
            return false;
        }
        let mut spare = None;
        let budget = self.shard_budget.saturating_sub(u64::from(weight));
        shard.make_room(budget, now, self.authenticated, Some(&mut spare));
        let slot = make(spare);
        self.put(&mut shard, &slot, now);
        true
    }

    /// Puts `slot` (moving in from the other pool) in the pool.
    pub(super) fn insert_moved(&self, slot: &Arc<Slot>, now: i64) {
        let mut shard = self.shard(slot.hash);
        if let Some(old) = shard.find(slot.hashed()).cloned() {
            shard.take(&old);
        }
        self.put(&mut shard, slot, now);
    }

    fn put(&self, shard: &mut Shard, slot: &Arc<Slot>, now: i64) {
        let weight = slot.weight.load(Ordering::Relaxed);
        slot.charged.store(weight, Ordering::Relaxed);
        shard.bytes += u64::from(weight);
        shard
            .slots
            .insert_unique(slot.hash, slot.clone(), |held| held.hash);
        shard.queue.push_back(slot.clone());
        shard.make_room(self.shard_budget, now, self.authenticated, None);
    }

    /// Takes `slot` out of the pool; returns whether the pool held it.
    pub(super) fn remove(&self, slot: &Arc<Slot>) -> bool {
        let mut shard = self.shard(slot.hash);
        let held = shard.holds(slot);
        if held {
            shard.take(slot);
        }
        held
    }

    /// Charges `slot`'s current weight instead of the one it was charged
    /// for, making room by `now` (Unix µs) if it grew.
    pub(super) fn recharge(&self, slot: &Arc<Slot>, now: i64) {
        let mut shard = self.shard(slot.hash);
        if !shard.holds(slot) {
            return;
        }
        let weight = slot.weight.load(Ordering::Relaxed);
        let charged = slot.charged.swap(weight, Ordering::Relaxed);
        shard.bytes = shard.bytes.saturating_sub(u64::from(charged)) + u64::from(weight);
        shard.make_room(self.shard_budget, now, self.authenticated, None);
    }

    /// The slots whose session expired by `now` (Unix µs), by the copy of
    /// the expiry each slot keeps outside its lock.
    pub(super) fn expired(&self, now: i64) -> Vec<Arc<Slot>> {
        let mut found = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            found.extend(
                shard
                    .slots
                    .iter()
                    .filter(|held| held.expired_by(now))
                    .cloned(),
            );
        }
        found
    }

    /// How many sessions the pool holds, expired ones not yet reclaimed
    /// included.
    pub(super) fn len(&self) -> u64 {
        self.fold(|shard| shard.slots.len() as u64)
    }

    /// The weights charged for the sessions the pool holds.
    pub(super) fn bytes(&self) -> u64 {
        self.fold(|shard| shard.bytes)
    }

    fn fold(&self, count: impl Fn(&Shard) -> u64) -> u64 {
        self.shards
            .iter()
            .map(|shard| count(&shard.lock().unwrap_or_else(|e| e.into_inner())))
            .sum()
    }
}

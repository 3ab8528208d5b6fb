//! One session's place in a pool: the record under its own lock, and what
//! moka's callbacks read without that lock (deadline, weight, pool, eviction).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration as StdDuration, Instant};

use moka::Expiry;
use time::OffsetDateTime;

use crate::store::{SessionMap, Version};

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

pub(super) fn next_version() -> u64 {
    NEXT_VERSION.fetch_add(1, Ordering::Relaxed)
}

/// One session's place in the cache.
pub(super) struct Slot {
    entry: Mutex<Entry>,
    /// When moka may drop the slot (nanoseconds after [`base`]). Outside the
    /// lock: moka's expiry callbacks read it, and they can run inside a save
    /// that holds the lock.
    reclaim_at: AtomicU64,
    /// The size estimate of the current record, which moka's weigher reads
    /// whenever the slot is (re-)inserted.
    pub(super) weight: AtomicU32,
    /// The weight moka last charged for the slot.
    pub(super) charged: AtomicU32,
    /// Which pool holds the slot: the record has `_auth_user_id`. Changed
    /// only under the lock; read by the pools' eviction listeners.
    pub(super) authenticated: AtomicBool,
    /// The slot's pool dropped it (capacity or expiry): a save that raced
    /// with that must not report success. Atomic for the same reason.
    pub(super) evicted: AtomicBool,
}

pub(super) struct Entry {
    pub(super) data: SessionMap,
    pub(super) expires_at: OffsetDateTime,
    pub(super) version: u64,
    /// Deleted (or found expired): never loadable or saved again, even by a
    /// request that fetched the slot before it left the cache.
    pub(super) removed: bool,
}

impl Entry {
    pub(super) fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.removed && self.expires_at > now
    }

    pub(super) fn version(&self) -> Version {
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
    pub(super) fn new(
        data: SessionMap,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        weight: u32,
        authenticated: bool,
    ) -> Self {
        let deadline = deadline_after(time_to_live(expires_at, now));
        Self {
            entry: Mutex::new(Entry {
                data,
                expires_at,
                version: next_version(),
                removed: false,
            }),
            reclaim_at: AtomicU64::new(nanos_after_base(deadline)),
            weight: AtomicU32::new(weight),
            charged: AtomicU32::new(weight),
            authenticated: AtomicBool::new(authenticated),
            evicted: AtomicBool::new(false),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Entry> {
        // Every change under this lock is a single assignment, so a panic
        // elsewhere cannot leave the entry half-written.
        self.entry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }

    pub(super) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
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
    pub(super) fn extend(&self, expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
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

    /// Records `weight` as the record's size; returns whether it drifted so
    /// far from what moka charged that moka must be told (by re-inserting the
    /// slot). A session growing a little on every save then re-weighs only
    /// at each quarter of growth, not on every save.
    pub(super) fn reweigh(&self, weight: u32) -> bool {
        self.weight.store(weight, Ordering::Relaxed);
        let charged = self.charged.load(Ordering::Relaxed);
        weight.abs_diff(charged) > charged / 4 + 512
    }

    /// moka was just told the current weight (the slot was re-inserted).
    pub(super) fn charged_now(&self) {
        self.charged
            .store(self.weight.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Reclaims an entry's memory when its session expires.
pub(super) struct SessionExpiry;

impl Expiry<String, std::sync::Arc<Slot>> for SessionExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        slot: &std::sync::Arc<Slot>,
        at: Instant,
    ) -> Option<StdDuration> {
        Some(slot.reclaim_after(at))
    }

    fn expire_after_update(
        &self,
        _: &String,
        slot: &std::sync::Arc<Slot>,
        at: Instant,
        _: Option<StdDuration>,
    ) -> Option<StdDuration> {
        Some(slot.reclaim_after(at))
    }
}

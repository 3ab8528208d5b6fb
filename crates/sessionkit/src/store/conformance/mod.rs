//! The conformance suite every [`SessionStore`] passes: plain async functions
//! that exercise the store contract and panic (with a message saying what broke)
//! when a store breaks it.
//!
//! Every engine of sessionkit runs it against its real server, and so can a
//! third-party store: enable the `conformance` feature in `[dev-dependencies]`
//! and call [`run_all`] from a test, with the [`Capabilities`] the engine has.
//! The default capabilities are the whole contract; an engine opts out only of
//! what it cannot do, so a forgotten flag fails loudly instead of skipping tests.
//!
//! ```
//! # #[cfg(feature = "memory")] {
//! use sessionkit::store::conformance::{self, Capabilities};
//! use sessionkit::store::memory::MemoryStore;
//! use time::macros::datetime;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // In a test of your store: `#[tokio::test] async fn conformance() { … }`.
//! let store = MemoryStore::new();
//! // A fixed, realistic `now`. A store whose server expires entries by itself
//! // (a TTL in Redis or Memcached) passes `OffsetDateTime::now_utc()` instead.
//! let now = datetime!(2026-03-01 12:34:56.789012 UTC);
//! // The in-process engine keeps expired entries until `clear_expired` (or a
//! // full budget) reclaims them, so every capability holds.
//! let caps = Capabilities::new();
//! conformance::run_all(&store, caps, now).await;
//! # });
//! # }
//! ```
//!
//! Each function can also be called on its own. They clean up the records they
//! create, but some count what the whole store holds ([`clear_expired`]), so run
//! them against a store that no other test writes to at the same time: its own
//! table, key prefix, directory or database.
//!
//! What the suite pins down where the contract could be read two ways:
//! - a record is live while `expires_at > now`, strictly (Django's
//!   `expire_date > now`); at `expires_at == now` it is gone;
//! - creating an already expired record succeeds and is never loadable;
//! - loading or touching an unknown key never creates a record;
//! - a save onto a deleted or never-created key is [`Gone`](super::SaveOutcome::Gone);
//!   onto an expired one `Gone`, or `Conflict` when a following load finds
//!   nothing (see [`expired_records`]); never `Saved`;
//! - [`touch`](super::SessionStore::touch) keeps the version: a save with a
//!   version loaded before the touch still succeeds, so a touch never breaks a
//!   concurrent compare-and-set (and that save's `expires_at` wins);
//! - whether `clear_expired(now)` removes a record whose `expires_at == now` is
//!   left to the engine (Django's db engine deletes `expire_date < now`).

mod basics;
mod cas;
mod expiry;
mod util;

pub use basics::rejects_foreign_values;
pub use basics::{debug_hides_keys, expiry_to_the_microsecond, hostile_keys_reach_nothing};
pub use basics::{round_trip, session_keys};
pub use cas::unknown_key;
pub use cas::{compare_and_set, concurrent_increments, delete, delete_if, racing_saves};
pub use expiry::{clear_expired, clear_expired_keeps_live, expired_records};
pub use expiry::{touch, touch_moves_expiry};

use time::OffsetDateTime;

use super::SessionStore;

/// Where engines legitimately differ. [`Capabilities::default`] is the whole
/// contract of a server-side store; turn off only what an engine cannot do.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The store keeps a server copy addressed by a random key (every engine
    /// but signed cookies, whose cookie value is the session itself). Off, the
    /// suite skips key, compare-and-set, delete, expiry and touch tests.
    pub server_side: bool,
    /// `clear_expired` returns the number of expired records it removed. Off
    /// where entries also expire by themselves (a Redis or Memcached TTL), so
    /// there may be nothing left to count.
    pub clear_expired_counts: bool,
    /// A load returns `expires_at` exactly as written, to the microsecond (as
    /// Django's `expire_date` column keeps it). Off where the expiry is only
    /// known approximately (a TTL in milliseconds, a file's mtime).
    pub exact_expiry: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            server_side: true,
            clear_expired_counts: true,
            exact_expiry: true,
        }
    }
}

impl Capabilities {
    /// The whole contract, as [`Default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`server_side`](Self::server_side).
    pub fn server_side(mut self, yes: bool) -> Self {
        self.server_side = yes;
        self
    }

    /// Sets [`clear_expired_counts`](Self::clear_expired_counts).
    pub fn clear_expired_counts(mut self, yes: bool) -> Self {
        self.clear_expired_counts = yes;
        self
    }

    /// Sets [`exact_expiry`](Self::exact_expiry).
    pub fn exact_expiry(mut self, yes: bool) -> Self {
        self.exact_expiry = yes;
        self
    }
}

/// Runs every test that applies to a store with these capabilities, one after
/// another. `now` is passed to the store as the current time; records the
/// suite creates expire relative to it.
pub async fn run_all(store: &dyn SessionStore, caps: Capabilities, now: OffsetDateTime) {
    round_trip(store, now).await;
    rejects_foreign_values(store, now).await;
    debug_hides_keys(store, now).await;
    if caps.exact_expiry {
        expiry_to_the_microsecond(store, now).await;
    }
    if !caps.server_side {
        return;
    }
    session_keys(store, now).await;
    hostile_keys_reach_nothing(store, now).await;
    unknown_key(store, now).await;
    compare_and_set(store, now).await;
    delete(store, now).await;
    delete_if(store, now).await;
    expired_records(store, now).await;
    if caps.clear_expired_counts {
        clear_expired(store, now).await;
    } else {
        clear_expired_keeps_live(store, now).await;
    }
    touch(store, now).await;
    if caps.exact_expiry {
        touch_moves_expiry(store, now).await;
    }
    racing_saves(store, now).await;
    concurrent_increments(store, now).await;
}

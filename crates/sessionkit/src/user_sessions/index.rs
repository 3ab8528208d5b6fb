//! The contract of an index backend: where the per-user list of sessions is
//! kept (a side table, Redis, process memory).

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::error::StoreError;

use super::IndexEntry;

/// How long an entry outlives the expiry it recorded. Last-seen (and with it
/// the recorded expiry) is written about once a minute, so a session whose
/// expiry rolls forward on every request can be a minute ahead of its entry;
/// the entry must not vanish first (for signed cookies a missing entry means
/// a revoked session).
pub(crate) const EXPIRY_GRACE: Duration = Duration::minutes(5);

/// Where the per-user index of sessions lives.
///
/// Every method is one or a few round trips; none is called on a request
/// unless an index is configured. `now` is passed in (the layer's clock) and
/// an entry whose `expires_at + 5 minutes` is before `now` counts as gone:
/// the grace covers a session whose expiry rolled on since its entry was
/// last written. Backends that expire entries themselves (Redis TTLs) set
/// their TTL to the same point.
#[async_trait]
pub trait SessionIndex: Send + Sync + std::fmt::Debug + 'static {
    /// Writes `entry`, replacing one with the same user and id.
    async fn put(&self, entry: &IndexEntry) -> Result<(), StoreError>;

    /// The live entry `id` of `user_id`.
    async fn get(
        &self,
        user_id: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IndexEntry>, StoreError>;

    /// Every live entry of `user_id`, in no particular order.
    async fn list(&self, user_id: &str, now: OffsetDateTime)
        -> Result<Vec<IndexEntry>, StoreError>;

    /// Moves `last_seen` and `expires_at` of an existing entry; returns
    /// whether there was one. Never creates an entry (a revoked session's
    /// last request must not bring it back).
    async fn seen(
        &self,
        user_id: &str,
        id: &str,
        last_seen: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Removes entry `id` of `user_id`; a missing one is not an error.
    async fn remove(&self, user_id: &str, id: &str) -> Result<(), StoreError>;

    /// Removes every entry gone at `now`; returns how many went. Backends
    /// whose server expires entries itself return 0.
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Whether an entry that expires at `expires_at` still counts at `now`.
pub(crate) fn live(expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    expires_at + EXPIRY_GRACE > now
}

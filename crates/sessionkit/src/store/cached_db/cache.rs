//! What a [`CachedDbStore`](super::CachedDbStore) needs from its cache: Django's
//! `cache.get`, `cache.set` and `cache.delete`, by session key.
//!
//! This is a trait of its own, not [`SessionStore`](crate::store::SessionStore):
//! a session engine never writes under a key it did not issue (its `save` is a
//! compare-and-set that never recreates a deleted session), while a cache in
//! front of the db must be able to fill any key the db knows.
//!
//! Entries carry the time they were written, and the store, not the cache,
//! decides how long one is trusted without asking the db (its
//! `max_entry_age`). A cache only has to keep an entry no longer than that on
//! its own clock, so stale entries do not pile up.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::store::{Record, Version};

/// What the cache keeps for one session: the record, and the **db's**
/// version of it, so a cache hit can be saved with compare-and-set against
/// the db without asking the db first.
#[derive(Clone, PartialEq)]
pub struct CacheEntry {
    /// The session as the db had it when the entry was written.
    pub record: Record,
    /// The db's version of that record (never the cache's own).
    pub db_version: Version,
    /// When the entry was written, by the writer's clock (the `now` given to
    /// [`SessionCache::set`]): how old the db's answer behind it is.
    pub cached_at: OffsetDateTime,
}

impl fmt::Debug for CacheEntry {
    // Session data can hold credentials: show its size, never its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheEntry")
            .field("keys", &self.record.data.len())
            .field("expires_at", &self.record.expires_at)
            .field("db_version", &self.db_version)
            .field("cached_at", &self.cached_at)
            .finish()
    }
}

/// A cache that can sit in front of the db in a
/// [`CachedDbStore`](super::CachedDbStore).
///
/// Keys given to it have passed the db store's
/// [`accepts`](crate::store::SessionStore::accepts). Errors are never fatal to
/// the caller: the db answers instead. Time is passed in, as for stores.
#[async_trait]
pub trait SessionCache: Send + Sync + fmt::Debug + 'static {
    /// The entry for `key`, or `None` when there is none or its record
    /// expired at `now` (`expires_at <= now`). Its age is the caller's to
    /// judge (by [`CacheEntry::cached_at`]).
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError>;

    /// Keeps `record` and its db version under `key`, stamped as cached at
    /// `now`, replacing whatever is there, until the record expires or
    /// `max_age` has passed, whichever comes first (a cache with a clock of
    /// its own, such as a server's TTL, may keep it a little longer: the
    /// caller refuses an entry older than `max_age` anyway).
    async fn set(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        now: OffsetDateTime,
        max_age: Duration,
    ) -> Result<(), StoreError>;

    /// Removes the entry for `key`; removing a missing entry is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Called once by the session layer, through the
    /// [`CachedDbStore`](super::CachedDbStore) in front of it, with its
    /// settings: a cache that signs what it keeps (Django's format) takes
    /// its keys here, as stores do ([`SessionStore::attach`](crate::store::SessionStore::attach)).
    /// Caches that need nothing ignore it (the default).
    fn attach(&self, config: &SessionConfig) {
        let _ = config;
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: SessionCache + ?Sized> SessionCache for Arc<T> {
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError> {
        (**self).get(key, now).await
    }
    async fn set(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        now: OffsetDateTime,
        max_age: Duration,
    ) -> Result<(), StoreError> {
        (**self).set(key, record, db_version, now, max_age).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
    fn attach(&self, config: &SessionConfig) {
        (**self).attach(config)
    }
}

/// Until when an entry cached at `now` for a record expiring at `expires_at`
/// is worth keeping: the earlier of its expiry and `now + max_age` (a
/// `max_age` too large to add is no cap).
#[cfg(any(test, feature = "memory", feature = "redis", feature = "memcached"))]
pub(crate) fn keep_until(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    max_age: Duration,
) -> OffsetDateTime {
    time::Duration::try_from(max_age)
        .ok()
        .and_then(|age| now.checked_add(age))
        .map_or(expires_at, |cap| cap.min(expires_at))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn entries_are_kept_until_the_earlier_of_expiry_and_max_age() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        let expires = now + time::Duration::hours(1);
        let thirty = Duration::from_secs(30);
        assert_eq!(keep_until(expires, now, thirty), now + thirty);
        assert_eq!(keep_until(expires, now, Duration::ZERO), now);
        let soon = now + time::Duration::seconds(5);
        assert_eq!(keep_until(soon, now, thirty), soon);
        assert_eq!(keep_until(expires, now, Duration::MAX), expires);
    }
}

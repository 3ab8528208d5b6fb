//! What a [`CachedDbStore`](super::CachedDbStore) needs from its cache: Django's
//! `cache.get`, `cache.set` and `cache.delete`, by session key.
//!
//! This is a trait of its own, not [`SessionStore`](crate::store::SessionStore):
//! a session engine never writes under a key it did not issue (its `save` is a
//! compare-and-set that never recreates a deleted session), while a cache in
//! front of the db must be able to fill any key the db knows.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

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
}

impl fmt::Debug for CacheEntry {
    // Session data can hold credentials: show its size, never its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheEntry")
            .field("keys", &self.record.data.len())
            .field("expires_at", &self.record.expires_at)
            .field("db_version", &self.db_version)
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
    /// expired at `now` (`expires_at <= now`).
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError>;

    /// Keeps `record` and its db version under `key`, replacing whatever is
    /// there, until the record expires.
    async fn set(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Removes the entry for `key`; removing a missing entry is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
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
    ) -> Result<(), StoreError> {
        (**self).set(key, record, db_version, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
}

//! Memcached as the shared cache of a
//! [`CachedDbStore`](crate::store::cached_db::CachedDbStore): every process in
//! front of one database reads the same entries, so a logout or a save in
//! one is seen by the others at once. A logout this cache never hears of
//! (Django deletes the row, not this entry) is seen once the entry is older
//! than the store's `max_entry_age`, and memcached drops the entry by then.
//!
//! # Entries
//!
//! One memcached entry per session under
//! `<prefix>django.contrib.sessions.cached_db<session key>` (Django's logical
//! key of its `cached_db` engine), beside the `cache` engine's
//! `…sessions.cache<key>` entries without ever colliding with them (a session
//! key has no `_`). The value extends the engine's
//! `<expires_at>:<signed session>`:
//!
//! ```text
//! <expires_at in Unix µs>:<cached at, Unix µs>:<db version, URL-safe base64 without padding>:<signed session>
//! ```
//!
//! The session is signed the Django way with the store's codec, as the engine
//! writes it; the db's version bytes are opaque (any bytes), hence base64,
//! whose alphabet has no `:`. "Cached at" is when the entry was written, by
//! the writer's clock (how old the db's answer is; the store judges it).
//!
//! The TTL follows the engine's rules, counted to the session's expiry or
//! the end of the entry's `max_age`, whichever comes first: whole seconds
//! left, rounded up, plus one; beyond 30 days an absolute Unix time on the
//! real clock; none past 2038 (the expiry in the value still ends it); a
//! record already expired is deleted, never written. `get` compares the
//! expiry with the caller's `now` itself. Like the engine, this needs
//! memcached 1.6 or later with CAS enabled.
//!
//! # Deletes hold off writes
//!
//! Processes write to the shared cache after their db calls, and a write can
//! land late: a process that saved the session just before another logged
//! it out (or saved it again after a conflict) may write its older record
//! after the other's delete. So a delete leaves a **tombstone** (the value
//! `sessionkit:tombstone`) for a short hold-off ([`DEFAULT_HOLD_OFF`], see
//! [`MemcachedCache::with_hold_off`]; memcached counts it in whole seconds,
//! rounded up, plus one): it reads as a miss, and a set that finds it is
//! dropped. A set therefore reads the entry first and writes with `add` (no
//! entry) or `cas` (the entry it read), so a delete between the two is never
//! overwritten. A logged-out session then never comes back through a late
//! write, and after a conflict no racing process leaves its older record
//! behind; the db answers for that session until the hold-off ends. What
//! remains is the plain race of two sets with no delete between them (a
//! write delayed past another process's whole load and save): the entry
//! may be older than the db until the next save of the session conflicts
//! and drops it.
//!
//! # Trust
//!
//! An entry whose data does not verify (tampered, signed with a key this
//! process does not hold) or that cannot be read at all is a miss: it is
//! logged (by the session key's log tag only) and deleted (buried) if it is
//! still the same entry, and the db answers. The signature covers the data, as in the
//! engine's own entries; the expiry and the version ride beside it. A wrong
//! version is harmless (the db's compare-and-set refuses it, and the reload
//! repairs the entry).
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn demo(db: sessionkit::store::db::DbStore, config: sessionkit::SessionConfig) -> Result<(), sessionkit::error::StoreError> {
//! use std::sync::Arc;
//! use sessionkit::store::cached_db::CachedDbStore;
//! use sessionkit::store::memcached::{MemcachedCache, MemcachedOptions};
//!
//! let memcached = MemcachedOptions::new()
//!     .prefix("myapp:")
//!     .open("memcache://127.0.0.1:11211")
//!     .await?
//!     .with_codec(config.codec());
//! let store = CachedDbStore::new(Arc::new(MemcachedCache::new(memcached)?), Arc::new(db));
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::commands::{Mode, Reply};
use super::entry;
use super::error::Unexpected;
use super::options::{MAX_KEY_BYTES, MAX_SESSION_KEY_BYTES};
use super::{MemcachedStore, ENGINE};
use crate::error::StoreError;
use crate::key;
use crate::store::cache_entry::{
    self, server_key, Stored, DEFAULT_HOLD_OFF, DJANGO_CACHED_DB_KEY_PREFIX,
};
use crate::store::cached_db::{CacheEntry, SessionCache};
use crate::store::{Record, Version};

/// The longest store prefix a [`MemcachedCache`] takes: its key space is a
/// little longer than the engine's, so this is a little less than
/// [`MAX_PREFIX_BYTES`](super::MAX_PREFIX_BYTES).
pub const MAX_CACHE_PREFIX_BYTES: usize =
    MAX_KEY_BYTES - DJANGO_CACHED_DB_KEY_PREFIX.len() - MAX_SESSION_KEY_BYTES;

/// What a deleted entry holds during the hold-off. Never a readable entry:
/// it has no `<expiry>:` in front.
const TOMBSTONE: &[u8] = b"sessionkit:tombstone";

/// How many times a set reads the entry again after another writer changed
/// it between its read and its write, before it buries the entry instead.
const SET_ATTEMPTS: usize = 4;

/// A [`MemcachedStore`]'s connection pool, signing keys and prefix used as the cache
/// of a [`CachedDbStore`](crate::store::cached_db::CachedDbStore). Cheap to
/// clone.
///
/// The store may go on serving as a session engine at the same time: the
/// cache's entries live under keys of their own.
#[derive(Clone)]
pub struct MemcachedCache {
    store: MemcachedStore,
    /// Memcached's exptime of a tombstone, in seconds (at least 1).
    tombstone_exptime: i64,
}

/// A key that is not a session key of this crate's form: it could break a
/// memcached command line or its 250-byte limit, so it is never sent.
#[derive(Debug, thiserror::Error)]
#[error("the session key cannot be a memcached cache key (expected [a-z0-9]{{8,40}})")]
struct UnfitKey;

impl MemcachedCache {
    /// Caches through `store`'s pool, signing with its keys, under its
    /// prefix, with the [`DEFAULT_HOLD_OFF`].
    ///
    /// # Errors
    /// [`StoreError::Config`] when the store's prefix is longer than
    /// [`MAX_CACHE_PREFIX_BYTES`]: the cache's keys would not fit
    /// memcached's 250 bytes.
    pub fn new(store: MemcachedStore) -> Result<Self, StoreError> {
        if store.prefix().len() > MAX_CACHE_PREFIX_BYTES {
            return Err(StoreError::Config(format!(
                "memcached key prefix is {} bytes; as a cached_db cache at most {MAX_CACHE_PREFIX_BYTES} fit memcached's 250-byte keys",
                store.prefix().len()
            )));
        }
        Ok(Self {
            store,
            tombstone_exptime: tombstone_exptime(DEFAULT_HOLD_OFF),
        })
    }

    /// How long a delete keeps later sets of the key out (see the module
    /// docs), rounded up to whole seconds, plus one. It must outlast the time
    /// a process may take between a db call and the cache write that follows
    /// it; longer only means more db reads for a session after a logout or a
    /// conflict.
    #[must_use]
    pub fn with_hold_off(mut self, hold_off: Duration) -> Self {
        self.tombstone_exptime = tombstone_exptime(hold_off);
        self
    }

    /// The memcached key of a session's cache entry:
    /// `<prefix>django.contrib.sessions.cached_db<key>`.
    fn memcached_key(&self, session_key: &str) -> String {
        server_key(
            self.store.prefix(),
            DJANGO_CACHED_DB_KEY_PREFIX,
            session_key,
        )
    }

    /// An entry that cannot be trusted: logged, buried unless it changed
    /// since it was read (then someone wrote a new one), and a miss.
    async fn refuse(
        &self,
        key: &str,
        full_key: &str,
        cas: u64,
        why: &'static str,
    ) -> Result<Option<CacheEntry>, StoreError> {
        cache_entry::distrust(ENGINE, key, why);
        let reply = self
            .store
            .server
            .set(full_key, TOMBSTONE, self.tombstone_exptime, Mode::Cas(cas))
            .await?;
        match reply {
            Reply::Done { .. } | Reply::Exists | Reply::NotFound => Ok(None),
            other => Err(unexpected("ms (cache tombstone)", &other)),
        }
    }

    /// Writes `bytes` unless a tombstone is there, never over a change made
    /// since the entry was read.
    async fn write(&self, key: &str, bytes: &[u8], exptime: i64) -> Result<(), StoreError> {
        let full_key = self.memcached_key(key);
        for _ in 0..SET_ATTEMPTS {
            let mode = match self.store.server.get(&full_key).await? {
                // Deleted a moment ago: the db answers until it goes.
                Some(item) if item.value == TOMBSTONE => return Ok(()),
                Some(item) => Mode::Cas(item.cas),
                None => Mode::Add,
            };
            match self
                .store
                .server
                .set(&full_key, bytes, exptime, mode)
                .await?
            {
                Reply::Done { .. } => return Ok(()),
                // Another writer came in between: look again.
                Reply::Exists | Reply::NotFound | Reply::NotStored => {}
                Reply::TooLarge => return Err(self.store.too_large(bytes.len())),
            }
        }
        // Still racing: nobody knows whose record is the newest, so none
        // stays.
        self.delete(key).await
    }
}

/// Memcached's exptime for a tombstone that must last `hold_off`: whole
/// seconds rounded up, plus one (memcached's clock ticks once a second),
/// within what it takes as relative seconds.
fn tombstone_exptime(hold_off: Duration) -> i64 {
    let secs = hold_off
        .as_secs()
        .saturating_add(u64::from(hold_off.subsec_nanos() > 0));
    i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .saturating_add(1)
        .min(entry::MAX_RELATIVE_TTL)
}

impl fmt::Debug for MemcachedCache {
    // No keys, data or secrets, as the store's own Debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedCache")
            .field("store", &self.store)
            .field("tombstone_exptime", &self.tombstone_exptime)
            .finish()
    }
}

fn unexpected(command: &'static str, reply: &Reply) -> StoreError {
    StoreError::Backend(Box::new(Unexpected {
        command,
        reply: format!("{reply:?}"),
    }))
}

/// The bytes stored for an entry: `db_version` is already base64.
fn encode(
    expires_at: OffsetDateTime,
    cached_at: OffsetDateTime,
    db_version: &str,
    signed: &str,
) -> Vec<u8> {
    let mut rest = String::with_capacity(db_version.len() + 1 + signed.len());
    rest.push_str(db_version);
    rest.push(':');
    rest.push_str(signed);
    // The cache time has the expiry's form, so the engine's framing nests.
    entry::encode(expires_at, &entry::encode(cached_at, rest.as_bytes()))
}

/// An entry's parts as stored, or what makes it unreadable.
fn parse(value: &[u8]) -> Result<Stored<'_>, &'static str> {
    let outer = entry::parse(value);
    let expires_at = outer.expires_at.ok_or("unreadable expiry")?;
    let inner = entry::parse(outer.signed);
    // An entry without one (written before entries had an age) is refused
    // too: how old it is cannot be told.
    let cached_at = inner.expires_at.ok_or("unreadable cache time")?;
    let colon = inner
        .signed
        .iter()
        .position(|&b| b == b':')
        .ok_or("no db version")?;
    Ok(Stored {
        expires_at,
        cached_at,
        db_version: &inner.signed[..colon],
        signed: &inner.signed[colon + 1..],
    })
}

#[async_trait]
impl SessionCache for MemcachedCache {
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError> {
        if !key::is_valid_key(key) {
            // `set` never writes one, so there is nothing to find.
            return Ok(None);
        }
        let codec = self.store.codec()?;
        let full_key = self.memcached_key(key);
        let Some(item) = self.store.server.get(&full_key).await? else {
            return Ok(None);
        };
        if item.value == TOMBSTONE {
            return Ok(None);
        }
        let read = parse(&item.value).and_then(|stored| cache_entry::read(codec, &stored, now));
        match read {
            // Expired: memcached drops it at its TTL; until then it is
            // simply not there.
            Ok(entry) => Ok(entry),
            Err(why) => self.refuse(key, &full_key, item.cas, why).await,
        }
    }

    async fn set(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        now: OffsetDateTime,
        max_age: Duration,
    ) -> Result<(), StoreError> {
        if !key::is_valid_key(key) {
            return Err(StoreError::Backend(Box::new(UnfitKey)));
        }
        let fresh = cache_entry::fresh(self.store.codec()?, record, db_version, now, max_age);
        let wall_clock = OffsetDateTime::now_utc().unix_timestamp();
        let exptime = |f: &cache_entry::Fresh| entry::exptime(f.keep_until, now, wall_clock);
        let Some((fresh, exptime)) = fresh.and_then(|f| exptime(&f).map(|e| (f, e))) else {
            // Nothing worth caching: whatever is there is of no use either.
            return self.delete(key).await;
        };
        let bytes = encode(fresh.expires_at, now, &fresh.db_version, &fresh.signed);
        self.write(key, &bytes, exptime).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !key::is_valid_key(key) {
            return Ok(());
        }
        let reply = self
            .store
            .server
            .set(
                &self.memcached_key(key),
                TOMBSTONE,
                self.tombstone_exptime,
                Mode::Set,
            )
            .await?;
        match reply {
            Reply::Done { .. } => Ok(()),
            other => Err(unexpected("ms (cache tombstone)", &other)),
        }
    }

    /// The keys of the layer, through the store in front of the db.
    fn attach(&self, config: &crate::config::SessionConfig) {
        crate::store::SessionStore::attach(&self.store, config);
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const AT: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

    #[test]
    fn entries_round_trip_any_version_text() {
        // The version arrives as base64 (no `:`); the signed part may hold `:`.
        for version in ["", "eyJhIjoxfQ", "AP86CiAN", &"v".repeat(300)] {
            let cached_at = AT - time::Duration::seconds(3);
            let bytes = encode(AT, cached_at, version, "payload:ts:sig");
            let parsed = parse(&bytes).expect("readable");
            assert_eq!(parsed.expires_at, AT);
            assert_eq!(parsed.cached_at, cached_at);
            assert_eq!(parsed.db_version, version.as_bytes());
            assert_eq!(parsed.signed, b"payload:ts:sig");
        }
    }

    #[test]
    fn unreadable_entries_say_why() {
        for (value, why) in [
            (&b"no expiry"[..], "unreadable expiry"),
            (b"1772368496789012:AAAA:signed", "unreadable cache time"),
            (b"1772368496789012:1772368496:nocolon", "no db version"),
        ] {
            assert_eq!(parse(value).err(), Some(why), "{value:?}");
        }
    }

    #[test]
    fn tombstones_last_the_hold_off_in_whole_seconds_plus_one() {
        assert_eq!(tombstone_exptime(DEFAULT_HOLD_OFF), 11);
        assert_eq!(tombstone_exptime(Duration::ZERO), 1);
        assert_eq!(tombstone_exptime(Duration::from_millis(1)), 2);
        assert_eq!(tombstone_exptime(Duration::MAX), entry::MAX_RELATIVE_TTL);
        assert!(
            parse(TOMBSTONE).is_err(),
            "a tombstone must never read as an entry"
        );
    }

    #[test]
    fn the_longest_prefix_still_fits() {
        assert_eq!(MAX_CACHE_PREFIX_BYTES, 177);
        let longest = "p".repeat(MAX_CACHE_PREFIX_BYTES) + DJANGO_CACHED_DB_KEY_PREFIX;
        assert_eq!(longest.len() + MAX_SESSION_KEY_BYTES, MAX_KEY_BYTES);
    }
}

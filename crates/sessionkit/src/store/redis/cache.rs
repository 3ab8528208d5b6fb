//! Redis (one server or a Cluster) as the shared cache of a
//! [`CachedDbStore`](crate::store::cached_db::CachedDbStore): every process in
//! front of one database reads the same entries, so a logout or a save in
//! one is seen by the others at once. A logout this cache never hears of
//! (Django deletes the row, not this entry) is seen once the entry is older
//! than the store's `max_entry_age`, and Redis drops the entry by then.
//!
//! # Entries
//!
//! One Redis hash per session under
//! `<prefix>django.contrib.sessions.cached_db<session key>` (Django's logical
//! key of its `cached_db` engine), beside the `cache` engine's
//! `…sessions.cache<key>` entries without ever colliding with them (a session
//! key has no `_`). Its fields:
//!
//! - `session_data`: the session signed the Django way with the store's
//!   keys, as the engine writes it;
//! - `expire_date`: the exact expiry in Unix microseconds (decimal);
//! - `db_version`: the db's version bytes, URL-safe base64 without padding
//!   (they are opaque and may be any bytes);
//! - `cached_at`: when the entry was written, in Unix microseconds by the
//!   writer's clock (how old the db's answer is).
//!
//! A set replaces the whole hash and its TTL in one script, so a reader never
//! sees half an entry. The TTL follows the engine's rule (the time left in
//! milliseconds, rounded up, plus a second of grace), counted to the
//! session's expiry or the end of the entry's `max_age`, whichever comes
//! first; a record already expired is deleted, never written. `get` compares
//! `expire_date` with the caller's `now` itself; the store judges
//! `cached_at`.
//!
//! # Deletes hold off writes
//!
//! Processes write to the shared cache after their db calls, and a write can
//! land late: a process that saved the session just before another logged
//! it out (or saved it again after a conflict) may write its older record
//! after the other's delete. So a delete leaves a **tombstone** (a hash with
//! only a `tombstone` field) for a short hold-off ([`DEFAULT_HOLD_OFF`],
//! see [`RedisCache::with_hold_off`]): it reads as a miss, and a set that
//! finds it is dropped. A logged-out session then never comes back through a
//! late write, and after a conflict no racing process leaves its older record
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
//! logged (by the session key's log tag only) and deleted, and the db
//! answers. The signature covers the data, as in the engines' own entries;
//! the expiry and the version ride beside it. A wrong version is harmless
//! (the db's compare-and-set refuses it, and the reload repairs the entry).
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn demo(db: sessionkit::store::db::DbStore, config: sessionkit::SessionConfig) -> Result<(), sessionkit::error::StoreError> {
//! use std::sync::Arc;
//! use sessionkit::store::cached_db::CachedDbStore;
//! use sessionkit::store::redis::{RedisCache, RedisOptions};
//!
//! let redis = RedisOptions::new()
//!     .prefix("myapp:")
//!     .open("redis://127.0.0.1:6379/0")
//!     .await?
//!     .with_codec(config.codec());
//! let store = CachedDbStore::new(Arc::new(RedisCache::new(redis)), Arc::new(db));
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use ::redis::{cmd, Value};
use async_trait::async_trait;
use time::OffsetDateTime;

use super::error::{from_redis, is_wrong_type, UnexpectedReply};
use super::script::Lua;
use super::{expiry, reply, RedisStore, DATA_FIELD, ENGINE, EXPIRY_FIELD};
use crate::error::StoreError;
use crate::store::cache_entry::{
    self, server_key, Stored, DEFAULT_HOLD_OFF, DJANGO_CACHED_DB_KEY_PREFIX,
};
use crate::store::cached_db::{CacheEntry, SessionCache};
use crate::store::{Record, Version};

/// The hash field holding the db's version, base64 (also named in the script).
const VERSION_FIELD: &str = "db_version";
/// The hash field holding when the entry was written, Unix µs (also named in
/// the script).
const CACHED_AT_FIELD: &str = "cached_at";
/// The only field of a tombstone (also named in the scripts).
const TOMBSTONE_FIELD: &str = "tombstone";

/// Replaces the entry unless a tombstone holds it off. `ARGV`: signed data,
/// expiry (Unix µs), db version (base64), TTL (ms, > 0), cached at (Unix
/// µs). Returns `1`
/// written, `0` held off. The `DEL` drops fields or a value of another type
/// that may be there, so the hash holds exactly these fields.
static SET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'hash' and redis.call('HEXISTS', KEYS[1], 'tombstone') == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'session_data', ARGV[1], 'expire_date', ARGV[2], 'db_version', ARGV[3], 'cached_at', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
",
    )
});

/// Replaces whatever is under the key by a tombstone. `ARGV`: its TTL (ms,
/// > 0). Returns `1`.
static BURY: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'tombstone', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
",
    )
});

/// A [`RedisStore`]'s connection, signing keys and prefix used as the cache of a
/// [`CachedDbStore`](crate::store::cached_db::CachedDbStore). Cheap to clone.
///
/// The store may go on serving as a session engine at the same time: the
/// cache's entries live under keys of their own.
#[derive(Clone)]
pub struct RedisCache {
    store: RedisStore,
    /// In milliseconds, at least 1.
    hold_off_ms: u64,
}

impl RedisCache {
    /// Caches through `store`'s connection (node or cluster), signing with
    /// its keys, under its prefix, with the [`DEFAULT_HOLD_OFF`].
    pub fn new(store: RedisStore) -> Self {
        Self {
            store,
            hold_off_ms: hold_off_ms(DEFAULT_HOLD_OFF),
        }
    }

    /// How long a delete keeps later sets of the key out (at least a
    /// millisecond; see the module docs). It must outlast the time a process
    /// may take between a db call and the cache write that follows it;
    /// longer only means more db reads for a session after a logout or a
    /// conflict.
    #[must_use]
    pub fn with_hold_off(mut self, hold_off: Duration) -> Self {
        self.hold_off_ms = hold_off_ms(hold_off);
        self
    }

    /// The Redis key of a session's cache entry:
    /// `<prefix>django.contrib.sessions.cached_db<key>`.
    fn redis_key(&self, session_key: &str) -> String {
        server_key(
            self.store.prefix(),
            DJANGO_CACHED_DB_KEY_PREFIX,
            session_key,
        )
    }

    /// An entry that cannot be trusted: logged, deleted, and a miss.
    async fn refuse(&self, key: &str, why: &'static str) -> Result<Option<CacheEntry>, StoreError> {
        cache_entry::distrust(ENGINE, key, why);
        self.delete(key).await?;
        Ok(None)
    }
}

fn hold_off_ms(hold_off: Duration) -> u64 {
    let ms = hold_off.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms)
        .unwrap_or(u64::MAX)
        .clamp(1, i64::MAX as u64 / 4)
}

impl From<RedisStore> for RedisCache {
    fn from(store: RedisStore) -> Self {
        Self::new(store)
    }
}

impl fmt::Debug for RedisCache {
    // No keys, data, secrets or URLs, as the store's own Debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("mode", &self.store.conn.mode())
            .field("prefix", &self.store.prefix)
            .field("hold_off_ms", &self.hold_off_ms)
            .finish_non_exhaustive()
    }
}

/// The five fields as `HMGET` returns them, each `None` when missing: data,
/// expiry, db version, cached at, tombstone.
type Fields = [Option<Vec<u8>>; 5];

fn fields(reply: Value) -> Result<Fields, StoreError> {
    let unexpected = || StoreError::Backend(Box::new(UnexpectedReply { command: "HMGET" }));
    let Value::Array(items) = reply else {
        return Err(unexpected());
    };
    let items = <[Value; 5]>::try_from(items).map_err(|_| unexpected())?;
    let mut out: Fields = [None, None, None, None, None];
    for (slot, item) in out.iter_mut().zip(items) {
        *slot = match item {
            Value::Nil => None,
            Value::BulkString(bytes) => Some(bytes),
            _ => return Err(unexpected()),
        };
    }
    Ok(out)
}

#[async_trait]
impl SessionCache for RedisCache {
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError> {
        let codec = self.store.codec()?;
        let mut hmget = cmd("HMGET");
        hmget
            .arg(self.redis_key(key))
            .arg(DATA_FIELD)
            .arg(EXPIRY_FIELD)
            .arg(VERSION_FIELD)
            .arg(CACHED_AT_FIELD)
            .arg(TOMBSTONE_FIELD);
        let found = match self.store.conn.query(&hmget).await {
            Ok(found) => found,
            Err(e) if is_wrong_type(&e) => return self.refuse(key, "not a hash").await,
            Err(e) => return Err(from_redis(e)),
        };
        let (signed, expire_date, version, cached_at) = match fields(found)? {
            [None, None, None, None, None] | [None, None, None, None, Some(_)] => return Ok(None),
            [Some(signed), Some(expire_date), Some(version), Some(cached_at), None] => {
                (signed, expire_date, version, cached_at)
            }
            // An entry without `cached_at` too: its age is unknown.
            _ => return self.refuse(key, "fields missing").await,
        };
        let Some(expires_at) = expiry::from_micros(&expire_date) else {
            return self.refuse(key, "unreadable expiry").await;
        };
        let Some(cached_at) = expiry::from_micros(&cached_at) else {
            return self.refuse(key, "unreadable cache time").await;
        };
        let stored = Stored {
            expires_at,
            cached_at,
            db_version: &version,
            signed: &signed,
        };
        // An expired entry is a miss: Redis drops it at its TTL.
        match cache_entry::read(codec, &stored, now) {
            Ok(entry) => Ok(entry),
            Err(why) => self.refuse(key, why).await,
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
        let fresh = cache_entry::fresh(self.store.codec()?, record, db_version, now, max_age);
        let ttl_ms = |fresh: &cache_entry::Fresh| expiry::ttl_ms(fresh.keep_until, now);
        let Some((fresh, ttl)) = fresh.and_then(|f| ttl_ms(&f).map(|ttl| (f, ttl))) else {
            // Nothing worth caching: whatever is there is of no use either.
            return self.delete(key).await;
        };
        let expires = expiry::to_micros(fresh.expires_at).to_string();
        let ttl = ttl.to_string();
        let cached_at = expiry::to_micros(now).to_string();
        let written = SET
            .run(
                &self.store.conn,
                self.redis_key(key).as_bytes(),
                &[
                    fresh.signed.as_bytes(),
                    expires.as_bytes(),
                    fresh.db_version.as_bytes(),
                    ttl.as_bytes(),
                    cached_at.as_bytes(),
                ],
            )
            .await
            .map_err(from_redis)?;
        // Held off (`0`) is no failure: the key was deleted a moment ago,
        // and the db answers until the tombstone goes.
        reply::flag(&written, "the cache set script").map(|_| ())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let ttl = self.hold_off_ms.to_string();
        let buried = BURY
            .run(
                &self.store.conn,
                self.redis_key(key).as_bytes(),
                &[ttl.as_bytes()],
            )
            .await
            .map_err(from_redis)?;
        if reply::flag(&buried, "the cache delete script")? {
            Ok(())
        } else {
            Err(StoreError::Backend(Box::new(UnexpectedReply {
                command: "the cache delete script",
            })))
        }
    }

    /// The keys of the layer, through the store in front of the db.
    fn attach(&self, config: &crate::config::SessionConfig) {
        crate::store::SessionStore::attach(&self.store, config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(bytes: &[u8]) -> Value {
        Value::BulkString(bytes.to_vec())
    }

    #[test]
    fn hmget_replies() {
        let all = Value::Array(vec![
            bulk(b"d"),
            bulk(b"1"),
            bulk(b""),
            bulk(b"2"),
            Value::Nil,
        ]);
        assert_eq!(
            fields(all).ok(),
            Some([
                Some(b"d".to_vec()),
                Some(b"1".to_vec()),
                Some(Vec::new()),
                Some(b"2".to_vec()),
                None
            ])
        );
        let none = Value::Array(vec![Value::Nil; 5]);
        assert_eq!(fields(none).ok(), Some([None, None, None, None, None]));
        for odd in [
            Value::Nil,
            Value::Array(vec![bulk(b"d"), bulk(b"1"), bulk(b"v"), bulk(b"2")]),
            Value::Array(vec![
                bulk(b"d"),
                bulk(b"1"),
                bulk(b"v"),
                bulk(b"2"),
                Value::Int(1),
            ]),
        ] {
            assert!(matches!(fields(odd), Err(StoreError::Backend(_))));
        }
    }

    #[test]
    fn hold_offs_are_whole_milliseconds_of_at_least_one() {
        assert_eq!(hold_off_ms(DEFAULT_HOLD_OFF), 10_000);
        assert_eq!(hold_off_ms(Duration::ZERO), 1);
        assert_eq!(hold_off_ms(Duration::from_micros(1_001)), 2);
        assert_eq!(hold_off_ms(Duration::MAX), i64::MAX as u64 / 4);
    }
}

//! The cache engine on Redis: one server, or a Redis Cluster.
//!
//! # Entries
//!
//! Each session is one Redis hash under
//! `<prefix>django.contrib.sessions.cache<session key>` (the prefix is empty
//! unless [`RedisStore::with_prefix`] sets one; the rest is Django's logical
//! cache key), with three fields:
//!
//! - `session_data`: the session **signed the Django way**, exactly the text a
//!   `django_session` row holds (salt `django.contrib.sessions.SessionStore`);
//! - `expire_date`: the session's expiry in Unix microseconds (decimal);
//! - `rev`: the random nonces of the entry's last few writes, which only the
//!   scripts read (see "Re-sent requests" below).
//!
//! These entries are sessionkit's own: Django's cache engine pickles its
//! values and adds `KEY_PREFIX:VERSION:` to its keys, so a Django app does not
//! read them, nor do we read Django's. To share sessions with Django, use the
//! `db` engine (or `cached_db` over it).
//!
//! # Expiry
//!
//! A load compares `expire_date` with the session layer's `now`, strictly (as
//! Django's `expire_date > now`), so expiry follows the layer's clock to the
//! microsecond. The key also gets a TTL of `expires_at - now` (milliseconds,
//! rounded up, plus one second of grace), so Redis drops it by itself and
//! [`clear_expired`](SessionStore::clear_expired) has nothing to do; a record
//! whose expiry has passed is deleted, never written.
//!
//! # Compare-and-set
//!
//! A version is the stored `session_data` text. Creates, saves, touches and
//! compare-and-deletes ([`delete_if`](SessionStore::delete_if)) are Lua
//! scripts, atomic on the server and one round trip each (`EVALSHA`, with
//! `EVAL` when the server has not seen the script yet); a load is one
//! `HMGET`. A save writes only if the key still holds the data it loaded; a
//! touch moves `expire_date` and the TTL without touching `session_data`, so
//! it never makes a concurrent save conflict.
//!
//! # Re-sent requests
//!
//! A client may send a request again when the connection broke before the
//! reply came (a cluster connection does so by itself), and the first copy may
//! have run. Every script is therefore safe to run twice: each create and
//! save carries a random nonce that the entry keeps (a third hash field,
//! `rev`, holding the nonces of its last few writes, which `load` ignores),
//! and a copy that finds its own nonce answers "written" instead of
//! "conflict", so the session layer never applies a change twice. A touch or
//! a compare-and-delete run twice does what it did once. An error that
//! leaves the outcome unknown (the connection lost after the request went
//! out) is [`StoreError::Unavailable`], never a conflict.
//!
//! # As the cache of `cached_db`
//!
//! [`RedisCache`] puts the same server (or cluster) in front of a db store as
//! the shared cache of a [`CachedDbStore`](crate::store::cached_db::CachedDbStore),
//! under keys of its own (`…sessions.cached_db<key>`).
//!
//! # Cluster
//!
//! Every command touches one key, so on a cluster each operation goes to the
//! node owning the session's slot. Do not put a hash tag (`{…}`) in the
//! prefix there: it would send every session to one slot.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sessionkit::error::StoreError> {
//! use sessionkit::signing::{Codec, Keys, SecretKey};
//! use sessionkit::store::redis::RedisStore;
//!
//! let keys = Keys::new(SecretKey::new("a long random secret"), vec![]).expect("a non-empty secret");
//! let codec = Codec::sessions(&keys);
//! let store = RedisStore::new("redis://127.0.0.1:6379/0", codec.clone())
//!     .await?
//!     .with_prefix("myapp:");
//! let cluster = RedisStore::cluster("redis+cluster://10.0.0.1:6379,10.0.0.2:6379", codec).await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use ::redis::aio::ConnectionManager;
use ::redis::cluster_async::ClusterConnection;
use ::redis::cmd;
use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::key;
use crate::signing::Codec;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version};

mod cache;
mod conn;
mod error;
mod expiry;
#[cfg(feature = "fuzzing")]
#[path = "../../fuzzing/redis.rs"]
pub(crate) mod fuzz;
mod reply;
mod script;
mod url;

pub use cache::{RedisCache, DEFAULT_HOLD_OFF, DJANGO_CACHED_DB_KEY_PREFIX};

use conn::Conn;
use error::{from_redis, is_wrong_type, NoFreeKey};
use reply::Cas;

/// Django's logical cache key prefix of its cache session engine
/// (`django.contrib.sessions.cache` + session key).
pub const DJANGO_KEY_PREFIX: &str = "django.contrib.sessions.cache";

/// The hash field holding the signed session (also named in the scripts).
const DATA_FIELD: &str = "session_data";
/// The hash field holding the expiry in Unix µs (also named in the scripts).
const EXPIRY_FIELD: &str = "expire_date";

/// How many fresh keys `create` tries before giving up.
const CREATE_ATTEMPTS: usize = 10;

/// Characters of a write's nonce: 16 of `[a-z0-9]`, about 82 random bits.
const NONCE_LEN: usize = 16;

/// A fresh random nonce for one create or save (see `script::SAVE`).
fn nonce() -> String {
    let mut nonce = key::generate_key();
    nonce.truncate(NONCE_LEN);
    nonce
}

/// Sessions in Redis, signed the Django way, with their exact expiry and a
/// TTL that lets Redis drop them.
///
/// Cheap to clone; clones share the connection, which is multiplexed (no
/// pool needed) and reconnects by itself after an outage.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    codec: Codec,
    prefix: Arc<str>,
}

impl RedisStore {
    /// Connects to `url`: a single server (as [`new`](Self::new)) or, for a
    /// `redis+cluster://` URL, a cluster (as [`cluster`](Self::cluster)).
    pub async fn open(url: &str, codec: Codec) -> Result<Self, StoreError> {
        if url::is_cluster(url) {
            Self::cluster(url, codec).await
        } else {
            Self::new(url, codec).await
        }
    }

    /// Connects to the single server at `url` and waits for the connection.
    ///
    /// URL forms are the redis crate's:
    /// `redis://[user][:password@]host[:port][/db]` and
    /// `unix:///path/to/redis.sock[?db=N]` (`?protocol=resp3` on either);
    /// `rediss://` needs a TLS feature of the redis crate that sessionkit does
    /// not enable, so it is refused. Connecting times out after 2 s, replies
    /// after 3 s; a lost connection is re-opened in the background, so a
    /// request made while the server is down fails within seconds
    /// ([`StoreError::Unavailable`]) and the next ones succeed once it is back.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a URL the client cannot use (a cluster URL
    /// included: see [`cluster`](Self::cluster)); [`StoreError::Unavailable`]
    /// when the server cannot be reached.
    pub async fn new(url: &str, codec: Codec) -> Result<Self, StoreError> {
        if url::is_cluster(url) {
            return Err(StoreError::Config(
                "a redis+cluster:// URL needs RedisStore::cluster or RedisStore::open".to_owned(),
            ));
        }
        Ok(Self::with_conn(Conn::node(url).await?, codec))
    }

    /// Connects to a Redis Cluster through its seed nodes and waits until
    /// the slot map is known.
    ///
    /// The URL is `redis+cluster://[user:password@]host:port,host:port,…`
    /// with optional `/?protocol=resp3`; the credentials and query apply to
    /// every node. Nodes the cluster reports are found by themselves.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a malformed URL; [`StoreError::Unavailable`]
    /// when no seed node can be reached.
    pub async fn cluster(url: &str, codec: Codec) -> Result<Self, StoreError> {
        Ok(Self::with_conn(Conn::cluster(url).await?, codec))
    }

    /// Uses a connection manager the caller built (its own client, TLS,
    /// timeouts and retry settings).
    pub fn from_connection_manager(manager: ConnectionManager, codec: Codec) -> Self {
        Self::with_conn(Conn::Node(manager), codec)
    }

    /// Uses a cluster connection the caller built.
    pub fn from_cluster_connection(connection: ClusterConnection, codec: Codec) -> Self {
        Self::with_conn(Conn::Cluster(connection), codec)
    }

    fn with_conn(conn: Conn, codec: Codec) -> Self {
        Self {
            conn,
            codec,
            prefix: Arc::from(""),
        }
    }

    /// Puts `prefix` in front of every key (e.g. `myapp:`), so several apps
    /// or environments can share one Redis. On a cluster, leave hash tags
    /// (`{…}`) out of it.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// The prefix in front of every key (empty by default).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key of a session: `<prefix>django.contrib.sessions.cache<key>`.
    pub fn redis_key(&self, session_key: &str) -> String {
        let mut out =
            String::with_capacity(self.prefix.len() + DJANGO_KEY_PREFIX.len() + session_key.len());
        out.push_str(&self.prefix);
        out.push_str(DJANGO_KEY_PREFIX);
        out.push_str(session_key);
        out
    }

    /// Decodes a stored `session_data`. A bad signature, a key we do not hold, bad
    /// JSON or bytes that are not text give an empty dict, as Django's
    /// `decode` does ("Session data corrupted"); the key is kept, and the next
    /// save overwrites the data.
    fn decode(&self, key: &str, stored: &[u8], now: OffsetDateTime) -> SessionMap {
        // `expire_date` decides expiry; the signature's age does not.
        let decoded = std::str::from_utf8(stored)
            .ok()
            .and_then(|text| self.codec.decode(text, None, now).ok());
        match decoded {
            Some(decoded) => decoded.data,
            None => {
                tracing::warn!(
                    session = %key::log_tag(key),
                    engine = "redis",
                    "session data corrupted: loading it as an empty session"
                );
                SessionMap::new()
            }
        }
    }
}

impl fmt::Debug for RedisStore {
    // No keys, data, secrets or URLs (which may hold a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("mode", &self.conn.mode())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        let mut hmget = cmd("HMGET");
        hmget
            .arg(self.redis_key(key))
            .arg(DATA_FIELD)
            .arg(EXPIRY_FIELD);
        let found = match self.conn.query(&hmget).await {
            Ok(found) => found,
            Err(e) if is_wrong_type(&e) => {
                // Someone else's value under our key: not a session to adopt,
                // and no reason to fail every request that carries this key.
                tracing::warn!(
                    session = %key::log_tag(key),
                    engine = "redis",
                    "session key holds a value that is not a session entry: ignoring it"
                );
                return Ok(None);
            }
            Err(e) => return Err(from_redis(e)),
        };
        let fields = reply::fields(found)?;
        let Some(stored) = fields.data else {
            return Ok(None);
        };
        let Some(expires_at) = fields.expire_date.as_deref().and_then(expiry::from_micros) else {
            // Without a readable expiry nothing says the session is still
            // valid: fail closed, as the db engine does.
            tracing::warn!(
                session = %key::log_tag(key),
                engine = "redis",
                "session expire_date unreadable: treating the session as expired"
            );
            return Ok(None);
        };
        if expires_at <= now {
            return Ok(None);
        }
        let data = self.decode(key, &stored, now);
        Ok(Some(Loaded {
            record: Record::new(data, expires_at),
            version: Version::new(stored),
        }))
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let data = self.codec.encode(&record.data, now);
        let Some(ttl) = expiry::ttl_ms(record.expires_at, now) else {
            // Already expired: nothing is written, and the key never loads.
            return Ok(Saved {
                cookie_value: key::generate_key(),
                version: Version::new(data),
            });
        };
        let expires = expiry::to_micros(record.expires_at).to_string();
        let ttl = ttl.to_string();
        for _ in 0..CREATE_ATTEMPTS {
            let key = key::generate_key();
            let nonce = nonce();
            let written = script::CREATE
                .run(
                    &self.conn,
                    self.redis_key(&key).as_bytes(),
                    &[
                        data.as_bytes(),
                        expires.as_bytes(),
                        ttl.as_bytes(),
                        nonce.as_bytes(),
                    ],
                )
                .await
                .map_err(from_redis)?;
            if reply::flag(&written, "the create script")? {
                return Ok(Saved {
                    cookie_value: key,
                    version: Version::new(data),
                });
            }
        }
        Err(StoreError::Backend(Box::new(NoFreeKey {
            attempts: CREATE_ATTEMPTS,
        })))
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let data = self.codec.encode(&record.data, now);
        let expires = expiry::to_micros(record.expires_at).to_string();
        // `0` tells the script to delete: an expiry in the past ends the session.
        let ttl = expiry::ttl_ms(record.expires_at, now)
            .unwrap_or(0)
            .to_string();
        let now_us = expiry::to_micros(now).to_string();
        let nonce = nonce();
        let outcome = script::SAVE
            .run(
                &self.conn,
                self.redis_key(key).as_bytes(),
                &[
                    expected.as_bytes(),
                    data.as_bytes(),
                    expires.as_bytes(),
                    ttl.as_bytes(),
                    now_us.as_bytes(),
                    nonce.as_bytes(),
                    script::REVS_KEPT.as_bytes(),
                ],
            )
            .await
            .map_err(from_redis)?;
        Ok(match reply::save(&outcome)? {
            Cas::Written => SaveOutcome::Saved(Saved {
                cookie_value: key.to_owned(),
                version: Version::new(data),
            }),
            Cas::Conflict => SaveOutcome::Conflict,
            Cas::Gone => SaveOutcome::Gone,
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut del = cmd("DEL");
        del.arg(self.redis_key(key));
        let deleted = self.conn.query(&del).await.map_err(from_redis)?;
        reply::count(&deleted, "DEL").map(|_| ())
    }

    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now_us = expiry::to_micros(now).to_string();
        let gone = script::DELETE_IF
            .run(
                &self.conn,
                self.redis_key(key).as_bytes(),
                &[expected.as_bytes(), now_us.as_bytes()],
            )
            .await;
        match gone {
            Ok(gone) => reply::flag(&gone, "the delete-if script"),
            // Not a session entry (see `load`): there is no record to keep.
            Err(e) if is_wrong_type(&e) => Ok(true),
            Err(e) => Err(from_redis(e)),
        }
    }

    async fn clear_expired(&self, _now: OffsetDateTime) -> Result<u64, StoreError> {
        // Redis drops every entry when its TTL runs out; until then an
        // expired entry never loads.
        Ok(0)
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expires = expiry::to_micros(expires_at).to_string();
        // `0` tells the script to delete: an expiry in the past ends the session.
        let ttl = expiry::ttl_ms(expires_at, now).unwrap_or(0).to_string();
        let now_us = expiry::to_micros(now).to_string();
        let found = script::TOUCH
            .run(
                &self.conn,
                self.redis_key(key).as_bytes(),
                &[expires.as_bytes(), ttl.as_bytes(), now_us.as_bytes()],
            )
            .await
            .map_err(from_redis)?;
        reply::flag(&found, "the touch script")
    }
}

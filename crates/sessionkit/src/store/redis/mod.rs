//! The cache engine on Redis: one server, or a Redis Cluster.
//!
//! # Entries
//!
//! Each session is one Redis hash under
//! `<prefix>django.contrib.sessions.cache<session key>` (the prefix is empty
//! unless [`RedisOptions::prefix`] sets one; the rest is Django's logical
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
//! node owning the session's slot. A prefix with a hash tag (`{…}`) would
//! send every session to one slot, so it is refused there.
//!
//! # Signing keys
//!
//! The store signs with the keys of the session layer it is given to (see
//! [`SessionStore::attach`]), so the secret is given once. Used without a
//! layer (a script, a test), give it keys with
//! [`with_codec`](RedisStore::with_codec); without any, every operation
//! answers [`StoreError::Config`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), sessionkit::error::StoreError> {
//! use sessionkit::store::redis::{RedisOptions, RedisStore};
//!
//! let store = RedisStore::open("redis://127.0.0.1:6379/0").await?;
//! let shared = RedisOptions::new()
//!     .prefix("myapp:")
//!     .open("redis+cluster://10.0.0.1:6379,10.0.0.2:6379")
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use crate::error::StoreError;
use crate::key;
use crate::signing::Codec;
use crate::store::cache_entry::{server_key, DJANGO_CACHE_KEY_PREFIX};
use crate::store::engine::SigningKeys;
#[cfg(doc)]
use crate::store::SessionStore;

mod cache;
pub(crate) mod conn;
mod engine;
pub(crate) mod error;
mod expiry;
#[cfg(feature = "fuzzing")]
#[path = "../../fuzzing/redis.rs"]
pub(crate) mod fuzz;
mod options;
mod reply;
mod script;
mod url;

pub use crate::store::cache_entry::DEFAULT_HOLD_OFF;
pub use cache::RedisCache;
pub use conn::RedisConnection;
pub use options::RedisOptions;

use conn::Conn;

/// The hash field holding the signed session (also named in the scripts).
const DATA_FIELD: &str = "session_data";
/// The hash field holding the expiry in Unix µs (also named in the scripts).
const EXPIRY_FIELD: &str = "expire_date";

/// Names the engine in logs and in the missing-keys error.
const ENGINE: &str = "redis";

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
/// pool needed) and reconnects by itself after an outage, and the signing
/// keys.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    keys: Arc<SigningKeys>,
    prefix: Arc<str>,
}

impl RedisStore {
    /// Connects to `url` (one server, or a cluster for `redis+cluster://`)
    /// without a key prefix: [`RedisOptions::open`] with the default
    /// options, which lists the URL forms and the errors.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        RedisOptions::new().open(url).await
    }

    /// Uses a connection the caller built (its own client, TLS, timeouts
    /// and retry settings), without a key prefix: a
    /// [`ConnectionManager`](::redis::aio::ConnectionManager) or a
    /// [`ClusterConnection`](::redis::cluster_async::ClusterConnection).
    /// [`RedisOptions::from_connection`] sets a prefix.
    pub fn from_connection(connection: impl Into<RedisConnection>) -> Self {
        Self {
            conn: connection.into().0,
            keys: Arc::new(SigningKeys::default()),
            prefix: Arc::from(""),
        }
    }

    /// Signs with `codec` (Django's session codec,
    /// [`SessionConfig::codec`](crate::SessionConfig::codec)) instead of the
    /// keys of the layer the store is given to: for use without a layer.
    #[must_use]
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.keys = Arc::new(SigningKeys::given(codec));
        self
    }

    /// The prefix in front of every key (empty by default).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The connection, shared with the session index (`RedisIndex`).
    pub(crate) fn connection(&self) -> &Conn {
        &self.conn
    }

    /// The Redis key of a session: `<prefix>django.contrib.sessions.cache<key>`.
    fn redis_key(&self, session_key: &str) -> String {
        server_key(&self.prefix, DJANGO_CACHE_KEY_PREFIX, session_key)
    }

    /// The signing keys, or the error naming the fix.
    fn codec(&self) -> Result<&Codec, StoreError> {
        self.keys.codec(ENGINE)
    }
}

impl fmt::Debug for RedisStore {
    // No keys, data, secrets or URLs (which may hold a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("mode", &self.conn.mode())
            .field("prefix", &self.prefix)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

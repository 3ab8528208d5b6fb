//! The `cache` engine on Memcached: each session is one memcached entry
//! holding the Django-signed session, with a TTL equal to its expiry.
//!
//! # Not Django's entries
//!
//! Django's cache engine pickles the session dict with Python's `pickle`
//! (spec §7.4), which sessionkit does not read or write. These entries are
//! sessionkit's own: the key is `<prefix>django.contrib.sessions.cache<session
//! key>` (Django's logical key; the default prefix is empty, where Django's
//! cache adds `:1:`, so a Django app on the same server never reads them) and
//! the value is `<expires_at in Unix µs>:<signed session>`, signed exactly as
//! Django's db engine signs (salt `django.contrib.sessions.SessionStore`).
//! Sessions are shared with Django through the `db` engine, not this one.
//!
//! # Expiry
//!
//! The exact expiry rides in the value, so `load` checks `expires_at > now`
//! itself against the session layer's clock; memcached's TTL (whole seconds,
//! rounded up, plus one; as an absolute Unix time beyond 30 days, as
//! memcached requires) only reclaims the entry. A record whose expiry has
//! already passed is deleted, never written. `clear_expired` has nothing to do.
//!
//! # Compare-and-set
//!
//! A version is the entry's CAS unique plus a digest of its signed part. A
//! save is one `cas` (meta `ms … C<unique>`, which also returns the new
//! unique). `touch` rewrites the entry with a new expiry, which moves the
//! unique; so when the unique no longer matches, the save reads the entry
//! again and still goes ahead if its signed part is the one it loaded: a touch
//! never makes a concurrent save fail, as the store contract requires.
//!
//! Needs memcached 1.6 or later (meta commands) with CAS enabled (no `-C`).
//!
//! [`MemcachedCache`] puts the same server in front of a db store as the
//! shared cache of a [`CachedDbStore`](crate::store::cached_db::CachedDbStore),
//! under keys of its own (`…sessions.cached_db<key>`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), sessionkit::error::StoreError> {
//! use sessionkit::signing::{Codec, Keys, SecretKey};
//! use sessionkit::store::memcached::MemcachedStore;
//!
//! let keys = Keys::new(SecretKey::new("a long random secret"), vec![]).expect("a non-empty secret");
//! let store = MemcachedStore::new("memcache://127.0.0.1:11211", Codec::sessions(&keys))
//!     .await?
//!     .with_prefix("myapp:")?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::error::StoreError;
use crate::signing::Codec;

mod cache;
mod commands;
mod engine;
mod entry;
mod error;
#[cfg(feature = "fuzzing")]
#[path = "../../fuzzing/memcached.rs"]
pub(crate) mod fuzz;
mod options;
mod pool;

pub use cache::{
    MemcachedCache, DEFAULT_HOLD_OFF, DJANGO_CACHED_DB_KEY_PREFIX, MAX_CACHE_PREFIX_BYTES,
};
pub use options::{MemcachedOptions, MAX_PREFIX_BYTES};

use commands::Server;
use pool::{ConnectFuture, Pool};

/// How many fresh keys `create` tries before giving up.
const CREATE_ATTEMPTS: usize = 10;
/// How many times a save or touch follows an entry whose unique moved while
/// its session stayed the same (a touch, or a save of identical data) before
/// reporting a conflict.
const UNIQUE_CHASES: usize = 8;
/// The item size limit memcached starts with (`-I 1m`).
const DEFAULT_ITEM_LIMIT: usize = 1024 * 1024;

/// Sessions in Memcached. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct MemcachedStore {
    server: Arc<Server>,
    codec: Codec,
    prefix: Arc<str>,
    /// `host:port`, or `None` for connections the caller opens.
    addr: Option<Arc<str>>,
}

impl MemcachedStore {
    /// Connects to `memcache://host[:port]` (port 11211 by default) with the
    /// default [`MemcachedOptions`], and checks that the server is reachable
    /// and recent enough: [`StoreError::Unavailable`] when it is not reached,
    /// [`StoreError::Config`] for a bad URL or a memcached older than 1.6.
    pub async fn new(url: &str, codec: Codec) -> Result<Self, StoreError> {
        Self::with_options(url, codec, MemcachedOptions::new()).await
    }

    /// [`new`](Self::new) with options (pool size, timeouts).
    pub async fn with_options(
        url: &str,
        codec: Codec,
        options: MemcachedOptions,
    ) -> Result<Self, StoreError> {
        let addr = options::parse_url(url)?;
        let dsn = format!("tcp://{addr}");
        let connect = move || -> ConnectFuture {
            let dsn = dsn.clone();
            Box::pin(async move { async_memcached::Client::new(dsn).await })
        };
        Self::start(Arc::new(connect), codec, options, Some(addr)).await
    }

    /// Opens connections with `connect` instead of a URL: a Unix socket
    /// (`async_memcached::Client::new("unix:///path")`), or a client set up
    /// some other way. It is called for every new connection of the pool,
    /// including the reconnections after an outage, so it must make a new
    /// client each time (a closed `async_memcached::Client` never reopens).
    pub async fn from_connector<F, Fut>(
        connect: F,
        codec: Codec,
        options: MemcachedOptions,
    ) -> Result<Self, StoreError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<async_memcached::Client, async_memcached::Error>>
            + Send
            + 'static,
    {
        let connect = move || -> ConnectFuture { Box::pin(connect()) };
        Self::start(Arc::new(connect), codec, options, None).await
    }

    async fn start(
        connect: pool::Connect,
        codec: Codec,
        options: MemcachedOptions,
        addr: Option<String>,
    ) -> Result<Self, StoreError> {
        let pool = Pool::new(connect, options.max_connections, options.connect_timeout);
        let first = pool.open_one().await?;
        pool.put_back(first);
        let server = Server {
            pool,
            timeout: options.timeout,
        };
        if let Some(version) = server.version().await? {
            check_version(&version)?;
        }
        Ok(Self {
            server: Arc::new(server),
            codec,
            prefix: Arc::from(""),
            addr: addr.map(Arc::from),
        })
    }

    /// Puts `prefix` before every key (empty by default), so several apps
    /// can share one server. [`StoreError::Config`] when it could break a
    /// memcached key: more than [`MAX_PREFIX_BYTES`] bytes, or anything but
    /// printable ASCII without spaces.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let prefix = prefix.into();
        options::check_prefix(&prefix)?;
        self.prefix = Arc::from(prefix);
        Ok(self)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn full_key(&self, key: &str) -> String {
        let mut out =
            String::with_capacity(self.prefix.len() + options::KEY_SPACE.len() + key.len());
        out.push_str(&self.prefix);
        out.push_str(options::KEY_SPACE);
        out.push_str(key);
        out
    }
}

/// Refuses servers without meta commands. A version this cannot read (a
/// proxy's) is let through: the first command will tell.
fn check_version(version: &str) -> Result<(), StoreError> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    if let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) {
        if (major, minor) < (1, 6) {
            return Err(StoreError::Config(format!(
                "memcached {major}.{minor} is too old: the memcached engine needs 1.6 or later (meta commands)"
            )));
        }
    }
    Ok(())
}

impl fmt::Debug for MemcachedStore {
    // No keys, data or secrets: only what identifies the store.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedStore")
            .field(
                "addr",
                &self.addr.as_deref().unwrap_or("(caller's connector)"),
            )
            .field("prefix", &self.prefix)
            .field("max_connections", &self.server.pool.max_connections())
            .field("timeout", &self.server.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["1.6.0", "1.6.18", "1.10.1", "2.0", "unknown", ""] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for old in ["1.5.22", "1.4.39", "0.9"] {
            assert!(
                matches!(check_version(old), Err(StoreError::Config(_))),
                "{old}"
            );
        }
    }
}

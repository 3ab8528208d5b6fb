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
//! # Signing keys
//!
//! The store signs with the keys of the session layer it is given to (see
//! [`SessionStore::attach`]), so the secret is given once. Used without a
//! layer (a script, a test), give it keys with
//! [`with_codec`](MemcachedStore::with_codec); without any, every operation
//! answers [`StoreError::Config`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), sessionkit::error::StoreError> {
//! use sessionkit::store::memcached::{MemcachedOptions, MemcachedStore};
//!
//! let store = MemcachedStore::open("memcache://127.0.0.1:11211").await?;
//! let shared = MemcachedOptions::new()
//!     .prefix("myapp:")
//!     .open("memcache://127.0.0.1:11211")
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::error::StoreError;
use crate::signing::Codec;
use crate::store::cache_entry::{server_key, DJANGO_CACHE_KEY_PREFIX};
use crate::store::engine::SigningKeys;
#[cfg(doc)]
use crate::store::SessionStore;

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

pub use crate::store::cache_entry::DEFAULT_HOLD_OFF;
pub use cache::{MemcachedCache, MAX_CACHE_PREFIX_BYTES};
pub use options::{MemcachedOptions, MAX_PREFIX_BYTES};

use commands::Server;
use pool::Pool;

/// Names the engine in logs and in the missing-keys error.
const ENGINE: &str = "memcached";

/// How many times a save or touch follows an entry whose unique moved while
/// its session stayed the same (a touch, or a save of identical data) before
/// reporting a conflict.
const UNIQUE_CHASES: usize = 8;

/// Sessions in Memcached. Cheap to clone; clones share the connection pool
/// and the signing keys.
#[derive(Clone)]
pub struct MemcachedStore {
    server: Arc<Server>,
    keys: Arc<SigningKeys>,
    prefix: Arc<str>,
    /// The server's item size limit, as reported in `TooLarge`.
    item_limit: usize,
    /// `host:port`, or `None` for connections the caller opens.
    addr: Option<Arc<str>>,
}

impl MemcachedStore {
    /// Connects to `memcache://host[:port]` without a key prefix:
    /// [`MemcachedOptions::open`] with the default options, which says what
    /// is checked and the errors.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        MemcachedOptions::new().open(url).await
    }

    /// Opens every connection with `connect`, with the default options:
    /// [`MemcachedOptions::from_connector`], which says what `connect` must do.
    pub async fn from_connector<F, Fut>(connect: F) -> Result<Self, StoreError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<async_memcached::Client, async_memcached::Error>>
            + Send
            + 'static,
    {
        MemcachedOptions::new().from_connector(connect).await
    }

    async fn start(
        connect: pool::Connect,
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
            keys: Arc::new(SigningKeys::default()),
            prefix: Arc::from(options.prefix),
            item_limit: options.item_limit,
            addr: addr.map(Arc::from),
        })
    }

    /// Signs with `codec` (Django's session codec,
    /// [`SessionConfig::codec`](crate::SessionConfig::codec)) instead of the
    /// keys of the layer the store is given to: for use without a layer.
    #[must_use]
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.keys = Arc::new(SigningKeys::given(codec));
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The memcached key of a session: `<prefix>django.contrib.sessions.cache<key>`.
    fn full_key(&self, key: &str) -> String {
        server_key(&self.prefix, DJANGO_CACHE_KEY_PREFIX, key)
    }

    /// The signing keys, or the error naming the fix.
    fn codec(&self) -> Result<&Codec, StoreError> {
        self.keys.codec(ENGINE)
    }

    /// A server's size refusal of `size` bytes.
    fn too_large(&self, size: usize) -> StoreError {
        StoreError::TooLarge {
            size,
            limit: self.item_limit,
        }
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
            .field("keys", &self.keys)
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

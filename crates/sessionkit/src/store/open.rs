//! Building the store that a [`StoreConfig`] names: what the demo and the CLI
//! use. Libraries usually build their store in code instead.

use std::sync::Arc;

use crate::config::{Engine, SessionConfig, StoreConfig};
use crate::error::StoreError;

use super::SessionStore;

/// Opens the engine `store` names, signing with `session`'s keys.
///
/// | `SESSION_ENGINE` | what it opens |
/// |---|---|
/// | `db` | `SESSION_DB_URL`: `sqlite://`, `postgres://`, `mysql://` (table `SESSION_DB_TABLE`) |
/// | `cache` | `SESSION_CACHE_URL`: `memory://`, `redis://`, `redis+cluster://h:p,h:p`, `memcache://` (key prefix `SESSION_CACHE_KEY_PREFIX`) |
/// | `cached_db` | the `db` engine behind a cache, `SESSION_CACHE_URL`: shared by every process: `redis://`, `redis+cluster://h:p,h:p`, `unix://`, `memcache://` (key prefix `SESSION_CACHE_KEY_PREFIX`), or in-process (`memory://`) only with `SESSION_CACHE_SINGLE_PROCESS=true`; entries served for `SESSION_CACHE_MAX_AGE` seconds without the db |
/// | `file` | `SESSION_FILE_PATH` (default: `<temp dir>/sessionkit-<uid>`, 0700), files named cookie name + key |
/// | `signed_cookies` | no server store: the session is the cookie |
///
/// # Errors
/// [`StoreError::Config`] for an engine or URL this build cannot serve (its
/// cargo feature is off), and the engine's own errors when its server or
/// directory cannot be opened.
pub async fn open(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    match store.engine {
        Engine::Db => open_db(store, session).await,
        Engine::Cache => open_cache(store, session).await,
        Engine::CachedDb => open_cached_db(store, session).await,
        Engine::File => open_file(store, session),
        Engine::SignedCookies => Ok(Arc::new(
            super::signed_cookies::SignedCookieStore::new().with_config(session),
        )),
    }
}

fn scheme(url: &str) -> &str {
    url.split_once(':').map_or("", |(s, _)| s)
}

fn unsupported(variable: &str, scheme: &str, enabled: &[(&str, bool)]) -> StoreError {
    let on: Vec<&str> = enabled
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    StoreError::Config(format!(
        "{variable} scheme {scheme:?} is not supported by this build (enabled: {})",
        if on.is_empty() {
            "none".to_owned()
        } else {
            on.join(", ")
        }
    ))
}

async fn open_db(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    let options = super::db::DbOptions::new().table(store.table.clone());
    let url = store.db_url.as_str();
    match scheme(url) {
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Arc::new(
            super::db::DbStore::sqlite_with(url, session.codec(), options).await?,
        )),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(
            super::db::DbStore::postgres_with(url, session.codec(), options).await?,
        )),
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => Ok(Arc::new(
            super::db::DbStore::mysql_with(url, session.codec(), options).await?,
        )),
        other => {
            let _ = session;
            Err(unsupported(
                "SESSION_DB_URL",
                other,
                &[
                    ("sqlite", cfg!(feature = "sqlite")),
                    ("postgres", cfg!(feature = "postgres")),
                    ("mysql", cfg!(feature = "mysql")),
                ],
            ))
        }
    }
}

async fn open_cache(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    let url = store.cache_url.as_str();
    match scheme(url) {
        #[cfg(feature = "memory")]
        "memory" => Ok(Arc::new(super::memory::MemoryStore::new())),
        #[cfg(feature = "redis")]
        // `rediss` reaches the client, which says TLS is not enabled.
        "redis" | "rediss" | "redis+cluster" | "rediss+cluster" | "unix" => {
            Ok(Arc::new(open_redis(store, session).await?))
        }
        #[cfg(feature = "memcached")]
        "memcache" | "memcached" => Ok(Arc::new(open_memcached(store, session).await?)),
        other => {
            let _ = session;
            Err(unsupported(
                "SESSION_CACHE_URL",
                other,
                &[
                    ("memory", cfg!(feature = "memory")),
                    ("redis", cfg!(feature = "redis")),
                    ("memcached", cfg!(feature = "memcached")),
                ],
            ))
        }
    }
}

async fn open_cached_db(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    use super::cached_db::{CachedDbStore, SessionCache};

    let url = store.cache_url.as_str();
    // Checked before anything is opened. An in-process cache never hears of
    // a logout in another process, and `memory://` is the default URL, so a
    // replicated deployment would get it without asking: it must be chosen.
    // (A max age of zero never serves from the cache: nothing to refuse.)
    let stale_reads = !store.cache_max_age.is_zero();
    if scheme(url) == "memory" && stale_reads && !store.cache_single_process {
        return Err(StoreError::Config(format!(
            "SESSION_ENGINE=cached_db with SESSION_CACHE_URL=memory:// keeps an in-process cache \
             that never sees a logout made by another process (it would go on serving that \
             session for up to SESSION_CACHE_MAX_AGE, {}s): use a cache every process shares \
             (redis://, redis+cluster://, memcache://), or set SESSION_CACHE_SINGLE_PROCESS=true \
             if exactly one process serves this database",
            store.cache_max_age.as_secs()
        )));
    }
    let db = open_db(store, session).await?;
    // The same constructors as the `cache` engine's, so a URL means the same
    // server and prefix in both.
    let cache: Result<Arc<dyn SessionCache>, StoreError> = match scheme(url) {
        #[cfg(feature = "memory")]
        "memory" => Ok(Arc::new(super::cached_db::MemoryCache::new())),
        #[cfg(feature = "redis")]
        "redis" | "rediss" | "redis+cluster" | "rediss+cluster" | "unix" => Ok(Arc::new(
            super::redis::RedisCache::new(open_redis(store, session).await?),
        )),
        #[cfg(feature = "memcached")]
        "memcache" | "memcached" => Ok(Arc::new(super::memcached::MemcachedCache::new(
            open_memcached(store, session).await?,
        )?)),
        other => Err(unsupported(
            "SESSION_CACHE_URL (for cached_db)",
            other,
            &[
                ("memory", cfg!(feature = "memory")),
                ("redis", cfg!(feature = "redis")),
                ("memcached", cfg!(feature = "memcached")),
            ],
        )),
    };
    Ok(Arc::new(
        CachedDbStore::new(cache?, db).with_max_entry_age(store.cache_max_age),
    ))
}

/// The Redis store `SESSION_CACHE_URL` names, with the key prefix and the
/// session keys (a cache of `cached_db` is not handed them by the layer).
#[cfg(feature = "redis")]
async fn open_redis(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<super::redis::RedisStore, StoreError> {
    let opened = super::redis::RedisOptions::new()
        .prefix(store.key_prefix.clone())
        .open(&store.cache_url)
        .await?;
    Ok(opened.with_codec(session.codec()))
}

/// The Memcached store `SESSION_CACHE_URL` names, as [`open_redis`].
#[cfg(feature = "memcached")]
async fn open_memcached(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<super::memcached::MemcachedStore, StoreError> {
    let opened = super::memcached::MemcachedOptions::new()
        .prefix(store.key_prefix.clone())
        .open(&store.cache_url)
        .await?;
    Ok(opened.with_codec(session.codec()))
}

fn open_file(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    #[cfg(feature = "file")]
    {
        use super::file::{FileOptions, FileStore};
        // Unset: a private directory, not the shared temp dir Django uses.
        let dir = match &store.file_path {
            Some(dir) => dir.clone(),
            None => FileStore::default_dir()?,
        };
        // The keys now, not from the layer: the CLI uses the store without one.
        let store = FileOptions::new()
            .prefix(session.cookie_name.clone())
            .cookie_age(session.cookie_age)
            .open(dir)?
            .with_codec(session.codec());
        Ok(Arc::new(store))
    }
    #[cfg(not(feature = "file"))]
    {
        let _ = (store, session);
        Err(StoreError::Config(
            "SESSION_ENGINE=file needs sessionkit's `file` feature".to_owned(),
        ))
    }
}

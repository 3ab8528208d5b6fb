//! sessionkit's visit counter — the demo's handler, opened the demo's way
//! (`store::open` from `SESSION_*` settings), minus its per-request log line.

use std::collections::HashMap;

use axum::routing::get;
use axum::Router;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer, StoreConfig};

use super::{BoxError, BENCH_SECRET};
use crate::variants::Store;

async fn count_visit(session: Session) -> Result<String, SessionError> {
    let visit = session.increment("visit", 1)?;
    Ok(format!("Visit count:{visit}"))
}

/// The `SESSION_*` settings that select `store`.
pub(super) fn settings(store: Store, url: &str) -> Result<HashMap<&'static str, String>, BoxError> {
    let sqlite = || format!("sqlite://{url}/sessionkit.sqlite3");
    let pairs: Vec<(&'static str, String)> = match store {
        Store::Memory => vec![
            ("SESSION_ENGINE", "cache".into()),
            ("SESSION_CACHE_URL", "memory://".into()),
            // The bench serves from one process: the in-process cache is safe.
            ("SESSION_CACHE_SINGLE_PROCESS", "true".into()),
        ],
        Store::SignedCookies => vec![("SESSION_ENGINE", "signed_cookies".into())],
        Store::Sqlite => vec![
            ("SESSION_ENGINE", "db".into()),
            ("SESSION_DB_URL", sqlite()),
        ],
        Store::Postgres | Store::Mysql => vec![
            ("SESSION_ENGINE", "db".into()),
            ("SESSION_DB_URL", url.into()),
        ],
        Store::Redis | Store::Memcached => vec![
            ("SESSION_ENGINE", "cache".into()),
            ("SESSION_CACHE_URL", url.into()),
            ("SESSION_CACHE_KEY_PREFIX", "bench:".into()),
        ],
        Store::File => vec![
            ("SESSION_ENGINE", "file".into()),
            ("SESSION_FILE_PATH", url.into()),
        ],
        Store::CachedDb => vec![
            ("SESSION_ENGINE", "cached_db".into()),
            ("SESSION_DB_URL", sqlite()),
            ("SESSION_CACHE_URL", "memory://".into()),
            // The bench serves from one process: the in-process cache is safe.
            ("SESSION_CACHE_SINGLE_PROCESS", "true".into()),
        ],
        Store::None | Store::WireKey | Store::WireSigned => {
            return Err("sessionkit needs a store".into())
        }
    };
    Ok(pairs.into_iter().collect())
}

pub(super) async fn app(store: Store, url: &str) -> Result<Router, BoxError> {
    let config = SessionConfig::new(BENCH_SECRET)?;
    let settings = settings(store, url)?;
    let store_config = StoreConfig::from_lookup(|k| settings.get(k).cloned())?;
    let store = sessionkit::store::open(&store_config, &config).await?;
    Ok(Router::new()
        .route("/visit/", get(count_visit))
        .layer(SessionLayer::from_arc(store, config)))
}

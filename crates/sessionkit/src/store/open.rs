//! Building the store that a [`StoreConfig`] names: what the demo and the CLI
//! use. Libraries usually build their store in code instead.

use std::sync::Arc;

use crate::config::{Engine, SessionConfig, StoreConfig};
use crate::error::StoreError;

use super::SessionStore;

/// Opens the engine `store` names, signing with `session`'s keys.
///
/// # Errors
/// [`StoreError::Config`] for an engine or URL this build cannot serve (its
/// cargo feature is off, or the engine is not available yet), and the engine's
/// own errors when its server or file cannot be opened.
pub async fn open(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    match store.engine {
        Engine::Db => open_db(store, session).await,
        Engine::Cache => open_cache(store),
        Engine::SignedCookies => Ok(Arc::new(super::signed_cookies::SignedCookieStore::new(session))),
        other => Err(StoreError::Config(format!(
            "SESSION_ENGINE={other} is not available in this version of sessionkit"
        ))),
    }
}

async fn open_db(
    store: &StoreConfig,
    session: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    let scheme = store.db_url.split_once(':').map_or("", |(s, _)| s);
    match scheme {
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let options = super::db::DbOptions::new().table(store.table.clone());
            Ok(Arc::new(
                super::db::DbStore::sqlite_with(&store.db_url, session.codec(), options).await?,
            ))
        }
        _ => {
            let _ = session;
            Err(StoreError::Config(format!(
                "SESSION_DB_URL scheme {scheme:?} is not supported by this build (enabled: {})",
                enabled(&[("sqlite", cfg!(feature = "sqlite"))])
            )))
        }
    }
}

fn open_cache(store: &StoreConfig) -> Result<Arc<dyn SessionStore>, StoreError> {
    let scheme = store.cache_url.split_once(':').map_or("", |(s, _)| s);
    match scheme {
        #[cfg(feature = "memory")]
        "memory" => Ok(Arc::new(super::memory::MemoryStore::new())),
        _ => Err(StoreError::Config(format!(
            "SESSION_CACHE_URL scheme {scheme:?} is not supported by this build (enabled: {})",
            enabled(&[("memory", cfg!(feature = "memory"))])
        ))),
    }
}

fn enabled(features: &[(&str, bool)]) -> String {
    let on: Vec<&str> = features
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    if on.is_empty() {
        "none".to_owned()
    } else {
        on.join(", ")
    }
}

//! Stores for the HTTP tests, built the way an app configured by
//! environment builds them (`store::open`), so the tests do not depend on
//! each engine's constructor.

use std::path::Path;
use std::sync::Arc;

use sessionkit::{SessionConfig, SessionStore, StoreConfig};

/// Opens the engine `SESSION_ENGINE=engine` with the other `vars`.
pub(crate) async fn open(vars: &[(&str, String)], config: &SessionConfig) -> Arc<dyn SessionStore> {
    let store = StoreConfig::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .expect("a valid store config");
    sessionkit::store::open(&store, config)
        .await
        .expect("the store opens")
}

/// A SQLite database engine on the file `path` (created, with its table).
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite(path: &Path, config: &SessionConfig) -> Arc<dyn SessionStore> {
    let url = format!("sqlite://{}", path.display());
    open(
        &[("SESSION_ENGINE", "db".to_owned()), ("SESSION_DB_URL", url)],
        config,
    )
    .await
}

/// The signed-cookies engine, signing with `config`'s keys.
pub(crate) async fn signed_cookies(config: &SessionConfig) -> Arc<dyn SessionStore> {
    open(&[("SESSION_ENGINE", "signed_cookies".to_owned())], config).await
}

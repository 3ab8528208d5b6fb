//! [`SessionLayer`]: one store, one config, shared by every request.

use std::sync::Arc;

use tower_layer::Layer;

use crate::config::SessionConfig;
use crate::session::Shared;
use crate::store::SessionStore;

use super::SessionService;

/// Adds Django-compatible sessions to a service.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::{SessionConfig, SessionLayer, store::memory::MemoryStore};
/// let config = SessionConfig::new("a-long-random-secret-key-of-fifty-or-more-characters-1234")?;
/// let layer = SessionLayer::new(MemoryStore::new(), config);
/// let app: axum::Router = axum::Router::new().layer(layer);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    /// A layer storing sessions in `store`, with Django's settings in `config`.
    pub fn new(store: impl SessionStore, config: SessionConfig) -> Self {
        Self::from_arc(Arc::new(store), config)
    }

    /// The same, for a store already behind an `Arc` (for example one built from
    /// configuration at run time).
    pub fn from_arc(store: Arc<dyn SessionStore>, config: SessionConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new(store, config)),
        }
    }

    /// Records logins in `sessions`, the per-user session index
    /// ([`crate::user_sessions`]). Build both over one store `Arc` (this
    /// type's `from_arc`), so that a revocation deletes from the store the
    /// layer reads; another store is logged as a warning.
    #[must_use]
    pub fn with_user_sessions(self, sessions: crate::user_sessions::UserSessions) -> Self {
        Self {
            shared: Arc::new(self.shared.with_user_sessions(sessions)),
        }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.shared.clone())
    }
}

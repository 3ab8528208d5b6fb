//! The session's side of the per-user session index
//! ([`crate::user_sessions`]): what the index hook may read and change of a
//! request's state, without marking the session accessed. The decisions are
//! the hook's; nothing here runs unless an index is configured.

use std::sync::Arc;

use crate::error::{chain, SessionError};
use crate::store::SessionMap;
use crate::user_sessions::hook::Tracking;
use crate::user_sessions::UserSessions;

use super::state::Stage;
use super::{KeyLocks, Session, Shared};

impl Shared {
    /// The same store and settings, recording logins in `sessions`. The
    /// save locks start afresh: a layer is configured before it serves.
    pub(crate) fn with_user_sessions(&self, sessions: UserSessions) -> Self {
        let same = std::ptr::addr_eq(Arc::as_ptr(&self.store), Arc::as_ptr(&sessions.store));
        if !same {
            // Revocations would delete from a store the layer does not read.
            tracing::warn!("UserSessions was built over another store than the layer's: revocation may not end sessions");
        }
        Self {
            store: self.store.clone(),
            config: self.config.clone(),
            locks: KeyLocks::new(),
            probe: crate::metrics::Probe::new(self.store.engine_name()),
            user_sessions: Some(sessions),
        }
    }
}

impl Session {
    /// The index the layer records logins in, if any.
    pub(crate) fn user_sessions(&self) -> Option<&UserSessions> {
        self.inner.shared.user_sessions.as_ref()
    }

    /// Runs `f` on the key and dict without marking the session accessed
    /// (and without copying them); the key is `None` unless a stored record
    /// is behind it, the dict `None` until loaded.
    pub(crate) fn peek<R>(&self, f: impl FnOnce(Option<&str>, Option<&SessionMap>) -> R) -> R {
        let st = self.state();
        let stored = matches!(st.stage, Stage::Loaded { version: Some(_) });
        f(st.key.as_deref().filter(|_| stored), st.data.as_ref())
    }

    /// Checks a just-loaded session against the index, once per request.
    ///
    /// # Errors
    /// The index failed: answered as a failed load (a store that is down is
    /// not an empty session).
    pub(crate) async fn check_index(&self) -> Result<(), SessionError> {
        if std::mem::replace(&mut self.state().tracking.checked, true) {
            return Ok(());
        }
        crate::user_sessions::hook::loaded(self).await.map_err(|e| {
            tracing::error!(error = %chain(&e), "could not check the session against the session index");
            self.state().load_failed = true;
            SessionError::Load(e)
        })
    }

    /// Runs `f` on the request's index bookkeeping.
    pub(crate) fn tracking<R>(&self, f: impl FnOnce(&mut Tracking) -> R) -> R {
        f(&mut self.state().tracking)
    }

    /// Drops a revoked session that was just loaded: the request goes on
    /// with a fresh empty session, as if the store had found nothing, and
    /// the cookie is deleted when the response goes out.
    pub(crate) fn forget_revoked(&self) {
        let mut st = self.state();
        st.key = None;
        st.data = Some(SessionMap::new());
        st.stage = Stage::Loaded { version: None };
        st.changes.clear();
        st.tracking.loaded = None;
    }
}

//! [`UserSessions`]: the handle an app keeps to list and revoke a user's
//! sessions, and that the session layer records logins through.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use http::HeaderName;
use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, SystemClock};
use crate::error::{chain, StoreError};
use crate::session::Session;
use crate::store::sweeper::{spawn_periodic, SweeperGuard};
use crate::store::SessionStore;

use super::entry::is_public_id;
use super::hook::current_id;
use super::{IndexEntry, SessionIndex, SessionInfo};

/// How often last-seen is written for one session, at most, per process.
pub(crate) const SEEN_EVERY: Duration = Duration::minutes(1);

/// Beyond this many remembered writes, the throttle forgets the old ones.
const SEEN_MEMORY: usize = 100_000;

/// A user's sessions: list them, revoke one, all, or all but the current.
///
/// Built over the session store the layer uses and an index backend
/// ([`MemoryIndex`](super::MemoryIndex), `SqlIndex`, `RedisIndex`), then
/// given to the layer with `SessionLayer::with_user_sessions` (or the actix
/// middleware's) so that logins are recorded. Cheap to clone: keep one in
/// the app's state.
#[derive(Clone)]
pub struct UserSessions {
    pub(crate) index: Arc<dyn SessionIndex>,
    pub(crate) store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    pub(crate) max_per_user: Option<usize>,
    pub(crate) ip_header: Option<HeaderName>,
    /// When this process last wrote last-seen, per public id.
    seen: Arc<Mutex<HashMap<String, OffsetDateTime>>>,
}

impl fmt::Debug for UserSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSessions")
            .field("index", &self.index)
            .field("store", &self.store)
            .field("max_per_user", &self.max_per_user)
            .field("ip_header", &self.ip_header)
            .finish_non_exhaustive()
    }
}

impl UserSessions {
    /// An index of the sessions in `store` (the store the layer is given),
    /// kept in `index`.
    pub fn new(store: Arc<dyn SessionStore>, index: impl SessionIndex) -> Self {
        Self::from_arc(store, Arc::new(index))
    }

    /// The same, for an index already behind an `Arc`.
    pub fn from_arc(store: Arc<dyn SessionStore>, index: Arc<dyn SessionIndex>) -> Self {
        Self {
            index,
            store,
            clock: Arc::new(SystemClock),
            max_per_user: None,
            ip_header: None,
            seen: Arc::default(),
        }
    }

    /// Allows at most `n` sessions per user (at least 1): a login beyond
    /// that revokes the user's sessions least recently seen.
    #[must_use]
    pub fn max_sessions_per_user(mut self, n: usize) -> Self {
        self.max_per_user = Some(n.max(1));
        self
    }

    /// Takes the client IP from this header, set by a proxy you trust (for
    /// example `x-forwarded-for`): its last comma-separated value, the one
    /// the nearest proxy added. Without it the IP is the connection's peer
    /// (actix-web), or a [`ClientIp`](super::ClientIp) request extension.
    #[must_use]
    pub fn client_ip_header(mut self, name: HeaderName) -> Self {
        self.ip_header = Some(name);
        self
    }

    /// Reads "now" from `clock` when listing and revoking (tests); the
    /// layer's own clock decides at request time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The index backend.
    pub fn index(&self) -> &Arc<dyn SessionIndex> {
        &self.index
    }

    /// Whether the store keeps sessions server-side, where a revocation can
    /// delete them. A store with nothing shared to conflict over (signed
    /// cookies) keeps nothing there: its sessions carry an id of their own,
    /// checked against the index on every request.
    pub(crate) fn server_side(&self) -> bool {
        self.store.saves_can_conflict()
    }

    /// The live sessions of `user_id`, most recently seen first.
    ///
    /// # Errors
    /// The index backend's error.
    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionInfo>, StoreError> {
        self.list_marking(user_id, None).await
    }

    /// The live sessions of the user logged in to `session`, most recently
    /// seen first, `current` set on `session`'s own. Empty when nobody is
    /// logged in.
    ///
    /// # Errors
    /// The index backend's error.
    pub async fn list_for(&self, session: &Session) -> Result<Vec<SessionInfo>, StoreError> {
        let Some(user) = crate::auth::auth_user(session) else {
            return Ok(Vec::new());
        };
        let current = current_id(self, session);
        self.list_marking(&user.id, current.as_deref()).await
    }

    async fn list_marking(
        &self,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let mut entries = self.index.list(user_id, self.clock.now()).await?;
        entries.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        Ok(entries
            .into_iter()
            .map(|e| SessionInfo::from_entry(e, current))
            .collect())
    }

    /// The public id of `session` as [`list`](Self::list) shows it, when a
    /// user is logged in to it and it is saved.
    pub fn current_id(&self, session: &Session) -> Option<String> {
        current_id(self, session)
    }

    /// Revokes session `id` of `user_id`: its next request finds no session.
    /// Returns whether there was such a session.
    ///
    /// # Errors
    /// The store's or the index's error; the entry stays, so a retry can
    /// finish the job.
    pub async fn revoke(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        if !is_public_id(id) {
            return Ok(false);
        }
        match self.index.get(user_id, id, self.clock.now()).await? {
            Some(entry) => {
                self.end(&entry).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Revokes every session of `user_id` ("log out everywhere"); returns how
    /// many there were.
    ///
    /// # Errors
    /// The first failure; the sessions not revoked yet stay listed.
    pub async fn revoke_all(&self, user_id: &str) -> Result<usize, StoreError> {
        self.revoke_all_but(user_id, None).await
    }

    /// Revokes every session of the user logged in to `session` except
    /// `session` itself ("log out other devices"); returns how many went.
    ///
    /// # Errors
    /// The first failure; the sessions not revoked yet stay listed.
    pub async fn revoke_others(&self, session: &Session) -> Result<usize, StoreError> {
        let Some(user) = crate::auth::auth_user(session) else {
            return Ok(0);
        };
        let current = current_id(self, session);
        // Not saved yet (no id): every listed session is another one.
        self.revoke_all_but(&user.id, current.as_deref()).await
    }

    async fn revoke_all_but(&self, user_id: &str, keep: Option<&str>) -> Result<usize, StoreError> {
        let entries = self.index.list(user_id, self.clock.now()).await?;
        let mut ended = 0;
        for entry in entries.iter().filter(|e| Some(e.id.as_str()) != keep) {
            self.end(entry).await?;
            ended += 1;
        }
        Ok(ended)
    }

    /// Removes the index entries gone at now; returns how many went (0 for
    /// backends whose server expires them, Redis).
    ///
    /// # Errors
    /// The index backend's error.
    pub async fn clear_expired(&self) -> Result<u64, StoreError> {
        self.index.clear_expired(self.clock.now()).await
    }

    /// Runs [`clear_expired`](Self::clear_expired) every `every` until the
    /// guard is dropped, as the session store's
    /// [`spawn_sweeper`](crate::store::sweeper::spawn_sweeper) does for the
    /// sessions (periods clamped the same way; failures logged and retried).
    /// Not needed for a Redis index, whose keys expire by themselves.
    ///
    /// # Panics
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn spawn_sweeper(&self, every: std::time::Duration) -> SweeperGuard {
        let sessions = self.clone();
        spawn_periodic(every, move || {
            let sessions = sessions.clone();
            Box::pin(async move {
                match sessions.clear_expired().await {
                    Ok(removed) => {
                        tracing::debug!(removed, "expired session index entries cleared")
                    }
                    Err(e) => {
                        tracing::warn!(error = %chain(&e), "could not clear expired session index entries; retrying next period")
                    }
                }
            })
        })
    }

    /// Ends the session of `entry`: the session first (so a failure leaves it
    /// listed, to retry), then its entry. For cached_db the store's delete
    /// clears the cache too.
    pub(crate) async fn end(&self, entry: &IndexEntry) -> Result<(), StoreError> {
        if let Some(key) = &entry.session_key {
            self.store.delete(key).await?;
        }
        self.index.remove(&entry.user_id, &entry.id).await?;
        tracing::info!(user = %entry.user_id, session = %entry.id, "session revoked");
        Ok(())
    }

    /// Whether last-seen of `id` is due at `now` (the first time in this
    /// process, or a minute after the last write).
    pub(crate) fn seen_due(&self, id: &str, now: OffsetDateTime) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(id).is_none_or(|at| now - *at >= SEEN_EVERY)
    }

    /// Notes a last-seen write of `id` at `now` (or forgets `id`, `None`).
    pub(crate) fn note_seen(&self, id: &str, now: Option<OffsetDateTime>) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match now {
            Some(at) => {
                if seen.len() >= SEEN_MEMORY {
                    seen.retain(|_, t| at - *t < SEEN_EVERY);
                }
                seen.insert(id.to_owned(), at);
            }
            None => {
                seen.remove(id);
            }
        }
    }

    /// Logs an index failure met while finishing a request: the response
    /// stands (the session itself was saved), the index catches up later.
    pub(crate) fn log_failure(&self, what: &'static str, e: &StoreError) {
        tracing::error!(error = %chain(e), "session index: could not {what}");
    }
}

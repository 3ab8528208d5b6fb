//! The session handle a handler works with: Django's `request.session`.
//!
//! A [`Session`] is a cheap clone of an `Arc`, `Send + Sync`, not generic. It is
//! loaded lazily — the layer does no store I/O until a handler asks for the
//! session — and once loaded, every method is a plain synchronous call on the
//! loaded dict. Each change is also recorded per key so that a save that loses a
//! compare-and-set race can be replayed on the newer record instead of
//! overwriting it (see [`crate::store`]).

mod changes;
mod deadline;
mod finish;
mod immediate;
mod locks;
mod persist;
mod retire;
mod state;
mod touch;
mod tracking;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::error::{SessionError, ValueError};
use crate::expiry::{self, Expiry, EXPIRY_KEY};
use crate::key::log_tag;
use crate::store::{SessionMap, SessionStore};

use changes::{add, AddError, Change};
pub(crate) use finish::{Outcome, Replacement};
pub(crate) use locks::KeyLocks;
pub(crate) use persist::PersistError;
use state::{Cycled, Stage, State};

/// Django's test-cookie key and value.
const TEST_COOKIE_NAME: &str = "testcookie";
const TEST_COOKIE_VALUE: &str = "worked";

/// What every session of one layer shares: the store, the settings, the save locks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) config: SessionConfig,
    pub(crate) locks: KeyLocks,
    pub(crate) probe: crate::metrics::Probe,
    /// The per-user session index, when configured (`with_user_sessions`).
    pub(crate) user_sessions: Option<crate::user_sessions::UserSessions>,
}

impl Shared {
    pub(crate) fn new(store: Arc<dyn SessionStore>, config: SessionConfig) -> Self {
        store.attach(&config);
        Self {
            probe: crate::metrics::Probe::new(store.engine_name()),
            store,
            config,
            locks: KeyLocks::new(),
            user_sessions: None,
        }
    }
}

/// One request's session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    state: Mutex<State>,
    /// Serializes the first load so concurrent extractors load once.
    load_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Session {
    // The key is a credential: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("Session")
            .field("has_key", &st.key.is_some())
            .field("loaded", &st.stage.is_loaded())
            .field("accessed", &st.accessed)
            .field("modified", &st.modified)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for the cookie value a request carried (if any). A value the
    /// store does not accept is dropped here, so it never reaches the store:
    /// the request gets a fresh session, as Django does with a too-short key.
    pub(crate) fn new(shared: Arc<Shared>, cookie_value: Option<String>) -> Self {
        let key = cookie_value.filter(|v| {
            let accepted = shared.store.accepts(v);
            if !accepted {
                tracing::debug!(cookie = %log_tag(v), "session cookie not accepted by the store; starting a new session");
            }
            accepted
        });
        Self {
            inner: Arc::new(Inner {
                shared,
                state: Mutex::new(State {
                    request_had_key: key.is_some(),
                    key,
                    ..State::default()
                }),
                load_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data
        // (every mutation is a single step), so a poisoned lock is still usable.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn config(&self) -> &SessionConfig {
        &self.inner.shared.config
    }

    /// A store call under the configured deadline.
    async fn bounded<T>(
        &self,
        what: &'static str,
        call: impl std::future::Future<Output = Result<T, crate::error::StoreError>>,
    ) -> Result<T, crate::error::StoreError> {
        let shared = &self.inner.shared;
        deadline::bounded(shared.config.store_timeout, what, &shared.probe, call).await
    }

    /// Loads the session from its store, once; later calls return at once.
    ///
    /// The axum extractor calls this for you. Middleware that reads the session
    /// from the request extensions calls it before use.
    ///
    /// # Errors
    /// [`SessionError::Load`] when the store fails: never a silent empty session,
    /// which would log the user out on a blip.
    pub async fn load(&self) -> Result<(), SessionError> {
        if let Some(done) = self.load_now() {
            return done;
        }
        self.load_record().await?;
        if self.inner.shared.user_sessions.is_some() {
            Box::pin(self.check_index()).await?;
        }
        Ok(())
    }

    /// [`load`](Self::load) without the session index's check.
    async fn load_record(&self) -> Result<(), SessionError> {
        if self.state().stage.is_loaded() {
            return Ok(());
        }
        // Uncontended on nearly every request: taken without a wait queue.
        let _once = match self.inner.load_lock.try_lock() {
            Ok(guard) => guard,
            Err(_) => self.inner.load_lock.lock().await,
        };
        let Some(key) = Self::key_to_load(&mut self.state()) else {
            return Ok(());
        };
        let shared = &self.inner.shared;
        let load = shared.store.load(&key, shared.config.now());
        let loaded = self
            .bounded("load", load)
            .await
            .map_err(|e| self.load_failed(&key, e))?;
        Self::loaded(&mut self.state(), loaded);
        Ok(())
    }

    /// The key a load must look up; `None` when there is nothing to load
    /// (loaded already, or no key: then the session is marked loaded, empty).
    fn key_to_load(st: &mut State) -> Option<String> {
        if st.stage.is_loaded() {
            return None;
        }
        match st.key.clone() {
            Some(k) => Some(k),
            None => {
                st.stage = Stage::Loaded { version: None };
                st.data.get_or_insert_with(SessionMap::new);
                None
            }
        }
    }

    /// A load of `key` failed with `e`: logged, remembered, returned.
    fn load_failed(&self, key: &str, e: crate::error::StoreError) -> SessionError {
        tracing::error!(session = %log_tag(key), error = %crate::error::chain(&e), "could not load the session");
        // The layer answers the configured status for this request,
        // however the handler maps the error.
        self.state().load_failed = true;
        SessionError::Load(e)
    }

    /// Takes in what the store found for the request's key.
    fn loaded(st: &mut State, loaded: Option<crate::store::Loaded>) {
        let (mut data, version) = match loaded {
            Some(l) => {
                // An unusable stored value the engine wants re-issued (a bad
                // signed cookie): Django marks the session modified.
                if l.version.must_rewrite() {
                    st.modified = true;
                }
                st.loaded_expires_at = Some(l.record.expires_at);
                (l.record.data, Some(l.version))
            }
            None => {
                // Fixation protection: the key the client sent is never adopted.
                st.key = None;
                (SessionMap::new(), None)
            }
        };
        // Writes made before the load (through the extensions, without calling
        // `load`) go on top of what was stored, as after a conflict.
        if changes::replay(&mut data, &st.changes).is_err() {
            tracing::warn!("a change made before the session was loaded no longer applies");
        }
        st.data = Some(data);
        st.stage = Stage::Loaded { version };
    }

    /// Runs `f` on the state, marking the session accessed (Django's
    /// `_session`): the one door every read and write goes through.
    fn access<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.state();
        st.accessed = true;
        if st.data.is_none() {
            if st.key.is_some() {
                tracing::warn!("session used before it was loaded: call `Session::load` first; reads see no stored data");
            } else if !st.stage.is_loaded() {
                st.stage = Stage::Loaded { version: None };
            }
            st.data = Some(SessionMap::new());
        }
        f(&mut st)
    }

    fn data(st: &mut State) -> &mut SessionMap {
        st.data.get_or_insert_with(SessionMap::new)
    }

    /// The value under `key`, deserialized.
    ///
    /// # Errors
    /// [`SessionError::Type`] when the stored value is not a `T`; the session is
    /// left as it was.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        match self.get_value(key) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| SessionError::Type {
                    key: key.to_owned(),
                    source: ValueError::new(&e, std::any::type_name::<T>()),
                }),
        }
    }

    /// The raw JSON value under `key`.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.access(|st| Self::data(st).get(key).cloned())
    }

    /// Stores `value` under `key` (Django's `session[key] = value`).
    ///
    /// # Errors
    /// [`SessionError::Serialize`] when `value` cannot be represented as JSON.
    pub fn insert<T: Serialize + ?Sized>(
        &self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<(), SessionError> {
        let key = key.into();
        let value = serde_json::to_value(value).map_err(|e| SessionError::Serialize {
            key: key.clone(),
            source: ValueError::new(&e, std::any::type_name::<T>()),
        })?;
        self.insert_value(key, value);
        Ok(())
    }

    /// Stores a raw JSON value under `key`.
    pub fn insert_value(&self, key: impl Into<String>, value: Value) {
        let key = key.into();
        self.access(|st| {
            Self::data(st).insert(key.clone(), value.clone());
            st.modified = true;
            st.changes.push(Change::Set(key, value));
        });
    }

    /// Removes `key`, returning its value. Removing a missing key changes nothing.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.access(|st| {
            let old = Self::data(st).shift_remove(key);
            if old.is_some() {
                st.modified = true;
                st.changes.push(Change::Remove(key.to_owned()));
            }
            old
        })
    }

    /// Removes `key` and returns its value deserialized (Django's `pop`).
    ///
    /// # Errors
    /// [`SessionError::Type`] when the removed value is not a `T` (it is removed all the same).
    pub fn pop<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        match self.remove(key) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| SessionError::Type {
                    key: key.to_owned(),
                    source: ValueError::new(&e, std::any::type_name::<T>()),
                }),
        }
    }

    /// Whether `key` is in the session.
    pub fn contains(&self, key: &str) -> bool {
        self.access(|st| Self::data(st).contains_key(key))
    }

    /// The keys, in insertion order (`_session_expiry` included, as in Django).
    pub fn keys(&self) -> Vec<String> {
        self.access(|st| Self::data(st).keys().cloned().collect())
    }

    /// How many keys the session holds.
    pub fn len(&self) -> usize {
        self.access(|st| Self::data(st).len())
    }

    /// Whether the session holds no keys.
    pub fn is_empty(&self) -> bool {
        self.access(|st| Self::data(st).is_empty())
    }

    /// A copy of the whole dict (Django's `items()`).
    pub fn to_map(&self) -> SessionMap {
        self.access(|st| Self::data(st).clone())
    }

    /// Adds `by` to the integer under `key` (missing counts as 0) and returns the
    /// new value as this request sees it. Exact under concurrency: a conflicting
    /// save re-applies the addition on the newer value.
    ///
    /// # Errors
    /// [`SessionError::NotAnInteger`] or [`SessionError::Overflow`]; the stored
    /// value is left alone.
    pub fn increment(&self, key: &str, by: i64) -> Result<i64, SessionError> {
        self.access(|st| {
            let key = key.to_owned();
            let n = add(Self::data(st).get(&key), by).map_err(|e| match e {
                AddError::NotAnInteger => SessionError::NotAnInteger { key: key.clone() },
                AddError::Overflow => SessionError::Overflow { key: key.clone() },
            })?;
            Self::data(st).insert(key.clone(), Value::from(n));
            st.modified = true;
            st.changes.push(Change::Increment(key, by));
            Ok(n)
        })
    }

    /// Empties the session but keeps its key (Django's `clear()`): the next save
    /// writes `{}`.
    pub fn clear(&self) {
        let mut st = self.state();
        st.data = Some(SessionMap::new());
        st.accessed = true;
        st.modified = true;
        st.changes.clear();
        st.changes.push(Change::Clear);
    }

    /// Deletes the session and starts a new, empty one without a key (Django's
    /// `flush()`, as on logout). The old record is deleted when the response goes
    /// out, whatever its status; the cookie is deleted unless new data is set.
    /// If the store cannot delete it, the response is replaced by the
    /// configured error status and the cookie is left alone, as Django's
    /// `flush` raises: the user is told, and can retry.
    pub fn flush(&self) {
        let mut st = self.state();
        if let Some(old) = st.key.take() {
            st.flushed.push(old);
        }
        // A key cycled away earlier in this request is ended too, without
        // carrying anything over.
        if let Some(cycled) = st.cycled.take() {
            st.flushed.push(cycled.key);
        }
        st.data = Some(SessionMap::new());
        st.stage = Stage::Loaded { version: None };
        st.changes.clear();
        st.accessed = true;
        st.modified = true;
    }

    /// Moves the data to a new key and deletes the old one (Django's
    /// `cycle_key()`, as on login, against session fixation). The new key is
    /// assigned when the response goes out; the old one is deleted only once
    /// the new one exists, and only if nobody saved it meanwhile — a
    /// concurrent save is carried over to the new key first.
    pub fn cycle_key(&self) {
        self.access(|st| {
            let version = match std::mem::replace(&mut st.stage, Stage::Cycling) {
                Stage::Loaded { version } => version,
                Stage::Unloaded | Stage::Cycling => None,
            };
            if let Some(key) = st.key.take() {
                st.cycled = Some(Cycled { key, version });
            }
            st.modified = true;
        });
    }

    /// The session key, or `None` for a new session (or a pending `cycle_key`,
    /// until the response goes out). A credential: never log it.
    pub fn session_key(&self) -> Option<String> {
        let st = self.state();
        if matches!(st.stage, Stage::Cycling) {
            None
        } else {
            st.key.clone()
        }
    }

    /// Sets this session's expiry (Django's `set_expiry`); kept in the session as
    /// `_session_expiry`, so it holds on later requests.
    pub fn set_expiry(&self, expiry: Expiry) {
        match expiry.to_value(self.config().now()) {
            Some(v) => self.insert_value(EXPIRY_KEY, v),
            None => {
                self.remove(EXPIRY_KEY);
            }
        }
    }

    /// Seconds until the session expires, from now (Django's `get_expiry_age`).
    pub fn expiry_age(&self) -> i64 {
        let (now, age) = (self.config().now(), self.config().cookie_age);
        self.access(|st| expiry::expiry_age(Self::data(st).get(EXPIRY_KEY), now, age))
    }

    /// When the session expires if saved now (Django's `get_expiry_date`).
    pub fn expiry_date(&self) -> OffsetDateTime {
        let (now, age) = (self.config().now(), self.config().cookie_age);
        self.access(|st| expiry::expiry_date(Self::data(st).get(EXPIRY_KEY), now, age))
    }

    /// Whether the cookie expires when the browser closes (Django's
    /// `get_expire_at_browser_close`).
    pub fn expire_at_browser_close(&self) -> bool {
        let setting = self.config().expire_at_browser_close;
        self.access(|st| expiry::expire_at_browser_close(Self::data(st).get(EXPIRY_KEY), setting))
    }

    /// Sets Django's test cookie value, to check that the browser keeps cookies.
    pub fn set_test_cookie(&self) {
        self.insert_value(TEST_COOKIE_NAME, Value::from(TEST_COOKIE_VALUE));
    }

    /// Whether the test cookie came back.
    pub fn test_cookie_worked(&self) -> bool {
        self.get_value(TEST_COOKIE_NAME)
            .as_ref()
            .and_then(Value::as_str)
            == Some(TEST_COOKIE_VALUE)
    }

    /// Removes the test cookie value.
    pub fn delete_test_cookie(&self) {
        self.remove(TEST_COOKIE_NAME);
    }

    /// Whether a method read the session during this request (Django's `accessed`).
    pub fn is_accessed(&self) -> bool {
        self.state().accessed
    }

    /// Whether this request changed the session (Django's `modified`).
    pub fn is_modified(&self) -> bool {
        self.state().modified
    }

    /// The cookie's `Max-Age` at `now`: `None` for a browser-session cookie.
    /// Reads without marking the session accessed (the flags were captured).
    fn cookie_max_age(&self, now: OffsetDateTime) -> Option<i64> {
        let config = self.config();
        let st = self.state();
        let expiry = st.data.as_ref().and_then(|d| d.get(EXPIRY_KEY));
        if expiry::expire_at_browser_close(expiry, config.expire_at_browser_close) {
            None
        } else {
            Some(expiry::expiry_age(expiry, now, config.cookie_age))
        }
    }

    /// `(accessed, modified, empty)` as Django's middleware captures them
    /// before any save.
    fn flags(&self) -> (bool, bool, bool) {
        let st = self.state();
        (st.accessed, st.modified, st.is_empty())
    }
}

//! The common path of a request, without a future, for engines that never
//! wait ([`ImmediateStore`]): the in-process engine and signed cookies.
//!
//! The async path stays the one source of every rule; this runs the same
//! steps (the shared decisions of `finish`, `persist` and `load`) with the
//! engine's synchronous calls, so a request on these engines boxes no
//! future and arms no deadline. Anything off the common path — a session
//! index, a touch threshold, a flush or `cycle_key` to settle, a save lock
//! held by another request — is left to the async path, before anything
//! was written.

use http::StatusCode;
use time::OffsetDateTime;

use crate::error::SessionError;
use crate::store::{ImmediateStore, Record, Saved, Version};

use super::finish::{store_failed, Outcome, Plan};
use super::persist::{PersistError, Plan as Save};
use super::Session;

impl Session {
    /// The engine's synchronous calls, when this request can use them.
    fn immediate(&self) -> Option<&dyn ImmediateStore> {
        let shared = &self.inner.shared;
        if shared.user_sessions.is_some() {
            return None;
        }
        shared.store.immediate()
    }

    /// [`load`](Self::load) at once; `None` when the async path must run.
    pub(super) fn load_now(&self) -> Option<Result<(), SessionError>> {
        let store = self.immediate()?;
        let shared = &self.inner.shared;
        // The state lock is held through the call, as the async path holds
        // its load lock: clones of the session load once.
        let mut st = self.state();
        if st.stage.is_loaded() {
            return Some(Ok(()));
        }
        let Some(key) = st.key.as_deref() else {
            Self::key_to_load(&mut st);
            return Some(Ok(()));
        };
        let loaded = shared
            .probe
            .store_call_now("load", || store.load_now(key, shared.config.now()));
        Some(match loaded {
            Ok(loaded) => {
                Self::loaded(&mut st, loaded);
                Ok(())
            }
            Err(e) => {
                let key = key.to_owned();
                drop(st);
                Err(self.load_failed(&key, e))
            }
        })
    }

    /// [`finish`](Self::finish) at once; `None` when the async path must run.
    pub(crate) fn finish_now(&self, had_cookie: bool, status: StatusCode) -> Option<Outcome> {
        let store = self.immediate()?;
        let config = self.config();
        if config.effective_touch_threshold().is_some() || self.has_flushed() || self.has_cycled() {
            return None;
        }
        let _span = tracing::debug_span!(
            "sessionkit.finish",
            engine = self.inner.shared.probe.engine(),
            status = status.as_u16()
        )
        .entered();
        Some(match self.plan(had_cookie, status) {
            Plan::Done(outcome) => outcome,
            Plan::Save { vary } => {
                if let Err(e) = self.load_now()? {
                    return Some(store_failed(config.load_error_status, &e));
                }
                let now = config.now();
                let max_age = self.cookie_max_age(now);
                let saved = self.persist_now(store, now)?;
                self.respond(saved.map(Some), max_age, now, vary)
            }
        })
    }

    /// [`persist`](Self::persist) at once; `None`, with nothing written,
    /// when the session's save lock is taken (another request of this
    /// session is saving: the async path waits for it).
    fn persist_now(
        &self,
        store: &dyn ImmediateStore,
        now: OffsetDateTime,
    ) -> Option<Result<String, PersistError>> {
        let shared = &self.inner.shared;
        let probe = &shared.probe;
        let (key, data, mut version) = match self.plan_save() {
            Save::Update(key, data, version) => (key, data, version),
            Save::Create(data) => {
                let record = self.record(data, now);
                let result = probe.store_call_now("create", || store.create_now(&record, now));
                let saved = self.created(record, result);
                self.state().changes.clear();
                return Some(saved.map(|saved| {
                    probe.created();
                    saved.cookie_value
                }));
            }
        };
        let _guard = match shared.store.saves_can_conflict() {
            true => match shared.locks.try_lock(&key) {
                Some(guard) => Some(guard),
                None => {
                    self.state().data = Some(data);
                    return None;
                }
            },
            false => None,
        };
        let mut record = self.record(data, now);
        let result = self.update_now(store, &key, &mut record, &mut version, now);
        Some(self.updated(record, result))
    }

    /// The async path's `update`, with the engine's synchronous calls (the
    /// caller holds the save lock).
    fn update_now(
        &self,
        store: &dyn ImmediateStore,
        key: &str,
        record: &mut Record,
        version: &mut Version,
        now: OffsetDateTime,
    ) -> Result<Saved, PersistError> {
        let shared = &self.inner.shared;
        let probe = &shared.probe;
        for attempt in 0..=shared.config.max_save_retries {
            probe.save_attempt(attempt);
            let outcome =
                probe.store_call_now("save", || store.save_now(key, record, version, now))?;
            if let Some(saved) = self.settle(key, outcome, attempt)? {
                return Ok(saved);
            }
            let fresh = probe.store_call_now("load", || store.load_now(key, now))?;
            self.rebase(record, version, fresh, now)?;
        }
        Err(PersistError::RetriesExhausted)
    }
}

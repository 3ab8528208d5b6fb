//! Writing a session back when the response goes out: create, or
//! compare-and-set with reload-and-replay on conflict.

use crate::error::StoreError;
use crate::expiry::{self, EXPIRY_KEY};
use crate::key::log_tag;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionMap, Version};

use super::changes::{replay, ReplayError};
use super::state::Stage;
use super::Session;

/// Why a session could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    /// Deleted meanwhile (a logout in another tab): Django's `SessionInterrupted`.
    #[error("session deleted during the request")]
    Gone,
    /// The store failed or did not answer in time; the old record is intact
    /// (or, for a write that timed out, possibly written: never retried).
    #[error("could not save the session")]
    Store(#[from] StoreError),
    /// Every retry met a newer version.
    #[error("session save kept conflicting")]
    RetriesExhausted,
    /// A concurrent writer left a value this request cannot replay onto.
    #[error("could not replay this request's changes")]
    Replay(#[from] ReplayError),
}

/// What a save does: compare-and-set the loaded record, or write a new one
/// (a new session, or the target of a `cycle_key`).
pub(super) enum Plan {
    Update(String, SessionMap, Version),
    Create(SessionMap),
}

impl Session {
    pub(super) fn record(&self, data: SessionMap, now: time::OffsetDateTime) -> Record {
        let expires_at = expiry::expiry_date(data.get(EXPIRY_KEY), now, self.config().cookie_age);
        Record::new(data, expires_at)
    }

    /// Decides the save under the state lock. The dict moves out of the
    /// state into the record the store gets, and comes back when the save is
    /// done or failed ([`updated`](Self::updated), [`created`](Self::created)):
    /// never cloned. The change log is only read if a conflict needs it.
    pub(super) fn plan_save(&self) -> Plan {
        let mut st = self.state();
        let data = st.data.take().unwrap_or_default();
        match (&st.key, &st.stage) {
            (Some(k), Stage::Loaded { version: Some(v) }) => {
                Plan::Update(k.clone(), data, v.clone())
            }
            _ => Plan::Create(data),
        }
    }

    /// Saves the session as at `now` (the time the response's cookie is
    /// computed for) and returns the cookie value to send. The session is
    /// loaded (`finish` loads it first, as Django's getters do).
    pub(super) async fn persist(&self, now: time::OffsetDateTime) -> Result<String, PersistError> {
        let (key, data, mut version) = match self.plan_save() {
            Plan::Update(key, data, version) => (key, data, version),
            Plan::Create(data) => return self.create(data, now).await,
        };
        let mut record = self.record(data, now);
        let result = self.update(&key, &mut record, &mut version, now).await;
        self.updated(record, result)
    }

    /// Compare-and-set of `record` on `version` under the session's save
    /// lock; on a conflict, reloads, replays this request's changes into
    /// `record` and tries again.
    async fn update(
        &self,
        key: &str,
        record: &mut Record,
        version: &mut Version,
        now: time::OffsetDateTime,
    ) -> Result<Saved, PersistError> {
        let shared = &self.inner.shared;
        let store = &shared.store;
        let _guard = match store.saves_can_conflict() {
            true => Some(
                self.bounded("save lock wait", async { Ok(shared.locks.lock(key).await) })
                    .await?,
            ),
            false => None,
        };
        for attempt in 0..=shared.config.max_save_retries {
            shared.probe.save_attempt(attempt);
            let outcome = self
                .bounded("save", store.save(key, record, version, now))
                .await?;
            let Some(saved) = self.settle(key, outcome, attempt)? else {
                // Boxed: the conflict path is rare, the save it sits beside
                // runs on every request.
                let fresh = Box::pin(self.bounded("load", store.load(key, now))).await?;
                self.rebase(record, version, fresh, now)?;
                continue;
            };
            return Ok(saved);
        }
        Err(PersistError::RetriesExhausted)
    }

    /// What a save's outcome means: `Some` when written, `None` on a
    /// conflict (reload and replay), an error when the session is gone.
    pub(super) fn settle(
        &self,
        key: &str,
        outcome: SaveOutcome,
        attempt: u32,
    ) -> Result<Option<Saved>, PersistError> {
        match outcome {
            SaveOutcome::Saved(saved) => Ok(Some(saved)),
            SaveOutcome::Gone => Err(PersistError::Gone),
            SaveOutcome::Conflict => {
                self.inner.shared.probe.conflict();
                tracing::debug!(session = %log_tag(key), attempt, "session save conflicted; replaying");
                Ok(None)
            }
        }
    }

    /// After a conflict: this request's changes replayed on the `fresh`
    /// record, which the next save must find.
    pub(super) fn rebase(
        &self,
        record: &mut Record,
        version: &mut Version,
        fresh: Option<Loaded>,
        now: time::OffsetDateTime,
    ) -> Result<(), PersistError> {
        let fresh = fresh.ok_or(PersistError::Gone)?;
        let mut data = fresh.record.data;
        replay(&mut data, &self.state().changes)?;
        *record = self.record(data, now);
        *version = fresh.version;
        Ok(())
    }

    /// The end of a compare-and-set save: the dict goes back into the
    /// state, and a written one becomes the loaded version.
    pub(super) fn updated(
        &self,
        record: Record,
        result: Result<Saved, PersistError>,
    ) -> Result<String, PersistError> {
        let mut st = self.state();
        st.data = Some(record.data);
        let saved = result?;
        st.stage = Stage::Loaded {
            version: Some(saved.version),
        };
        st.changes.clear();
        Ok(saved.cookie_value)
    }

    /// Writes a new session (or the target of a `cycle_key`) under a fresh
    /// key; only then is a cycled-away key retired.
    async fn create(
        &self,
        data: SessionMap,
        now: time::OffsetDateTime,
    ) -> Result<String, PersistError> {
        let record = self.record(data, now);
        let result = self
            .bounded("create", self.inner.shared.store.create(&record, now))
            .await;
        let saved = self.created(record, result)?;
        let cycled = self.state().cycled.take();
        let cookie_value = match cycled {
            Some(old) => Box::pin(self.retire(old, saved, now)).await?,
            None => {
                self.inner.shared.probe.created();
                saved.cookie_value
            }
        };
        self.state().changes.clear();
        Ok(cookie_value)
    }

    /// The end of a create: the dict goes back into the state, and a
    /// written session's key and version become the session's.
    pub(super) fn created(
        &self,
        record: Record,
        result: Result<Saved, StoreError>,
    ) -> Result<Saved, PersistError> {
        let mut st = self.state();
        st.data = Some(record.data);
        let saved = result?;
        st.key = Some(saved.cookie_value.clone());
        st.stage = Stage::Loaded {
            version: Some(saved.version.clone()),
        };
        Ok(saved)
    }
}

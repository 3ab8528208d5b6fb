//! Writing a session back when the response goes out: create, or
//! compare-and-set with reload-and-replay on conflict.

use crate::error::StoreError;
use crate::expiry::{self, EXPIRY_KEY};
use crate::key::log_tag;
use crate::store::{Record, SaveOutcome, SessionMap, Version};

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
enum Plan {
    Update(String, SessionMap, Version),
    Create(SessionMap),
}

impl Session {
    pub(super) fn record(&self, data: SessionMap, now: time::OffsetDateTime) -> Record {
        let expires_at = expiry::expiry_date(data.get(EXPIRY_KEY), now, self.config().cookie_age);
        Record::new(data, expires_at)
    }

    /// Saves the session as at `now` (the time the response's cookie is
    /// computed for) and returns the cookie value to send. The session is
    /// loaded (`finish` loads it first, as Django's getters do).
    pub(super) async fn persist(&self, now: time::OffsetDateTime) -> Result<String, PersistError> {
        let shared = &self.inner.shared;
        let store = &shared.store;
        // Decide under the lock, act after releasing it: no guard across an
        // await. The dict is cloned once, into the record the store gets;
        // the change log is only read if a conflict needs it.
        let plan = {
            let st = self.state();
            let data = st.data.clone().unwrap_or_default();
            match (&st.key, &st.stage) {
                (Some(k), Stage::Loaded { version: Some(v) }) => {
                    Plan::Update(k.clone(), data, v.clone())
                }
                _ => Plan::Create(data),
            }
        };
        let (key, data, mut version) = match plan {
            Plan::Update(key, data, version) => (key, data, version),
            Plan::Create(data) => return self.create(data, now).await,
        };
        let mut record = self.record(data, now);
        let _guard = match store.saves_can_conflict() {
            true => Some(
                self.bounded("save lock wait", async {
                    Ok(shared.locks.lock(&key).await)
                })
                .await?,
            ),
            false => None,
        };
        for attempt in 0..=shared.config.max_save_retries {
            shared.probe.save_attempt(attempt);
            let outcome = self
                .bounded("save", store.save(&key, &record, &version, now))
                .await?;
            match outcome {
                SaveOutcome::Saved(saved) => {
                    let mut st = self.state();
                    st.data = Some(record.data);
                    st.stage = Stage::Loaded {
                        version: Some(saved.version),
                    };
                    st.changes.clear();
                    return Ok(saved.cookie_value);
                }
                SaveOutcome::Gone => return Err(PersistError::Gone),
                SaveOutcome::Conflict => {
                    shared.probe.conflict();
                    tracing::debug!(session = %log_tag(&key), attempt, "session save conflicted; replaying");
                    let Some(fresh) = self.bounded("load", store.load(&key, now)).await? else {
                        return Err(PersistError::Gone);
                    };
                    let mut data = fresh.record.data;
                    replay(&mut data, &self.state().changes)?;
                    record = self.record(data, now);
                    version = fresh.version;
                }
            }
        }
        Err(PersistError::RetriesExhausted)
    }

    /// Writes a new session (or the target of a `cycle_key`) under a fresh
    /// key; only then is a cycled-away key retired.
    async fn create(
        &self,
        data: SessionMap,
        now: time::OffsetDateTime,
    ) -> Result<String, PersistError> {
        let record = self.record(data, now);
        let saved = self
            .bounded("create", self.inner.shared.store.create(&record, now))
            .await?;
        let cycled = {
            let mut st = self.state();
            st.key = Some(saved.cookie_value.clone());
            st.stage = Stage::Loaded {
                version: Some(saved.version.clone()),
            };
            st.cycled.take()
        };
        let cookie_value = match cycled {
            Some(old) => self.retire(old, saved, now).await?,
            None => {
                self.inner.shared.probe.created();
                saved.cookie_value
            }
        };
        self.state().changes.clear();
        Ok(cookie_value)
    }
}

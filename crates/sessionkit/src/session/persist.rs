//! Writing a session back when the response goes out: create, or
//! compare-and-set with reload-and-replay on conflict.

use crate::error::StoreError;
use crate::expiry::{self, EXPIRY_KEY};
use crate::key::log_tag;
use crate::store::{Record, SaveOutcome, SessionMap};

use super::changes::{replay, ReplayError};
use super::Session;

/// Why a session could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    /// Deleted meanwhile (a logout in another tab): Django's `SessionInterrupted`.
    #[error("session deleted during the request")]
    Gone,
    /// The store failed; the old record is intact.
    #[error("could not save the session")]
    Store(#[from] StoreError),
    /// Every retry met a newer version.
    #[error("session save kept conflicting")]
    RetriesExhausted,
    /// A concurrent writer left a value this request cannot replay onto.
    #[error("session value {0:?} changed type concurrently")]
    Replay(String),
}

impl From<ReplayError> for PersistError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::NotAnInteger(k) => PersistError::Replay(k),
        }
    }
}

impl Session {
    fn record(&self, data: SessionMap, now: time::OffsetDateTime) -> Record {
        let expires_at = expiry::expiry_date(data.get(EXPIRY_KEY), now, self.config().cookie_age);
        Record::new(data, expires_at)
    }

    /// Saves the session as at `now` (the time the response's cookie is
    /// computed for) and returns the cookie value to send.
    pub(crate) async fn persist(&self, now: time::OffsetDateTime) -> Result<String, PersistError> {
        // Django's save loads first: a plain save needs the version to compare.
        let needs_load = {
            let st = self.state();
            st.key.is_some() && !st.loaded && !st.cycle
        };
        if needs_load {
            self.load().await.map_err(|e| match e {
                crate::error::SessionError::Load(s) => PersistError::Store(s),
                _ => PersistError::RetriesExhausted,
            })?;
        }
        let shared = &self.inner.shared;
        let store = &shared.store;
        // Decide under the lock, act after releasing it: no guard across an
        // await. The dict is cloned once, into the record the store gets;
        // the change log is only read if a conflict needs it.
        let plan = {
            let st = self.state();
            let data = st.data.clone().unwrap_or_default();
            match (&st.key, st.cycle, &st.version) {
                (Some(k), false, Some(v)) => Ok((k.clone(), data, v.clone())),
                _ => Err(data),
            }
        };
        let (key, data, mut version) = match plan {
            Ok(update) => update,
            Err(data) => {
                let saved = store.create(&self.record(data, now), now).await?;
                let mut st = self.state();
                st.key = Some(saved.cookie_value.clone());
                st.version = Some(saved.version);
                st.cycle = false;
                st.loaded = true;
                st.changes.clear();
                return Ok(saved.cookie_value);
            }
        };
        let mut record = self.record(data, now);
        let _guard = match store.saves_can_conflict() {
            true => Some(shared.locks.lock(&key).await),
            false => None,
        };
        for attempt in 0..=shared.config.max_save_retries {
            let outcome = store.save(&key, &record, &version, now).await?;
            match outcome {
                SaveOutcome::Saved(saved) => {
                    let mut st = self.state();
                    st.data = Some(record.data);
                    st.version = Some(saved.version);
                    st.changes.clear();
                    return Ok(saved.cookie_value);
                }
                SaveOutcome::Gone => return Err(PersistError::Gone),
                SaveOutcome::Conflict => {
                    tracing::debug!(session = %log_tag(&key), attempt, "session save conflicted; replaying");
                    let Some(fresh) = store.load(&key, now).await? else {
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

    /// Deletes the keys that `flush`/`cycle_key` left behind. Failures are
    /// logged: the old record then simply expires.
    pub(crate) async fn delete_doomed(&self) {
        let doomed = std::mem::take(&mut self.state().doomed);
        for key in doomed {
            if let Err(e) = self.inner.shared.store.delete(&key).await {
                tracing::error!(session = %log_tag(&key), error = %crate::error::chain(&e), "could not delete the old session");
            }
        }
    }
}

//! Ending the keys a request left behind: those `flush` ended (logout) and
//! the one `cycle_key` moved away from (login).
//!
//! A flushed key that survives is a session the user believes ended (a
//! stolen cookie stays valid), so its delete failing fails the response. A
//! cycled key that survives can take a concurrent request's save (answered
//! 2xx) that the new key never sees. So a cycled key is deleted with
//! compare-and-set on the version its data was copied from: a save that
//! landed meanwhile is carried over to the new key, a delete that fails is
//! checked and tried again, and if the old key cannot be settled the new one
//! is abandoned and the request fails: the client keeps the old cookie,
//! which holds everything. (On a 5xx no new key was written; the old key is
//! deleted as Django does, and a failure there is only logged.)

use time::OffsetDateTime;

use crate::error::{chain, StoreError};
use crate::key::log_tag;
use crate::store::{SaveOutcome, Saved, Version};

use super::changes::replay;
use super::state::{Cycled, Stage};
use super::{PersistError, Session};

impl Session {
    /// Whether `flush` left keys to delete.
    pub(crate) fn has_flushed(&self) -> bool {
        !self.state().flushed.is_empty()
    }

    /// Whether `cycle_key` left a key that no save has retired yet.
    pub(crate) fn has_cycled(&self) -> bool {
        self.state().cycled.is_some()
    }

    /// Deletes the keys `flush` ended. Runs before anything else is written,
    /// as Django's `flush` deletes at once.
    ///
    /// # Errors
    /// The first delete that fails (or times out): the session may still
    /// exist server side, so the caller must not report success.
    pub(crate) async fn delete_flushed(&self) -> Result<(), StoreError> {
        loop {
            let Some(key) = self.state().flushed.first().cloned() else {
                return Ok(());
            };
            let store = &self.inner.shared.store;
            if let Err(e) = self.bounded("delete", store.delete(&key)).await {
                tracing::error!(session = %log_tag(&key), error = %chain(&e), "could not delete the flushed session");
                return Err(e);
            }
            self.state().flushed.remove(0);
            self.inner.shared.probe.deleted();
        }
    }

    /// Deletes a cycled-away key when no new key was written (the response
    /// is a 5xx): Django's `cycle_key` has deleted it by then. Compare-and-set
    /// all the same, so a concurrent save survives; failures are logged.
    pub(crate) async fn delete_cycled_unsaved(&self) {
        let Some(old) = self.state().cycled.take() else {
            return;
        };
        let store = &self.inner.shared.store;
        let now = self.config().now();
        let outcome = match &old.version {
            Some(v) => {
                self.bounded("delete", store.delete_if(&old.key, v, now))
                    .await
            }
            None => self
                .bounded("delete", store.delete(&old.key))
                .await
                .map(|()| true),
        };
        match outcome {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(session = %log_tag(&old.key), "old session saved concurrently; kept");
            }
            Err(e) => {
                tracing::error!(session = %log_tag(&old.key), error = %chain(&e), "could not delete the old session");
            }
        }
    }

    /// Retires the key `cycle_key` moved away from, now that `new` holds its
    /// data: deletes it if it is still the version that was copied; if
    /// someone saved it meanwhile, reloads it, replays this request's changes
    /// on top, writes that into the new key, and tries again (bounded by
    /// `max_save_retries`). Returns the cookie value for the new key.
    ///
    /// # Errors
    /// When a concurrent save to the old key cannot be carried over (the
    /// store failed, replay failed, retries ran out): the new key is
    /// abandoned and the request fails, so the client keeps the old cookie
    /// and the concurrent save is kept there.
    pub(super) async fn retire(
        &self,
        old: Cycled,
        new: Saved,
        now: OffsetDateTime,
    ) -> Result<String, PersistError> {
        let new_key = new.cookie_value.clone();
        let result = self.carry_over(&old, new, now).await;
        if result.is_err() {
            self.abandon(&new_key).await;
        }
        result
    }

    async fn carry_over(
        &self,
        old: &Cycled,
        mut new: Saved,
        now: OffsetDateTime,
    ) -> Result<String, PersistError> {
        let store = &self.inner.shared.store;
        let mut expected: Option<Version> = old.version.clone();
        for attempt in 0..=self.config().max_save_retries {
            if let Some(v) = &expected {
                match self
                    .bounded("delete", store.delete_if(&old.key, v, now))
                    .await
                {
                    Ok(true) => return Ok(new.cookie_value),
                    Ok(false) => {
                        tracing::debug!(session = %log_tag(&old.key), attempt, "old session saved during cycle_key; carrying the save over");
                    }
                    // Unknown whether it went: the reload below says. Leaving
                    // it would strand a concurrent save there, under a key
                    // the client is about to drop.
                    Err(e) => {
                        tracing::warn!(session = %log_tag(&old.key), attempt, error = %chain(&e), "could not delete the old session; checking it again");
                    }
                }
            }
            let Some(fresh) = self.bounded("load", store.load(&old.key, now)).await? else {
                // Gone (expired, or logged out elsewhere): nothing to carry.
                return Ok(new.cookie_value);
            };
            let mut data = fresh.record.data;
            replay(&mut data, &self.state().changes)?;
            let record = self.record(data, now);
            let outcome = self
                .bounded(
                    "save",
                    store.save(&new.cookie_value, &record, &new.version, now),
                )
                .await?;
            match outcome {
                SaveOutcome::Saved(saved) => {
                    let mut st = self.state();
                    st.data = Some(record.data);
                    st.stage = Stage::Loaded {
                        version: Some(saved.version.clone()),
                    };
                    new = saved;
                }
                // Nobody else knows the new key yet: either means the store
                // lost it; the old key still holds everything.
                SaveOutcome::Conflict | SaveOutcome::Gone => {
                    return Err(PersistError::RetriesExhausted)
                }
            }
            expected = Some(fresh.version);
        }
        Err(PersistError::RetriesExhausted)
    }

    /// Best-effort delete of a new key that will not be sent to the client.
    async fn abandon(&self, new_key: &str) {
        let store = &self.inner.shared.store;
        if let Err(e) = self.bounded("delete", store.delete(new_key)).await {
            tracing::warn!(session = %log_tag(new_key), error = %chain(&e), "could not delete an abandoned new session; it expires unused");
        }
        let mut st = self.state();
        st.key = None;
        st.stage = Stage::Loaded { version: None };
    }
}

//! The end of a request, framework-neutral: Django's
//! `SessionMiddleware.process_response` (spec §8.2) in its exact order,
//! returning an [`Outcome`] that the tower and actix adapters only map to
//! HTTP. Every save rule, failure status and cookie/Vary decision lives here.

use http::StatusCode;

use crate::cookie::{delete_cookie, set_cookie};
use crate::error::{chain, StoreError};

use super::persist::PersistError;
use super::touch::Touch;
use super::Session;

/// Django's message for a session deleted during the request.
const SESSION_INTERRUPTED: &str = "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.";

/// What an adapter does with the handler's response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send the handler's response, with `set_cookie` appended as a
    /// `Set-Cookie` header and, when `vary`, `Cookie` added to `Vary`.
    Keep {
        set_cookie: Option<String>,
        vary: bool,
    },
    /// Send this instead: no session cookie, no `Vary`.
    Replace(Replacement),
}

/// A plain-text response that replaces the handler's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Replacement {
    pub(crate) status: StatusCode,
    /// Sent as `text/plain; charset=utf-8`.
    pub(crate) body: String,
    /// A `Retry-After` value, when retrying soon is the fix.
    pub(crate) retry_after: Option<&'static str>,
}

impl Replacement {
    fn new(status: StatusCode, detail: &str) -> Self {
        // The body names the status actually sent, whatever was configured.
        let reason = status.canonical_reason().unwrap_or("Error");
        Self {
            status,
            body: format!("{reason}: {detail}"),
            retry_after: None,
        }
    }
}

/// What the flags decide before any save.
pub(super) enum Plan {
    /// The outcome is known: no save.
    Done(Outcome),
    /// Save (or touch) the session; `vary` when it was accessed.
    Save { vary: bool },
}

impl Session {
    /// Django's `process_response` for a response with `status`, `had_cookie`
    /// telling whether the request carried the session cookie at all.
    ///
    /// A session whose load failed answers the configured
    /// `load_error_status`, whatever the handler made of the error: the
    /// status holds even when a handler maps [`SessionError`] into its own
    /// error type.
    ///
    /// [`SessionError`]: crate::SessionError
    #[tracing::instrument(name = "sessionkit.finish", level = "debug", skip_all, fields(engine = self.inner.shared.probe.engine(), status = status.as_u16()))]
    pub(crate) async fn finish(&self, had_cookie: bool, status: StatusCode) -> Outcome {
        let config = self.config();
        let store_down = config.load_error_status;
        // A flushed session is deleted first, whatever the status, as Django's
        // `flush` deletes at once. If that fails the session still exists, so
        // the response must not claim success (a logout that did not happen):
        // Django's `flush` raises, the user gets an error, the cookie is not
        // touched and a retry can finish the job. Cold paths are boxed where
        // they are taken, so that this future stays small.
        if self.has_flushed() && Box::pin(self.delete_flushed()).await.is_err() {
            return Outcome::Replace(Replacement::new(
                store_down,
                "the session store is unavailable; the session was not ended, retry",
            ));
        }
        let outcome = match self.plan(had_cookie, status) {
            Plan::Done(outcome) => outcome,
            Plan::Save { vary } => {
                // Django's getters load the session before the expiry is computed.
                if let Err(e) = self.load().await {
                    return store_failed(store_down, &e);
                }
                let now = config.now();
                let max_age = self.cookie_max_age(now);
                let touch = match config.effective_touch_threshold() {
                    Some(threshold) => match Box::pin(self.touch_if_due(threshold, now)).await {
                        Ok(touch) => touch,
                        Err(e) => return store_failed(store_down, &e),
                    },
                    None => Touch::Save,
                };
                let saved = match touch {
                    Touch::NotDue => Ok(None),
                    Touch::Touched(value) => Ok(Some(value)),
                    Touch::Save => self.persist(now).await.map(Some),
                };
                self.respond(saved, max_age, now, vary)
            }
        };
        if let Outcome::Replace(_) = outcome {
            // A key cycled away stays: its data was not moved anywhere.
            return outcome;
        }
        // Not saved (a 5xx): a key cycled away goes all the same, as in Django.
        if self.has_cycled() {
            Box::pin(self.delete_cycled_unsaved()).await;
        }
        if self.inner.shared.user_sessions.is_some() {
            Box::pin(crate::user_sessions::hook::finished(self)).await;
        }
        outcome
    }

    /// Django's decisions from the flags captured before any save: a load
    /// that failed replaces the response, an emptied session deletes the
    /// cookie, a modified one (or every one, with save-every-request) is
    /// saved unless the response is a 5xx.
    pub(super) fn plan(&self, had_cookie: bool, status: StatusCode) -> Plan {
        let config = self.config();
        if self.state().load_failed {
            return Plan::Done(Outcome::Replace(Replacement::new(
                config.load_error_status,
                "the session store is unavailable",
            )));
        }
        let (accessed, modified, empty) = self.flags();
        if had_cookie && empty {
            return Plan::Done(Outcome::Keep {
                set_cookie: Some(delete_cookie(config)),
                vary: true,
            });
        }
        if (modified || config.save_every_request) && !empty && status.as_u16() < 500 {
            return Plan::Save { vary: accessed };
        }
        Plan::Done(Outcome::Keep {
            set_cookie: None,
            vary: accessed,
        })
    }

    /// The response for a save's result: the cookie with the value written
    /// (`None`: nothing was due), or the failure's replacement.
    pub(super) fn respond(
        &self,
        saved: Result<Option<String>, PersistError>,
        max_age: Option<i64>,
        now: time::OffsetDateTime,
        vary: bool,
    ) -> Outcome {
        let config = self.config();
        match saved {
            Ok(Some(value)) => Outcome::Keep {
                set_cookie: Some(set_cookie(config, &value, max_age, now)),
                vary: true,
            },
            Ok(None) => Outcome::Keep {
                set_cookie: None,
                vary,
            },
            Err(e) => {
                self.inner.shared.probe.save_failed(&e);
                Outcome::Replace(failed(config.load_error_status, e))
            }
        }
    }
}

/// A store call before the save failed: the response says the store is
/// down, and the error is logged (the client never sees its detail).
pub(super) fn store_failed(
    store_down: StatusCode,
    e: &(dyn std::error::Error + 'static),
) -> Outcome {
    tracing::error!(error = %chain(e), "session store failed; response replaced");
    Outcome::Replace(Replacement::new(
        store_down,
        "the session store is unavailable",
    ))
}

fn failed(store_down: StatusCode, e: PersistError) -> Replacement {
    match e {
        PersistError::Gone => {
            tracing::info!("session deleted during the request; changes dropped");
            Replacement {
                status: StatusCode::BAD_REQUEST,
                body: SESSION_INTERRUPTED.to_owned(),
                retry_after: None,
            }
        }
        PersistError::Store(e @ StoreError::TooLarge { .. }) => {
            // Nothing was written and no cookie is sent: the client keeps its
            // previous cookie, never a half-set one.
            tracing::error!(error = %chain(&e), "session too large to store; changes dropped");
            Replacement::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the session is too large to store",
            )
        }
        PersistError::Store(e) => {
            // A write that timed out may have been applied all the same: the
            // outcome is unknown, so it is reported, never retried.
            tracing::error!(error = %chain(&e), "could not save the session; the change was not confirmed");
            Replacement::new(store_down, "the session store is unavailable")
        }
        PersistError::RetriesExhausted => {
            tracing::warn!("session save kept conflicting; nothing applied");
            Replacement {
                retry_after: Some("1"),
                ..Replacement::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many concurrent session updates, retry",
                )
            }
        }
        e @ PersistError::Replay(_) => {
            tracing::error!(error = %chain(&e), "could not replay the session changes; nothing applied");
            Replacement::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the session changed concurrently",
            )
        }
    }
}

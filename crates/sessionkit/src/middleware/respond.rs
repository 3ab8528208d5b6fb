//! Django's `SessionMiddleware.process_response`, in its exact order (spec §8.2).

use http::header::{HeaderValue, RETRY_AFTER, SET_COOKIE};
use http::{Response, StatusCode};

use crate::cookie::{delete_cookie, patch_vary, set_cookie};
use crate::error::{chain, StoreError};
use crate::session::{PersistError, Session};

use super::SESSION_INTERRUPTED;

/// A plain-text response that replaces the handler's: no session cookie, no Vary.
fn replace<B: From<String>>(status: StatusCode, body: &str) -> Response<B> {
    let mut res = Response::new(B::from(body.to_owned()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn header(value: String) -> Option<HeaderValue> {
    // Cookie values we write are ASCII by construction; a config with odd
    // characters in the domain or path must not panic the request.
    // `try_from(String)` takes the string's buffer as it is: no copy.
    HeaderValue::try_from(value).map_err(|_| tracing::error!("session cookie header is not a valid header value; check SESSION_COOKIE_DOMAIN/PATH/NAME")).ok()
}

pub(super) async fn finish<B: From<String>>(
    session: &Session,
    had_cookie: bool,
    mut res: Response<B>,
) -> Response<B> {
    let config = session.config();
    #[cfg(feature = "axum")]
    if res.extensions().get::<super::LoadFailed>().is_some() {
        *res.status_mut() = config.load_error_status;
    }
    // A flushed session is deleted first, whatever the status, as Django's
    // `flush` deletes at once. If that fails the session still exists, so
    // the response must not claim success (a logout that did not happen):
    // Django's `flush` raises, the user gets an error, the cookie is not
    // touched and a retry can finish the job.
    if session.delete_flushed().await.is_err() {
        return replace(
            config.load_error_status,
            "Service Unavailable: the session store is unavailable; the session was not ended, retry",
        );
    }
    let (accessed, modified, empty) = session.flags();
    let mut vary = accessed;
    if had_cookie && empty {
        if let Some(h) = header(delete_cookie(config)) {
            res.headers_mut().append(SET_COOKIE, h);
        }
        vary = true;
    } else if (modified || config.save_every_request) && !empty && res.status().as_u16() < 500 {
        // Django's getters load the session before the expiry is computed.
        if let Err(e) = session.load().await {
            tracing::error!(error = %chain(&e), "session store failed; response replaced");
            return replace(
                config.load_error_status,
                "Service Unavailable: the session store is unavailable",
            );
        }
        let now = config.now();
        let max_age = session.cookie_max_age(now);
        match session.persist(now).await {
            Ok(value) => {
                if let Some(h) = header(set_cookie(config, &value, max_age, now)) {
                    res.headers_mut().append(SET_COOKIE, h);
                }
                vary = true;
            }
            // A key cycled away stays: its data was not moved anywhere.
            Err(e) => return failed(config.load_error_status, e),
        }
    }
    // Not saved (a 5xx): a key cycled away goes all the same, as in Django.
    session.delete_cycled_unsaved().await;
    if vary {
        patch_vary(res.headers_mut());
    }
    res
}

fn failed<B: From<String>>(store_down: StatusCode, e: PersistError) -> Response<B> {
    match e {
        PersistError::Gone => {
            tracing::info!("session deleted during the request; changes dropped");
            replace(StatusCode::BAD_REQUEST, SESSION_INTERRUPTED)
        }
        PersistError::Store(e @ StoreError::TooLarge { .. }) => {
            // Nothing was written and no cookie is sent: the client keeps its
            // previous cookie, never a half-set one.
            tracing::error!(error = %chain(&e), "session too large to store; changes dropped");
            replace(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the session is too large to store",
            )
        }
        PersistError::Store(e) => {
            // A write that timed out may have been applied all the same: the
            // outcome is unknown, so it is reported, never retried.
            tracing::error!(error = %chain(&e), "could not save the session; the change was not confirmed");
            replace(
                store_down,
                "Service Unavailable: the session store is unavailable",
            )
        }
        PersistError::RetriesExhausted => {
            tracing::warn!("session save kept conflicting; nothing applied");
            let mut res = replace(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: too many concurrent session updates, retry",
            );
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            res
        }
        e @ PersistError::Replay(_) => {
            tracing::error!(error = %e, "could not replay the session changes; nothing applied");
            replace(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the session changed concurrently",
            )
        }
    }
}

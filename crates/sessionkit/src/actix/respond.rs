//! The actix adapter's half of the end of a request: the session core
//! decides ([`Session::finish`]), this maps its [`Outcome`] onto actix-web's
//! response, whose `http` types (0.2) are not the core's (1): statuses cross
//! as numbers, headers as bytes.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::InternalError;
use actix_web::http::header::{
    HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE, VARY,
};
use actix_web::http::StatusCode;
use actix_web::{Error, HttpResponse};

use crate::cookie::vary_with_cookie;
use crate::session::{Outcome, Replacement, Session};

/// Finishes the session for the inner service's answer: a response gets its
/// cookie and `Vary`, or is replaced.
pub(super) async fn finish<B>(
    session: &Session,
    had_cookie: bool,
    mut res: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B>> {
    match settle(session, had_cookie, res.status(), res.headers_mut()).await {
        None => res.map_into_left_body(),
        Some(replacement) => res.into_response(replacement).map_into_right_body(),
    }
}

/// The same for an error the inner service returned instead of a response
/// (an inner middleware's): Django's `process_response` runs on error
/// responses too, so a flush or a cycled key is still settled (a 5xx is never
/// saved). The error stays an error, rendered as the finished response.
pub(super) async fn finish_error(session: &Session, had_cookie: bool, e: Error) -> Error {
    let mut res = e.error_response();
    let status = res.status();
    if let Some(replacement) = settle(session, had_cookie, status, res.headers_mut()).await {
        res = replacement;
    }
    InternalError::from_response(e, res).into()
}

/// Runs the core's `finish` for `status` and applies a `Keep` to `headers`;
/// a `Replace` comes back as the response to send instead. An engine that
/// answers at once is finished without a future; only one that has to wait
/// gets a boxed one.
async fn settle(
    session: &Session,
    had_cookie: bool,
    status: StatusCode,
    headers: &mut HeaderMap,
) -> Option<HttpResponse<BoxBody>> {
    // actix-web only builds statuses 100..=999, which `http` 1 accepts too;
    // anything else is treated as a server error: nothing is saved.
    let status = http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let outcome = match session.finish_now(had_cookie, status) {
        Some(outcome) => outcome,
        None => Box::pin(session.finish(had_cookie, status)).await,
    };
    match outcome {
        Outcome::Replace(replacement) => Some(replace(replacement)),
        Outcome::Keep { set_cookie, vary } => {
            if let Some(h) = set_cookie.and_then(header) {
                headers.append(SET_COOKIE, h);
            }
            if vary && !headers.contains_key(VARY) {
                // The usual case: nothing to merge with, nothing to allocate.
                headers.insert(VARY, HeaderValue::from_static("Cookie"));
            } else if vary {
                let existing = headers.get_all(VARY).map(|v| v.as_bytes());
                // Bytes from valid header values joined by ", " are valid
                // again; should that fail, the handler's Vary stays as is.
                if let Ok(value) = HeaderValue::from_bytes(&vary_with_cookie(existing)) {
                    headers.insert(VARY, value);
                }
            }
            None
        }
    }
}

fn replace(r: Replacement) -> HttpResponse<BoxBody> {
    let status = StatusCode::from_u16(r.status.as_u16()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut res = HttpResponse::with_body(status, BoxBody::new(r.body));
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(after) = r.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from_static(after));
    }
    res
}

fn header(value: String) -> Option<HeaderValue> {
    // Cookie values we write are ASCII by construction; a config with odd
    // characters in the domain or path must not panic the request.
    HeaderValue::try_from(value)
        .map_err(|_| tracing::error!("session cookie header is not a valid header value; check SESSION_COOKIE_DOMAIN/PATH/NAME"))
        .ok()
}

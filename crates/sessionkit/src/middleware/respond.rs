//! The tower adapter's half of the end of a request: the session core
//! decides ([`Session::finish`]), this maps its [`Outcome`] onto the
//! handler's `http::Response`.

use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use http::Response;

use crate::cookie::patch_vary;
use crate::session::{Outcome, Replacement, Session};

pub(super) async fn finish<B: From<String>>(
    session: &Session,
    had_cookie: bool,
    res: Response<B>,
) -> Response<B> {
    let outcome = session.finish(had_cookie, res.status()).await;
    apply(outcome, res)
}

/// The handler's response `res` as `outcome` has it.
pub(super) fn apply<B: From<String>>(outcome: Outcome, mut res: Response<B>) -> Response<B> {
    match outcome {
        Outcome::Replace(replacement) => replace(replacement),
        Outcome::Keep { set_cookie, vary } => {
            if let Some(h) = set_cookie.and_then(header) {
                res.headers_mut().append(SET_COOKIE, h);
            }
            if vary {
                patch_vary(res.headers_mut());
            }
            res
        }
    }
}

fn replace<B: From<String>>(r: Replacement) -> Response<B> {
    let mut res = Response::new(B::from(r.body));
    *res.status_mut() = r.status;
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
    // `try_from(String)` takes the string's buffer as it is: no copy.
    HeaderValue::try_from(value).map_err(|_| tracing::error!("session cookie header is not a valid header value; check SESSION_COOKIE_DOMAIN/PATH/NAME")).ok()
}

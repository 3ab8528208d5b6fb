//! The ceilings: the same route and body shape with no session layer; and
//! the floors: the same with Django's session cookie bytes on the wire and
//! nothing else done.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header::{SET_COOKIE, VARY};
use axum::http::HeaderValue;
use axum::routing::get;
use axum::Router;

use crate::variants::Store;

static VISITS: AtomicU64 = AtomicU64::new(0);

/// The body the session servers send, from one process-wide counter.
pub(super) fn visit() -> String {
    let n = VISITS.fetch_add(1, Ordering::Relaxed) + 1;
    format!("Visit count:{n}")
}

pub(super) fn app() -> Router {
    Router::new().route("/visit/", get(|| async { visit() }))
}

/// A floor: every answer carries one constant `Set-Cookie` in Django's
/// format (a persistent cookie: `expires`, `Max-Age` of two weeks) and
/// `Vary: Cookie`, as a Django-compatible session layer sends on each
/// request that changes the session; the client sends it back. No parsing,
/// no signing, no formatting per request: only the bytes.
pub(super) fn floor(store: Store) -> Router {
    // The value's size is what sessionkit sends for the visit counter: a
    // 32-character key, or `{"visit": n}` signed (base64 JSON, timestamp,
    // HMAC) for the signed-cookie engine.
    let value = match store {
        Store::WireSigned => {
            "eyJ2aXNpdCI6MTIzNDV9:1xWRyu:Gu_1lxZYKPwqRRFq5nsMpEgRA7rBh2d3yaxNqsK8RHs"
        }
        _ => "vh223cu2c9ev0e77mbv49zzdrls34zry",
    };
    let cookie = HeaderValue::from_str(&format!(
        "sessionid={value}; expires=Thu, 10 Dec 2026 05:25:15 GMT; HttpOnly; \
         Max-Age=1209600; Path=/; SameSite=Lax"
    ))
    .expect("a valid header value");
    Router::new().route(
        "/visit/",
        get(move || {
            let cookie = cookie.clone();
            async move {
                (
                    [
                        (SET_COOKIE, cookie),
                        (VARY, HeaderValue::from_static("Cookie")),
                    ],
                    visit(),
                )
            }
        }),
    )
}

//! The scenarios every engine runs, written once: at rest both ways
//! ([`at_rest`], plus [`edge_value`]), key rotation both ways
//! ([`key_rotation`]), live side by side ([`live_side_by_side`]), and Django's
//! login shared ([`login_shared`]); for `file`, expiry by modification time
//! ([`file_expiry_by_mtime`]); non-default cookie settings on both sides
//! ([`custom_settings`]).

mod at_rest;
mod file;
mod live;
mod login;
mod rotation;
mod settings;

pub use at_rest::{at_rest, edge_value};
pub use file::file_expiry_by_mtime;
pub use live::live_side_by_side;
pub use login::login_shared;
pub use rotation::key_rotation;
pub use settings::custom_settings;

use serde_json::Value;
use sessionkit::expiry::parse_isoformat;
use time::OffsetDateTime;

use crate::client::{Client, Reply};
use crate::harness::Backend;

/// The session cookie's name (Django's default).
pub(crate) const COOKIE: &str = "sessionid";
/// `SESSION_COOKIE_AGE` (Django's default).
pub(crate) const COOKIE_AGE: i64 = 1_209_600;
/// How far two reads of a sliding expiry may be apart: they are computed
/// from "now" in two processes, a Python start-up apart — seconds on a busy
/// 2-core CI machine (8 s was seen). The exact checks are elsewhere: the ages
/// must be equal and the stored expiry equal to the microsecond.
pub(crate) const SLACK_SECONDS: i64 = 60;

pub(crate) fn date(v: &Value, what: &str) -> OffsetDateTime {
    v.as_str()
        .and_then(parse_isoformat)
        .unwrap_or_else(|| panic!("{what}: not an ISO 8601 date: {v}"))
}

pub(crate) fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {v}"))
}

/// Whether Django's `read` operation (or view) found the session's data.
pub(crate) fn django_found(read: &Value) -> bool {
    !read["key_after"].is_null() && read["data"].as_object().is_some_and(|d| !d.is_empty())
}

/// The raw stored value behind a session: the row's `session_data`, the
/// file's content, or (signed cookies) the cookie itself.
pub(crate) fn raw_value<'a>(backend: Backend, key: &'a str, read: &'a Value) -> &'a str {
    match backend {
        Backend::SignedCookies => key,
        Backend::File => str_of(&read["stored"]["content"], "file content"),
        _ => str_of(&read["stored"]["session_data"], "session_data"),
    }
}

/// `GET` on one side, asserting a 2xx, with context.
pub(crate) async fn get_ok(client: &Client, url: &str) -> Reply {
    let reply = client.get(url).await;
    assert!(
        (200..300).contains(&reply.status),
        "GET {url}: {} {}",
        reply.status,
        reply.body
    );
    reply
}

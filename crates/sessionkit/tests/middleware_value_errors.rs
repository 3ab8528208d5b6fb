//! A typed read that fails must not put the session value into logs or
//! responses (L6): serde's message quotes the value ("invalid type: string
//! \"…\""), and session values are tokens, personal data, credentials.
#![cfg(all(feature = "memory", feature = "axum"))]

mod common;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use common::http::get_with;
use common::logs::captured_logs;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer};

const TOKEN: &str = "csrf-7Hq2vLx9PzK4mWn8RtY3";

async fn set(session: Session) -> &'static str {
    session.insert("csrf_token", TOKEN).unwrap();
    "set"
}

/// A handler that expects a number where a string is stored.
async fn read_as_number(session: Session) -> Result<String, SessionError> {
    let n: Option<u64> = session.get("csrf_token")?;
    Ok(format!("{n:?}"))
}

fn app() -> Router {
    Router::new()
        .route("/set", get(set))
        .route("/read", get(read_as_number))
        .route("/print", get(print_error))
        .layer(SessionLayer::new(
            MemoryStore::new(),
            SessionConfig::new(common::SECRET).unwrap(),
        ))
}

#[tokio::test]
async fn a_failed_typed_get_keeps_the_value_out_of_logs_and_body() {
    let logs = captured_logs();
    let app = app();
    let (_, key, _) = get_with(&app, "/set", None).await;
    let key = key.expect("a session");
    let (status, _, body) = get_with(&app, "/read", Some(&key)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("csrf_token"),
        "the body names the key: {body}"
    );
    assert!(!body.contains(TOKEN), "the value reached the body: {body}");
    let text = logs.text();
    assert!(
        text.contains("csrf_token"),
        "the failure was not logged at all: {text}"
    );
    assert!(!text.contains(TOKEN), "the value reached the logs: {text}");
}

/// What an app that logs the error itself would write: `Display`, `Debug`
/// and the whole `source()` chain.
async fn print_error(session: Session) -> String {
    let err = session.get::<u64>("csrf_token").unwrap_err();
    let mut chain = err.to_string();
    let mut cur = std::error::Error::source(&err);
    while let Some(s) = cur {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        cur = s.source();
    }
    format!("{chain}\n{err:?}\n{err:#?}")
}

#[tokio::test]
async fn the_error_itself_does_not_carry_the_value() {
    let app = app();
    let (_, key, _) = get_with(&app, "/set", None).await;
    let (status, _, printed) = get_with(&app, "/print", key.as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(printed.contains("csrf_token"), "{printed}");
    assert!(!printed.contains(TOKEN), "{printed}");
    // Still useful: what kind of failure, and what was asked for.
    assert!(printed.contains("u64"), "{printed}");
}

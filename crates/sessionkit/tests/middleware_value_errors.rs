//! A typed read that fails must not put the session value into logs or
//! responses (L6): serde's message quotes the value ("invalid type: string
//! \"…\""), and session values are tokens, personal data, credentials.
#![cfg(all(feature = "memory", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::app::{adapter_tests, config, Adapter, App, Reply, View};
use common::http::get_with;
use common::logs::captured_logs;
use sessionkit::store::memory::MemoryStore;
use sessionkit::Session;

const TOKEN: &str = "csrf-7Hq2vLx9PzK4mWn8RtY3";

fn app(adapter: Adapter) -> App {
    let set = View::sync(|s| {
        s.insert("csrf_token", TOKEN)?;
        Ok(Reply::text("set"))
    });
    // A handler that expects a number where a string is stored.
    let read_as_number = View::sync(|s| {
        let n: Option<u64> = s.get("csrf_token")?;
        Ok(Reply::text(format!("{n:?}")))
    });
    let print = View::sync(|s| Ok(Reply::text(print_error(s))));
    let routes = vec![("/set", set), ("/read", read_as_number), ("/print", print)];
    App::serve(adapter, Arc::new(MemoryStore::new()), config(), routes)
}

async fn a_failed_typed_get_keeps_the_value_out_of_logs_and_body(adapter: Adapter) {
    let logs = captured_logs();
    let app = app(adapter);
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
fn print_error(session: &Session) -> String {
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

async fn the_error_itself_does_not_carry_the_value(adapter: Adapter) {
    let app = app(adapter);
    let (_, key, _) = get_with(&app, "/set", None).await;
    let (status, _, printed) = get_with(&app, "/print", key.as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(printed.contains("csrf_token"), "{printed}");
    assert!(!printed.contains(TOKEN), "{printed}");
    // Still useful: what kind of failure, and what was asked for.
    assert!(printed.contains("u64"), "{printed}");
}

adapter_tests! {
    #[tokio::test] a_failed_typed_get_keeps_the_value_out_of_logs_and_body;
    #[tokio::test] the_error_itself_does_not_carry_the_value;
}

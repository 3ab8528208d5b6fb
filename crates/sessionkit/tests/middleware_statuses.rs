//! The status the session middleware answers when the session cannot be
//! saved or loaded, on each adapter: `Retry-After` on a save that keeps
//! conflicting, 500 for a change that cannot be replayed and for a session
//! too large to store, and the configured `load_error_status` whatever the
//! handler made of the failed load.
#![cfg(all(feature = "memory", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::app::{adapter_tests, config, stores, Adapter, App, Reply, Routes, View};
use common::faulty::Faulty;
use common::interleave::{Before, Interleave};
use serde_json::json;
use sessionkit::store::memory::MemoryStore;
use sessionkit::SessionStore;

fn routes() -> Routes {
    let inc = View::sync(|s| Ok(Reply::text(s.increment("visit", 1)?)));
    let read = View::sync(|s| Ok(Reply::text(serde_json::to_string(&s.to_map()).unwrap())));
    vec![("/inc", inc), ("/read", read)]
}

fn app(adapter: Adapter, store: Arc<dyn SessionStore>) -> App {
    App::serve(adapter, store, config(), routes())
}

/// A session with `visit = 1` and its key.
async fn started(app: &App) -> String {
    let res = app.get("/inc", None).await;
    assert_eq!((res.status.as_u16(), res.body.as_str()), (200, "1"));
    res.key().expect("a session")
}

async fn a_save_that_keeps_conflicting_asks_to_retry_after_1(adapter: Adapter) {
    let store = Interleave::new(Arc::new(MemoryStore::new()));
    let app = app(adapter, store.clone());
    let key = started(&app).await;
    store.always(Before::Save, &key, "other");
    let res = app.get_key("/inc", Some(&key)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert_eq!(res.all("retry-after"), ["1"]);
    assert!(res.set_cookie().is_empty(), "{:?}", res.set_cookie());
    assert!(res.all("vary").is_empty(), "a replacement has no Vary");
    assert!(res.body.contains("retry"), "{}", res.body);
}

async fn a_change_that_cannot_be_replayed_is_500(adapter: Adapter) {
    let store = Interleave::new(Arc::new(MemoryStore::new()));
    let app = app(adapter, store.clone());
    let key = started(&app).await;
    // Another request makes `visit` a string between this one's load and
    // save: its increment cannot be replayed onto the new version.
    store.once(Before::Save, &key, "visit", json!("many"));
    let res = app.get_key("/inc", Some(&key)).await;
    assert_eq!(
        res.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        res.body
    );
    assert!(res.set_cookie().is_empty());
    assert!(res.all("retry-after").is_empty(), "retrying cannot help");
    assert!(
        res.body.starts_with("Internal Server Error"),
        "{}",
        res.body
    );
    let read = app.get_key("/read", Some(&key)).await;
    assert_eq!(read.body, r#"{"visit":"many"}"#, "nothing applied");
}

/// Bytes zlib cannot shrink, so the signed cookie stays large.
fn incompressible(len: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                    [(x % 62) as usize],
            )
        })
        .collect()
}

async fn a_session_too_large_for_its_store_is_500_and_keeps_the_old_cookie(adapter: Adapter) {
    let config = config();
    let store = stores::signed_cookies(&config).await;
    let big = View::sync(|s| {
        s.insert("blob", &incompressible(5000))?;
        Ok(Reply::text("stored?"))
    });
    let mut routes = routes();
    routes.push(("/big", big));
    let app = App::serve(adapter, store, config, routes);
    let key = started(&app).await;
    let res = app.get_key("/big", Some(&key)).await;
    assert_eq!(
        res.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        res.body
    );
    assert!(res.body.contains("too large"), "{}", res.body);
    assert!(
        res.set_cookie().is_empty(),
        "no cookie: the client keeps its previous one"
    );
    assert_eq!(
        app.get_key("/read", Some(&key)).await.body,
        r#"{"visit":1}"#
    );
}

/// A handler that takes `Result<Session, SessionError>` and answers the
/// failure its own way (`status`) is overridden: the session remembers that
/// its load failed, and the middleware answers the configured status.
async fn handler_mapping(adapter: Adapter, status: u16) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let mut config = config();
    config.load_error_status = StatusCode::BAD_GATEWAY;
    let own = View::fallible(move |s| match s {
        Ok(s) => Reply::text(s.increment("visit", 1).unwrap()),
        Err(e) => Reply::text(format!("my own error page: {e}")).status(status),
    });
    let app = App::serve(adapter, store.clone(), config, vec![("/own", own)]);
    let key = app.get("/own", None).await.key().expect("a session");
    store.set_down(true);
    let res = app.get_key("/own", Some(&key)).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY, "{}", res.body);
    assert!(!res.body.contains("my own error page"), "{}", res.body);
    assert!(res.set_cookie().is_empty());
    store.set_down(false);
    assert_eq!(app.get_key("/own", Some(&key)).await.body, "2");
}

async fn load_error_status_holds_when_the_handler_answers_its_own_error(adapter: Adapter) {
    handler_mapping(adapter, 418).await;
}

async fn load_error_status_holds_when_the_handler_answers_200(adapter: Adapter) {
    handler_mapping(adapter, 200).await;
}

adapter_tests! {
    #[tokio::test] a_save_that_keeps_conflicting_asks_to_retry_after_1;
    #[tokio::test] a_change_that_cannot_be_replayed_is_500;
    #[tokio::test] a_session_too_large_for_its_store_is_500_and_keeps_the_old_cookie;
    #[tokio::test] load_error_status_holds_when_the_handler_answers_its_own_error;
    #[tokio::test] load_error_status_holds_when_the_handler_answers_200;
}

//! Bad input and a store that is down, over HTTP on each adapter: never a
//! panic, never a silent new session, never a half-written record, and
//! recovery without a restart.
#![cfg(all(feature = "memory", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::app::{adapter_tests, config, valid_header, Adapter, Answer, App, Reply, View};
use common::faulty::Faulty;
use sessionkit::store::memory::MemoryStore;
use sessionkit::SessionConfig;

fn count() -> View {
    View::sync(|s| {
        Ok(Reply::text(format!(
            "Visit count:{}",
            s.increment("visit", 1)?
        )))
    })
}

fn app(adapter: Adapter, store: Arc<Faulty>, config: SessionConfig) -> App {
    App::serve(adapter, store, config, vec![("/visit/", count())])
}

fn rig(adapter: Adapter) -> (Arc<Faulty>, App) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    (store.clone(), app(adapter, store, config()))
}

fn cookie_of(a: &Answer) -> String {
    a.cookie().expect("a Set-Cookie")
}

async fn bad_cookies_get_a_fresh_session_without_store_io(adapter: Adapter) {
    let (store, app) = rig(adapter);
    let long = format!("sessionid={}", "a".repeat(5000));
    let bad = [
        "sessionid=../../etc/passwd",
        "sessionid=..%2F..%2Fetc%2Fpasswd",
        "sessionid=/etc/passwd",
        "sessionid=ABCDEFGHIJKLMNOP",
        "sessionid=abc",
        "sessionid=",
        "sessionid=\"unterminated",
        "sessionid=sessionid=sessionid",
        "sessionid=eyJ2aXNpdCI6MTF9:1ov84c:qngX5Woil1EDwGGylot0OrQtche6734UOApKJ4yp-BA",
        "sessionid=\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        "sessionid=\u{0}\u{1}\u{2}garbage\u{7f}",
        ";;;;=;=;sessionid",
        long.as_str(),
    ];
    for cookie in bad {
        if !valid_header(cookie) {
            continue; // not even a header value: the server never hands it to us
        }
        let before = store.calls();
        let res = app.get("/visit/", Some(cookie)).await;
        assert_eq!(res.status, 200, "{cookie:?}");
        assert_eq!(res.body, "Visit count:1", "{cookie:?}: a fresh session");
        // one create, and no load of the bad key
        assert_eq!(
            store.calls() - before,
            1,
            "{cookie:?}: no store I/O for an invalid key"
        );
    }
}

async fn unknown_valid_key_is_not_adopted(adapter: Adapter) {
    let (_, app) = rig(adapter);
    let a = app
        .get(
            "/visit/",
            Some("sessionid=attackerchosenkey000000000000000"),
        )
        .await;
    assert_eq!(a.body, "Visit count:1");
    assert!(
        !cookie_of(&a).contains("attackerchosenkey"),
        "session fixation: a new key is issued"
    );
}

async fn store_down_is_503_then_recovers(adapter: Adapter) {
    let (store, app) = rig(adapter);
    let cookie = cookie_of(&app.get("/visit/", None).await);
    assert_eq!(
        app.get("/visit/", Some(&cookie)).await.body,
        "Visit count:2"
    );

    store.set_down(true);
    let down = app.get("/visit/", Some(&cookie)).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "load failure is not a new session"
    );
    assert!(
        down.set_cookie().is_empty(),
        "no Set-Cookie while the store is down"
    );
    let anonymous = app.get("/visit/", None).await;
    assert_eq!(
        anonymous.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "save failure replaces the response"
    );
    assert!(anonymous.set_cookie().is_empty());

    store.set_down(false);
    let back = app.get("/visit/", Some(&cookie)).await;
    assert_eq!(back.status, 200);
    assert_eq!(
        back.body, "Visit count:3",
        "the old session is intact and the app recovered"
    );
}

async fn load_error_status_is_configurable(adapter: Adapter) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let mut config = config();
    config.load_error_status = StatusCode::BAD_GATEWAY;
    let app = app(adapter, store.clone(), config);
    let cookie = cookie_of(&app.get("/visit/", None).await);
    store.set_down(true);
    let res = app.get("/visit/", Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY);
    assert!(
        res.body.starts_with("Bad Gateway"),
        "the body names the status sent: {}",
        res.body
    );
    assert_eq!(
        app.get("/visit/", None).await.status,
        StatusCode::BAD_GATEWAY
    );
}

async fn missing_layer_is_a_clear_error_and_option_is_none(adapter: Adapter) {
    let maybe = View::optional(|s| Reply::text(if s.is_some() { "some" } else { "none" }));
    let app = App::bare(adapter, vec![("/visit/", count()), ("/maybe", maybe)]);
    let res = app.get("/visit/", None).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    let fix = match adapter {
        #[cfg(feature = "axum")]
        Adapter::Axum => "SessionLayer",
        #[cfg(feature = "actix")]
        Adapter::Actix => "SessionMiddleware",
    };
    assert!(res.body.contains(fix), "{}", res.body);
    assert_eq!(app.get("/maybe", None).await.body, "none");
}

async fn non_integer_increment_is_an_error_and_leaves_the_value(adapter: Adapter) {
    let set_text = View::sync(|s| {
        s.insert("visit", "many")?;
        Ok(Reply::text("ok"))
    });
    let read = View::sync(|s| Ok(Reply::text(s.get::<String>("visit")?.unwrap_or_default())));
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = App::serve(
        adapter,
        store,
        config(),
        vec![("/set", set_text), ("/visit/", count()), ("/read", read)],
    );
    let cookie = cookie_of(&app.get("/set", None).await);
    let res = app.get("/visit/", Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.get("/read", Some(&cookie)).await.body, "many");
}

adapter_tests! {
    #[tokio::test] bad_cookies_get_a_fresh_session_without_store_io;
    #[tokio::test] unknown_valid_key_is_not_adopted;
    #[tokio::test] store_down_is_503_then_recovers;
    #[tokio::test] load_error_status_is_configurable;
    #[tokio::test] missing_layer_is_a_clear_error_and_option_is_none;
    #[tokio::test] non_integer_increment_is_an_error_and_leaves_the_value;
}

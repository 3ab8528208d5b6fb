//! Bad input and a store that is down, over HTTP: never a panic, never a silent
//! new session, never a half-written record, and recovery without a restart.
#![cfg(all(feature = "memory", feature = "axum"))]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use common::faulty::Faulty;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer};
use tower::ServiceExt;

async fn count(session: Session) -> Result<String, SessionError> {
    Ok(format!("Visit count:{}", session.increment("visit", 1)?))
}

async fn maybe(session: Option<Session>) -> &'static str {
    if session.is_some() {
        "some"
    } else {
        "none"
    }
}

fn app(store: Arc<Faulty>, config: SessionConfig) -> Router {
    Router::new()
        .route("/visit/", get(count))
        .layer(SessionLayer::from_arc(store, config))
}

struct Answer {
    status: StatusCode,
    set_cookie: Vec<String>,
    body: String,
}

async fn send(app: &Router, cookie: Option<&str>) -> Answer {
    let mut req = Request::get("/visit/");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let set_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        set_cookie,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn cookie_of(a: &Answer) -> String {
    let first = a.set_cookie.first().expect("a Set-Cookie");
    first.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn bad_cookies_get_a_fresh_session_without_store_io() {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(store.clone(), SessionConfig::new(common::SECRET).unwrap());
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
        let before = store.calls();
        let Ok(header) = axum::http::HeaderValue::from_str(cookie) else {
            continue; // not even a header value: hyper never hands it to us
        };
        let req = Request::get("/visit/")
            .header("cookie", header)
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200, "{cookie:?}");
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(body, "Visit count:1", "{cookie:?}: a fresh session");
        // one create, and no load of the bad key
        assert_eq!(
            store.calls() - before,
            1,
            "{cookie:?}: no store I/O for an invalid key"
        );
    }
}

#[tokio::test]
async fn unknown_valid_key_is_not_adopted() {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(store, SessionConfig::new(common::SECRET).unwrap());
    let a = send(&app, Some("sessionid=attackerchosenkey000000000000000")).await;
    assert_eq!(a.body, "Visit count:1");
    assert!(
        !cookie_of(&a).contains("attackerchosenkey"),
        "session fixation: a new key is issued"
    );
}

#[tokio::test]
async fn store_down_is_503_then_recovers() {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(store.clone(), SessionConfig::new(common::SECRET).unwrap());
    let first = send(&app, None).await;
    let cookie = cookie_of(&first);
    assert_eq!(send(&app, Some(&cookie)).await.body, "Visit count:2");

    store.set_down(true);
    let down = send(&app, Some(&cookie)).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "load failure is not a new session"
    );
    assert!(
        down.set_cookie.is_empty(),
        "no Set-Cookie while the store is down"
    );
    let anonymous = send(&app, None).await;
    assert_eq!(
        anonymous.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "save failure replaces the response"
    );
    assert!(anonymous.set_cookie.is_empty());

    store.set_down(false);
    let back = send(&app, Some(&cookie)).await;
    assert_eq!(back.status, 200);
    assert_eq!(
        back.body, "Visit count:3",
        "the old session is intact and the app recovered"
    );
}

#[tokio::test]
async fn load_error_status_is_configurable() {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let mut config = SessionConfig::new(common::SECRET).unwrap();
    config.load_error_status = StatusCode::BAD_GATEWAY;
    let app = app(store.clone(), config);
    let cookie = cookie_of(&send(&app, None).await);
    store.set_down(true);
    assert_eq!(
        send(&app, Some(&cookie)).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(send(&app, None).await.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn missing_layer_is_a_clear_error_and_option_is_none() {
    let app = Router::new()
        .route("/visit/", get(count))
        .route("/maybe", get(maybe));
    let res = app
        .clone()
        .oneshot(Request::get("/visit/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&body).contains("SessionLayer"));
    let res = app
        .oneshot(Request::get("/maybe").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(body, "none");
}

#[tokio::test]
async fn non_integer_increment_is_an_error_and_leaves_the_value() {
    async fn set_text(session: Session) -> &'static str {
        session.insert("visit", "many").unwrap();
        "ok"
    }
    async fn read(session: Session) -> String {
        session.get::<String>("visit").unwrap().unwrap_or_default()
    }
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = Router::new()
        .route("/set", get(set_text))
        .route("/visit/", get(count))
        .route("/read", get(read))
        .layer(SessionLayer::from_arc(
            store,
            SessionConfig::new(common::SECRET).unwrap(),
        ));
    let res = app
        .clone()
        .oneshot(Request::get("/set").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .clone()
        .oneshot(
            Request::get("/visit/")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let res = app
        .oneshot(
            Request::get("/read")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(body, "many");
}

//! Expiry over HTTP, driven by the injectable clock (no sleeps): Django's default
//! age, a custom `set_expiry` kept in the record, browser-close cookies.
#![cfg(all(feature = "sqlite", feature = "memory", feature = "axum"))]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use sessionkit::clock::ManualClock;
use sessionkit::store::db::DbStore;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Expiry, Session, SessionConfig, SessionError, SessionLayer, SessionStore};
use time::macros::datetime;
use time::Duration;
use tower::ServiceExt;

async fn count(session: Session) -> Result<String, SessionError> {
    Ok(format!("{}", session.increment("visit", 1)?))
}

async fn short(session: Session) -> Result<String, SessionError> {
    let n = session.increment("visit", 1)?;
    session.set_expiry(Expiry::Seconds(300));
    Ok(format!("{n}"))
}

async fn browser(session: Session) -> Result<String, SessionError> {
    let n = session.increment("visit", 1)?;
    session.set_expiry(Expiry::BrowserClose);
    Ok(format!("{n}"))
}

async fn read(session: Session) -> String {
    format!(
        "{} {}",
        session.get::<i64>("visit").unwrap().unwrap_or(0),
        session.expiry_age()
    )
}

fn app(store: Arc<dyn SessionStore>, clock: &ManualClock) -> Router {
    let config = SessionConfig::new(common::SECRET)
        .unwrap()
        .with_clock(clock.clone());
    Router::new()
        .route("/count", get(count))
        .route("/short", get(short))
        .route("/browser", get(browser))
        .route("/read", get(read))
        .layer(SessionLayer::from_arc(store, config))
}

async fn call(app: &Router, uri: &str, cookie: &mut Option<String>) -> (String, Option<String>) {
    let mut req = Request::get(uri);
    if let Some(c) = cookie.as_deref() {
        req = req.header("cookie", c);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(res.status().is_success(), "{uri}: {}", res.status());
    let set = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    if let Some(s) = &set {
        *cookie = Some(s.split(';').next().unwrap().to_owned());
    }
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    (String::from_utf8(body.to_vec()).unwrap(), set)
}

async fn expiry_rules(store: Arc<dyn SessionStore>) {
    let clock = ManualClock::new(datetime!(2024-06-01 12:00:00.25 UTC));
    let app = app(store, &clock);

    // Default age: two weeks, then gone.
    let mut c = None;
    assert_eq!(call(&app, "/count", &mut c).await.0, "1");
    clock.advance(Duration::weeks(2) - Duration::seconds(1));
    assert_eq!(call(&app, "/read", &mut c).await.0, "1 1209600");
    clock.advance(Duration::seconds(2));
    assert_eq!(
        call(&app, "/read", &mut c).await.0,
        "0 1209600",
        "expired after two weeks"
    );

    // set_expiry(300) is kept in the record and slides with every save.
    let mut c = None;
    let (body, set) = call(&app, "/short", &mut c).await;
    assert_eq!(body, "1");
    assert!(set.unwrap().contains("Max-Age=300"));
    clock.advance(Duration::seconds(200));
    let (body, set) = call(&app, "/count", &mut c).await;
    assert_eq!(body, "2");
    assert!(
        set.unwrap().contains("Max-Age=300"),
        "the custom expiry survives the next request"
    );
    clock.advance(Duration::seconds(200));
    assert_eq!(
        call(&app, "/read", &mut c).await.0,
        "2 300",
        "slid from the last save"
    );
    clock.advance(Duration::seconds(101));
    assert_eq!(
        call(&app, "/read", &mut c).await.0,
        "0 1209600",
        "expired 300 s after the last save"
    );

    // Browser close: no Max-Age/expires in the cookie, two weeks on the server.
    let mut c = None;
    let (_, set) = call(&app, "/browser", &mut c).await;
    let set = set.unwrap();
    assert!(
        !set.contains("Max-Age") && !set.contains("expires"),
        "{set}"
    );
    clock.advance(Duration::days(13));
    assert_eq!(call(&app, "/count", &mut c).await.0, "2");
}

#[tokio::test]
async fn memory_expiry() {
    expiry_rules(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("e.sqlite3").display());
    let config = SessionConfig::new(common::SECRET).unwrap();
    expiry_rules(Arc::new(
        DbStore::open(&url)
            .await
            .unwrap()
            .with_codec(config.codec()),
    ))
    .await;
}

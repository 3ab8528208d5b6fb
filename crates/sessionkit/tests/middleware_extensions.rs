//! The session as other middleware sees it: in the request extensions, loaded on
//! demand, shared with the handler's extractor (one handle, one load).
#![cfg(all(feature = "memory", feature = "axum"))]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use common::faulty::Faulty;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer};
use tower::ServiceExt;

/// Middleware that tags the response with the visit count it finds.
async fn tag_visits(req: Request, next: Next) -> Response {
    let session = req
        .extensions()
        .get::<Session>()
        .cloned()
        .expect("SessionLayer runs outside");
    session.load().await.expect("store up");
    let before = session.get::<i64>("visit").unwrap().unwrap_or(0);
    let mut res = next.run(req).await;
    let after = session.get::<i64>("visit").unwrap().unwrap_or(0);
    res.headers_mut().insert(
        "x-visits",
        HeaderValue::from_str(&format!("{before}->{after}")).unwrap(),
    );
    res
}

async fn count(session: Session) -> Result<String, SessionError> {
    Ok(session.increment("visit", 1)?.to_string())
}

#[tokio::test]
async fn middleware_and_handler_share_one_loaded_session() {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = Router::new()
        .route("/", get(count))
        .layer(middleware::from_fn(tag_visits))
        .layer(SessionLayer::from_arc(
            store.clone(),
            SessionConfig::new(common::SECRET).unwrap(),
        ));
    let res = app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.headers()["x-visits"], "0->1");
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let calls = store.calls();
    let res = app
        .oneshot(
            Request::get("/")
                .header("cookie", cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.headers()["x-visits"], "1->2");
    assert_eq!(
        store.calls() - calls,
        2,
        "one load and one save for both users of the session"
    );
}

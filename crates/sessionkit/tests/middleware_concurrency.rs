//! Concurrent requests of one session over HTTP: no lost update, ever.
//!
//! The invariant: the final count equals the number of 2xx increments. A barrier
//! inside the handler makes every request load the same version before any of
//! them saves, so every save but one must go through the conflict path.
#![cfg(all(feature = "sqlite", feature = "memory", feature = "axum"))]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use sessionkit::store::db::DbStore;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer, SessionStore};
use tokio::sync::Barrier;
use tower::ServiceExt;

const N: usize = 50;

async fn increment(
    State(barrier): State<Arc<Barrier>>,
    session: Session,
) -> Result<String, SessionError> {
    barrier.wait().await;
    Ok(format!("{}", session.increment("visit", 1)?))
}

async fn set_key(
    State(barrier): State<Arc<Barrier>>,
    session: Session,
    req: Request<Body>,
) -> &'static str {
    barrier.wait().await;
    let which = req.uri().query().unwrap_or("none").to_owned();
    session.insert(which, &true).unwrap();
    "ok"
}

async fn read(session: Session) -> String {
    serde_json::to_string(&session.to_map()).unwrap()
}

fn app(store: Arc<dyn SessionStore>, barrier: Arc<Barrier>) -> Router {
    let config = SessionConfig::new(common::SECRET).unwrap();
    Router::new()
        .route("/inc", get(increment))
        .route("/set", get(set_key))
        .route("/read", get(read))
        .with_state(barrier)
        .layer(SessionLayer::from_arc(store, config))
}

async fn get_with(
    app: &Router,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut req = Request::get(uri);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("sessionid={c}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let cookie = res.headers().get("set-cookie").map(|v| {
        v.to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    });
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, cookie, String::from_utf8(body.to_vec()).unwrap())
}

/// `apps` share one store but not their in-process locks, like separate
/// processes: the compare-and-set in the store is what keeps the count exact.
async fn increments_are_exact(apps: Vec<Router>, barrier_apps: Vec<Router>) {
    let (status, cookie, _) = get_with(&apps[0], "/read", None).await;
    assert_eq!(status, 200);
    assert!(cookie.is_none(), "a read of a new session saves nothing");
    // Make the session: one increment (the barrier of 1 app passes at once).
    let (status, cookie, body) = get_with(&apps[0], "/inc", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let key = cookie.expect("new session cookie");

    let mut tasks = Vec::new();
    for i in 0..N {
        let app = barrier_apps[i % barrier_apps.len()].clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            get_with(&app, "/inc", Some(&key)).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, _, _) = t.await.unwrap();
        if status.is_success() {
            ok += 1;
        } else {
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "only retries running out may fail"
            );
        }
    }
    let (_, _, body) = get_with(&apps[0], "/read", Some(&key)).await;
    let map: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        map["visit"].as_i64().unwrap(),
        1 + ok as i64,
        "final count = successful increments"
    );
    assert_eq!(
        ok, N,
        "with in-process locking no request should run out of retries"
    );
}

async fn different_keys_survive(app_a: Router, app_b: Router, fresh: Router) {
    let (_, cookie, _) = get_with(&fresh, "/inc", None).await;
    let key = cookie.unwrap();
    let a = tokio::spawn({
        let key = key.clone();
        async move { get_with(&app_a, "/set?a", Some(&key)).await }
    });
    let b = tokio::spawn({
        let key = key.clone();
        async move { get_with(&app_b, "/set?b", Some(&key)).await }
    });
    assert_eq!(a.await.unwrap().0, 200);
    assert_eq!(b.await.unwrap().0, 200);
    let (_, _, body) = get_with(&fresh, "/read", Some(&key)).await;
    let map: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        map,
        serde_json::json!({"visit": 1, "a": true, "b": true}),
        "both writers' keys survive"
    );
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn SessionStore> {
    let url = format!("sqlite://{}", dir.path().join("c.sqlite3").display());
    let config = SessionConfig::new(common::SECRET).unwrap();
    Arc::new(DbStore::sqlite(&url, config.codec()).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_fifty_increments_one_process() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let one = app(store.clone(), Arc::new(Barrier::new(1)));
    let racing = app(store, Arc::new(Barrier::new(N)));
    increments_are_exact(vec![one], vec![racing]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_fifty_increments_two_processes() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let barrier = Arc::new(Barrier::new(N));
    let one = app(store.clone(), Arc::new(Barrier::new(1)));
    let racing = vec![app(store.clone(), barrier.clone()), app(store, barrier)];
    increments_are_exact(vec![one], racing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fifty_increments_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let one = app(store.clone(), Arc::new(Barrier::new(1)));
    let racing = app(store, Arc::new(Barrier::new(N)));
    increments_are_exact(vec![one], vec![racing]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fifty_increments_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    // Two stores on one file: two pools, like two processes.
    let (s1, s2) = (sqlite_store(&dir).await, sqlite_store(&dir).await);
    let barrier = Arc::new(Barrier::new(N));
    let one = app(s1.clone(), Arc::new(Barrier::new(1)));
    increments_are_exact(vec![one], vec![app(s1, barrier.clone()), app(s2, barrier)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_different_keys_both_survive() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let barrier = Arc::new(Barrier::new(2));
    different_keys_survive(
        app(store.clone(), barrier.clone()),
        app(store.clone(), barrier),
        app(store, Arc::new(Barrier::new(1))),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_different_keys_both_survive() {
    let dir = tempfile::tempdir().unwrap();
    let (s1, s2) = (sqlite_store(&dir).await, sqlite_store(&dir).await);
    let barrier = Arc::new(Barrier::new(2));
    different_keys_survive(
        app(s1.clone(), barrier.clone()),
        app(s2, barrier),
        app(s1, Arc::new(Barrier::new(1))),
    )
    .await;
}

//! A store that never answers (a half-open connection, a stalled server):
//! every request still answers within the configured deadline, with the
//! configured error status, no cookie, and nothing half-written (M4).
#![cfg(all(feature = "memory", feature = "axum"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use common::faulty::{Fault, Faulty, Op};
use common::http::get_with;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer};

/// Far below the default, far above a scheduler hiccup.
const DEADLINE: Duration = Duration::from_millis(300);
/// What "within the deadline" means here: generous, but well below forever.
const BOUND: Duration = Duration::from_secs(5);

async fn count(session: Session) -> Result<String, SessionError> {
    Ok(format!("{}", session.increment("visit", 1)?))
}

fn app(store: Arc<Faulty>) -> Router {
    let mut config = SessionConfig::new(common::SECRET).unwrap();
    config.store_timeout = DEADLINE;
    Router::new()
        .route("/visit", get(count))
        .layer(SessionLayer::from_arc(store, config))
}

/// GET /visit, failing the test instead of hanging when no answer comes.
async fn visit(app: &Router, cookie: Option<&str>) -> (StatusCode, Option<String>, String) {
    let started = Instant::now();
    let answer = tokio::time::timeout(BOUND, get_with(app, "/visit", cookie))
        .await
        .expect("the request hung past the store deadline");
    assert!(started.elapsed() < BOUND);
    answer
}

fn rig() -> (Arc<Faulty>, Router) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(store.clone());
    (store, app)
}

#[tokio::test]
async fn hanging_load_answers_503_within_the_deadline() {
    let (store, app) = rig();
    let (_, key, _) = visit(&app, None).await;
    let key = key.expect("a new session");
    store.set_fault(Op::Load, Some(Fault::Hang));
    let (status, cookie, _) = visit(&app, Some(&key)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cookie, None, "no Set-Cookie on a store timeout");
    store.set_fault(Op::Load, None);
    let (status, _, body) = visit(&app, Some(&key)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "2"));
}

#[tokio::test]
async fn hanging_save_answers_503_and_writes_nothing() {
    let (store, app) = rig();
    let (_, key, _) = visit(&app, None).await;
    let key = key.expect("a new session");
    store.set_fault(Op::Save, Some(Fault::Hang));
    let (status, cookie, _) = visit(&app, Some(&key)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cookie, None);
    store.set_fault(Op::Save, None);
    // The hung save never reached the store: the count goes on from 1.
    let (status, _, body) = visit(&app, Some(&key)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "2"));
}

#[tokio::test]
async fn hanging_create_answers_503_without_a_cookie() {
    let (store, app) = rig();
    store.set_fault(Op::Create, Some(Fault::Hang));
    let (status, cookie, _) = visit(&app, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cookie, None);
}

/// Requests of one session queue for this process's save lock behind a save
/// that hangs: the wait is bounded too, not one deadline per request ahead.
#[tokio::test]
async fn queued_saves_behind_a_hung_one_answer_within_the_deadline() {
    let (store, app) = rig();
    let (_, key, _) = visit(&app, None).await;
    let key = key.expect("a new session");
    store.set_fault(Op::Save, Some(Fault::Hang));
    let started = Instant::now();
    let requests = (0..24).map(|_| {
        let (app, key) = (app.clone(), key.clone());
        tokio::spawn(async move { get_with(&app, "/visit", Some(&key)).await })
    });
    let answers = tokio::time::timeout(BOUND, futures_join(requests.collect()))
        .await
        .expect("queued requests hung past the deadline");
    assert!(started.elapsed() < BOUND);
    for (status, cookie, _) in answers {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(cookie, None);
    }
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[test]
fn store_timeout_reads_seconds_from_the_environment() {
    let config = |value: &'static str| {
        SessionConfig::from_lookup(move |name| match name {
            "SECRET_KEY" => Some(common::SECRET.to_owned()),
            "SESSION_STORE_TIMEOUT" => Some(value.to_owned()),
            _ => None,
        })
    };
    assert_eq!(config("").unwrap().store_timeout, Duration::from_secs(5));
    assert_eq!(
        config("0.25").unwrap().store_timeout,
        Duration::from_millis(250)
    );
    for bad in ["0", "-2", "soon"] {
        let err = config(bad).unwrap_err().to_string();
        assert!(err.contains("SESSION_STORE_TIMEOUT"), "{err}");
    }
}

//! A store that never answers (a half-open connection, a stalled server):
//! every request still answers within the configured deadline, with the
//! configured error status, no cookie, and nothing half-written (M4), on
//! each adapter.
#![cfg(all(feature = "memory", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::app::{adapter_tests, config, Adapter, App, Reply, View};
use common::faulty::{Fault, Faulty, Op};
use common::http::get_with;
use sessionkit::store::memory::MemoryStore;
use sessionkit::SessionConfig;

/// Far below the default, far above a scheduler hiccup.
const DEADLINE: Duration = Duration::from_millis(300);
/// What "within the deadline" means here: generous, but well below forever.
const BOUND: Duration = Duration::from_secs(5);

fn rig(adapter: Adapter) -> (Arc<Faulty>, App) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let mut config = config();
    config.store_timeout = DEADLINE;
    let count = View::sync(|s| Ok(Reply::text(s.increment("visit", 1)?)));
    let app = App::serve(adapter, store.clone(), config, vec![("/visit", count)]);
    (store, app)
}

/// GET /visit, failing the test instead of hanging when no answer comes.
async fn visit(app: &App, cookie: Option<&str>) -> (StatusCode, Option<String>, String) {
    let started = Instant::now();
    let answer = tokio::time::timeout(BOUND, get_with(app, "/visit", cookie))
        .await
        .expect("the request hung past the store deadline");
    assert!(started.elapsed() < BOUND);
    answer
}

async fn hanging_load_answers_503_within_the_deadline(adapter: Adapter) {
    let (store, app) = rig(adapter);
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

async fn hanging_save_answers_503_and_writes_nothing(adapter: Adapter) {
    let (store, app) = rig(adapter);
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

async fn hanging_create_answers_503_without_a_cookie(adapter: Adapter) {
    let (store, app) = rig(adapter);
    store.set_fault(Op::Create, Some(Fault::Hang));
    let (status, cookie, _) = visit(&app, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cookie, None);
}

/// Requests of one session queue for this process's save lock behind a save
/// that hangs: the wait is bounded too, not one deadline per request ahead.
async fn queued_saves_behind_a_hung_one_answer_within_the_deadline(adapter: Adapter) {
    let (store, app) = rig(adapter);
    let (_, key, _) = visit(&app, None).await;
    let key = key.expect("a new session");
    store.set_fault(Op::Save, Some(Fault::Hang));
    let started = Instant::now();
    let requests: Vec<_> = (0..24)
        .map(|_| {
            let (app, key) = (app.clone(), key.clone());
            tokio::spawn(async move { get_with(&app, "/visit", Some(&key)).await })
        })
        .collect();
    let answers = tokio::time::timeout(BOUND, join(requests))
        .await
        .expect("queued requests hung past the deadline");
    assert!(started.elapsed() < BOUND);
    for (status, cookie, _) in answers {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(cookie, None);
    }
}

async fn join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

adapter_tests! {
    #[tokio::test] hanging_load_answers_503_within_the_deadline;
    #[tokio::test] hanging_save_answers_503_and_writes_nothing;
    #[tokio::test] hanging_create_answers_503_without_a_cookie;
    #[tokio::test] queued_saves_behind_a_hung_one_answer_within_the_deadline;
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

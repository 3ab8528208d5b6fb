//! The cache engine on one Redis server when the server fails: down behind a
//! proxy over HTTP, a dead server that fails fast and recovers, requests
//! run twice or whose reply is lost (applied once), and a restart that
//! loses the data and the cached scripts.
//!
//! Every test uses its own key prefix and deletes its keys at the end.
#![cfg(all(feature = "redis", feature = "conformance", feature = "axum"))]

mod common;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::store::redis::RedisStore;
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use time::Duration;

use common::data;
use common::proxy::{Fault, Proxy};
use common::redis::{
    closed_port, keys_under, open, private_server, purge, real_now, store_through,
};
use common::services::{available, host_port, redis_url, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_store_down_then_recovers() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = store_through(&proxy, &prefix).await;
    let bounded = tokio::time::timeout(
        StdDuration::from_secs(60),
        common::http::store_down_then_recovers(Arc::new(store), &proxy),
    );
    bounded.await.expect("the outage test hung");
    purge(&prefix).await;
}

#[tokio::test]
async fn a_dead_server_fails_fast_and_the_store_recovers() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = store_through(&proxy, &prefix).await;
    let now = real_now();
    let saved = store
        .create(
            &Record::new(data(json!({"a": 1})), now + Duration::hours(1)),
            now,
        )
        .await
        .expect("create");

    proxy.cut();
    for _ in 0..3 {
        let started = Instant::now();
        let failed = store.load(&saved.cookie_value, now).await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "load while down: {failed:?}"
        );
        assert!(
            started.elapsed() < StdDuration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }

    proxy.restore();
    let mut back = None;
    for _ in 0..50 {
        if let Ok(found) = store.load(&saved.cookie_value, now).await {
            back = Some(found);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let back = back.expect("the store recovers by itself");
    assert_eq!(back.map(|l| l.record.data), Some(data(json!({"a": 1}))));

    let refused = RedisStore::open(&format!("redis://{}", closed_port().await)).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    purge(&prefix).await;
}

/// Every script request that reaches the server twice (a client's re-send
/// after a lost reply) does what it did once: a create makes one entry, a
/// save applies once and answers `Saved`, not `Conflict`.
#[tokio::test]
async fn a_request_run_twice_applies_once() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = store_through(&proxy, &prefix).await;
    let now = real_now();

    proxy.arm(Fault::Duplicate, b"EVAL");
    let created = store
        .create(&Record::new(data(json!({})), now + Duration::hours(1)), now)
        .await
        .expect("create");
    assert_eq!(proxy.fired(), 1, "the create was not duplicated");
    assert_eq!(
        keys_under(&prefix).await.len(),
        1,
        "a create run twice left a second entry"
    );

    let rounds = 8;
    let tally = common::replay::increments(&store, &created.cookie_value, rounds, now, |_| {
        proxy.arm(Fault::Duplicate, b"EVAL");
    })
    .await;
    assert_eq!(proxy.fired(), 1 + rounds, "not every save was duplicated");
    assert_eq!(tally.saved, rounds, "{tally:?}");
    assert_eq!(tally.replays, 0, "a save contradicted itself: {tally:?}");

    let loaded = store.load(&created.cookie_value, now).await.expect("load");
    let version = loaded.expect("the session").version;
    proxy.arm(Fault::Duplicate, b"EVAL");
    let gone = store.delete_if(&created.cookie_value, &version, now).await;
    assert!(matches!(gone, Ok(true)), "delete_if run twice: {gone:?}");
    assert!(keys_under(&prefix).await.is_empty());
    purge(&prefix).await;
}

/// A save whose reply is lost after the server ran it is `Unavailable` (the
/// outcome is unknown), never `Conflict`, and is applied at most once.
#[tokio::test]
async fn a_lost_reply_is_unavailable_and_applies_once() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = store_through(&proxy, &prefix).await;
    let now = real_now();
    let created = store
        .create(&Record::new(data(json!({})), now + Duration::hours(1)), now)
        .await
        .expect("create");
    let rounds = 6;
    let tally = common::replay::increments(&store, &created.cookie_value, rounds, now, |round| {
        if round % 2 == 0 {
            proxy.arm(Fault::LoseReply, b"EVAL");
        }
    })
    .await;
    assert_eq!(proxy.fired(), rounds / 2);
    assert_eq!(tally.unavailable, rounds / 2, "{tally:?}");
    assert_eq!(tally.saved, rounds / 2, "{tally:?}");
    assert_eq!(tally.replays, 0, "{tally:?}");
    purge(&prefix).await;
}

/// A server restart loses the data and the cached scripts: the store goes on
/// by itself, and its scripts run again (EVALSHA falls back to EVAL).
#[tokio::test]
async fn a_restarted_server_is_used_again() {
    let port = closed_port().await.port();
    let Some(mut server) = private_server(port).await else {
        return;
    };
    let store = open(&format!("redis://127.0.0.1:{port}"), "").await;
    let now = real_now();
    let record = Record::new(data(json!({"a": 1})), now + Duration::hours(1));
    let saved = store.create(&record, now).await.expect("create");
    assert!(store
        .load(&saved.cookie_value, now)
        .await
        .expect("load")
        .is_some());

    server.kill().await.expect("stop the private server");
    let failed = store.load(&saved.cookie_value, now).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );

    let Some(mut server) = private_server(port).await else {
        panic!("the private server did not restart");
    };
    let mut gone = None;
    for _ in 0..50 {
        if let Ok(found) = store.load(&saved.cookie_value, now).await {
            gone = Some(found);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(
        gone.expect("the store recovers").is_none(),
        "data survived a restart without persistence"
    );
    let again = store
        .create(&record, now)
        .await
        .expect("create after restart");
    let loaded = store
        .load(&again.cookie_value, now)
        .await
        .expect("load")
        .expect("live");
    let outcome = store
        .save(&again.cookie_value, &record, &loaded.version, now)
        .await
        .expect("save after restart");
    assert!(matches!(outcome, SaveOutcome::Saved(_)));
    server.kill().await.expect("stop the private server");
}

//! The cache engine on Memcached when the server fails: an unreachable or
//! silent server fails fast, a server down behind a proxy over HTTP, dead
//! idle connections after a restart, and a lost reply (applied once).
//!
//! Every test uses its own key prefix; nothing here flushes the shared
//! server.
#![cfg(all(
    feature = "memcached",
    feature = "conformance",
    feature = "axum",
    feature = "memory"
))]

mod common;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::store::memcached::{MemcachedOptions, MemcachedStore};
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use time::Duration;

use common::data;
use common::memcached::{now, store_through};
use common::proxy::{Fault, Proxy};
use common::services::{available, host_port, memcached_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable_quickly() {
    let started = Instant::now();
    // Nothing listens on port 1.
    let result = MemcachedStore::open("memcache://127.0.0.1:1").await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );

    // A server that accepts and never answers: the deadline ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let result = MemcachedOptions::new()
        .timeout(StdDuration::from_millis(300))
        .open(&format!("memcache://{addr}"))
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < StdDuration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_then_back() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let proxy = Proxy::start(&host_port(&memcached_url())).await;
    let store = store_through(&proxy).await;
    common::http::store_down_then_recovers(Arc::new(store), &proxy).await;
}

/// After a server restart every idle connection is dead. The first read (or
/// `add`, or plain delete) on one retries on a fresh connection and drops the
/// other idle ones, so the next request does not fail for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_idle_connections_are_replaced_quietly() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let proxy = Proxy::start(&host_port(&memcached_url())).await;
    let store = store_through(&proxy).await;
    let now = now();
    let record = Record::new(data(json!({"n": 1})), now + Duration::minutes(5));
    let key = store
        .create(&record, now)
        .await
        .expect("create")
        .cookie_value;

    // A restart: the connections in the pool are cut, the server is back.
    proxy.cut();
    proxy.restore();
    let loaded = store
        .load(&key, now)
        .await
        .expect("a load on a dead idle connection retries")
        .expect("live");
    let next = Record::new(data(json!({"n": 2})), now + Duration::minutes(5));
    let outcome = store
        .save(&key, &next, &loaded.version, now)
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");

    proxy.cut();
    proxy.restore();
    let other = store.create(&record, now).await.expect("an add retries");
    proxy.cut();
    proxy.restore();
    store
        .delete(&other.cookie_value)
        .await
        .expect("a plain delete retries");
    store.delete(&key).await.expect("delete");
}

/// A `cas` whose reply is lost after the server ran it is `Unavailable` (the
/// outcome is unknown), never retried and never `Conflict`: the change is
/// applied at most once. A compare-and-delete likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reply_is_unavailable_and_applies_once() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let proxy = Proxy::start(&host_port(&memcached_url())).await;
    let store = store_through(&proxy).await;
    let now = now();
    let key = store
        .create(
            &Record::new(data(json!({})), now + Duration::minutes(5)),
            now,
        )
        .await
        .expect("create")
        .cookie_value;
    let rounds = 6;
    let tally = common::replay::increments(&store, &key, rounds, now, |round| {
        if round % 2 == 0 {
            proxy.arm(Fault::LoseReply, b"ms ");
        }
    })
    .await;
    assert_eq!(proxy.fired(), rounds / 2);
    assert_eq!(tally.unavailable, rounds / 2, "{tally:?}");
    assert_eq!(tally.saved, rounds / 2, "{tally:?}");
    assert_eq!(tally.replays, 0, "{tally:?}");

    let version = common::replay::load_retrying(&store, &key, now)
        .await
        .version;
    proxy.arm(Fault::LoseReply, b"md ");
    let lost = store.delete_if(&key, &version, now).await;
    assert!(
        matches!(lost, Err(StoreError::Unavailable(_))),
        "delete_if with its reply lost: {lost:?}"
    );
    assert_eq!(proxy.fired(), rounds / 2 + 1);
    let mut gone = None;
    for _ in 0..20 {
        match store.load(&key, now).await {
            Ok(found) => {
                gone = Some(found.is_none());
                break;
            }
            Err(_) => tokio::time::sleep(StdDuration::from_millis(50)).await,
        }
    }
    assert_eq!(gone, Some(true), "the delete ran before its reply was lost");
}

//! The cache engine on a Redis Cluster (3 nodes, from `.ci/services.sh`): the
//! conformance suite, exact concurrent increments from two connections,
//! re-sent requests applied once, sessions spread over the nodes, prefixes
//! and URLs, and a cluster that is down.
//!
//! Every test uses its own key prefix and deletes its keys at the end, node by
//! node; none flushes the cluster.
#![cfg(all(feature = "redis", feature = "conformance", feature = "axum"))]

mod common;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster::NodeAddress;
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::redis::{RedisOptions, RedisStore};
use sessionkit::store::{Record, SessionStore};
use time::Duration;

use common::codec;
use common::proxy::{Fault, Proxy};
use common::redis::{cluster_store as store, for_layer, keys_on, purge_on, real_now, Mode};
use common::services::{available, redis_cluster_url, redis_url, unique};

/// `host:port` of every seed node of the test cluster URL.
fn nodes() -> Vec<String> {
    Mode::Cluster.nodes()
}

/// Deletes every key under `prefix`, on the node that holds it.
async fn purge(prefix: &str) {
    purge_on(Mode::Cluster, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    if !available("Redis Cluster", &redis_cluster_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    let caps = Capabilities::new().clear_expired_counts(false);
    conformance::run_all(&store, caps, real_now()).await;
    purge(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_concurrent_increments_from_two_connections() {
    if !available("Redis Cluster", &redis_cluster_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    // No keys of their own: the layer gives them.
    let url = redis_cluster_url();
    let (a, b) = (
        for_layer(&url, &prefix).await,
        for_layer(&url, &prefix).await,
    );
    common::http::concurrent_increments([Arc::new(a), Arc::new(b)]).await;
    purge(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_different_keys_survive() {
    if !available("Redis Cluster", &redis_cluster_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    // No keys of their own: the layer gives them.
    let url = redis_cluster_url();
    let (a, b) = (
        for_layer(&url, &prefix).await,
        for_layer(&url, &prefix).await,
    );
    common::http::different_keys_survive([Arc::new(a), Arc::new(b)]).await;
    purge(&prefix).await;
}

/// A store on the test cluster with every node behind a proxy of the test's
/// own (the cluster names its nodes by their real addresses; the address map
/// sends those connections to the proxies), and the client's usual re-sends:
/// up to 3 per request, after a broken connection among others.
async fn store_through_proxies(prefix: &str) -> (RedisStore, Vec<Proxy>) {
    let mut proxies = Vec::new();
    let mut map = HashMap::new();
    for addr in nodes() {
        let proxy = Proxy::start(&addr).await;
        map.insert(
            NodeAddress::from_str(&addr).expect("a node address"),
            NodeAddress::from_str(&proxy.addr().to_string()).expect("a proxy address"),
        );
        proxies.push(proxy);
    }
    let seeds: Vec<String> = proxies
        .iter()
        .map(|p| format!("redis://{}", p.addr()))
        .collect();
    let connection = ClusterClientBuilder::new(seeds)
        .node_address_map(map)
        .retries(3)
        .min_retry_wait(50)
        .max_retry_wait(1_000)
        .connection_timeout(StdDuration::from_secs(2))
        .response_timeout(StdDuration::from_secs(3))
        .build()
        .expect("a cluster client")
        .get_async_connection()
        .await
        .expect("connect to the cluster through the proxies");
    let store = RedisOptions::new()
        .prefix(prefix)
        .from_connection(connection)
        .expect("a prefix without a hash tag")
        .with_codec(codec());
    (store, proxies)
}

/// The cluster client re-sends a save whose reply was lost: the copy finds
/// the first run's write and answers `Saved` (no conflict, so no replay
/// applying the change twice). A save run twice likewise applies once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_saves_apply_once() {
    if !available("Redis Cluster", &redis_cluster_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let (store, proxies) = store_through_proxies(&prefix).await;
    let now = real_now();
    let created = store
        .create(
            &Record::new(serde_json::Map::new(), now + Duration::hours(1)),
            now,
        )
        .await
        .expect("create");
    // The proxy of the node owning the session's slot: a fault armed on the
    // others could hit a request the client sends there while it reconnects.
    let mut owner = None;
    for (addr, proxy) in nodes().iter().zip(&proxies) {
        if !keys_on(addr, &prefix).await.is_empty() {
            owner = Some(proxy);
        }
    }
    let owner = owner.expect("the node holding the session");

    let rounds = 6;
    let tally = common::replay::increments(&store, &created.cookie_value, rounds, now, |_| {
        owner.arm(Fault::LoseReply, b"EVAL");
    })
    .await;
    assert_eq!(owner.fired(), rounds, "not every save lost its reply");
    assert_eq!(tally.replays, 0, "a re-sent save said conflict: {tally:?}");
    assert_eq!(tally.saved + tally.unavailable, rounds, "{tally:?}");

    // Afresh: the tally counts from an empty session.
    let record = Record::new(serde_json::Map::new(), now + Duration::hours(1));
    store
        .save(
            &created.cookie_value,
            &record,
            &store
                .load(&created.cookie_value, now)
                .await
                .expect("load")
                .expect("live")
                .version,
            now,
        )
        .await
        .expect("reset the session");
    let tally = common::replay::increments(&store, &created.cookie_value, rounds, now, |_| {
        owner.arm(Fault::Duplicate, b"EVAL");
    })
    .await;
    assert_eq!(owner.fired(), 2 * rounds, "not every save was duplicated");
    assert_eq!(
        tally.replays, 0,
        "a duplicated save said conflict: {tally:?}"
    );
    assert_eq!(tally.saved, rounds, "{tally:?}");
    purge(&prefix).await;
}

/// One key per session, and no hash tag: sessions land on every node.
#[tokio::test]
async fn sessions_spread_over_the_nodes() {
    if !available("Redis Cluster", &redis_cluster_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    assert!(format!("{store:?}").contains("cluster"));
    let now = real_now();
    let record = Record::new(
        json!({"a": 1}).as_object().cloned().unwrap_or_default(),
        now + Duration::hours(1),
    );
    let mut created = Vec::new();
    for _ in 0..30 {
        created.push(store.create(&record, now).await.expect("create"));
    }
    for saved in &created {
        let loaded = store.load(&saved.cookie_value, now).await.expect("load");
        assert_eq!(loaded.map(|l| l.record), Some(record.clone()));
    }
    let mut holding = 0;
    for addr in nodes() {
        if !keys_on(&addr, &prefix).await.is_empty() {
            holding += 1;
        }
    }
    assert!(holding >= 2, "30 sessions all landed on {holding} node(s)");
    purge(&prefix).await;
}

/// A cluster whose seed nodes are all down fails at once with `Unavailable`.
#[tokio::test]
async fn a_cluster_that_is_down_is_unavailable_quickly() {
    let mut addrs = Vec::new();
    for _ in 0..3 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        addrs.push(listener.local_addr().expect("its address").to_string());
    }
    let url = format!("redis+cluster://{}", addrs.join(","));
    let started = Instant::now();
    let opened = RedisStore::open(&url).await;
    assert!(
        matches!(opened, Err(StoreError::Unavailable(_))),
        "{opened:?}"
    );
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn cluster_urls() {
    for url in [
        "redis+cluster://:hunter2secret@",
        "redis+cluster://:hunter2secret@127.0.0.1:7000,,127.0.0.1:7001",
        "rediss+cluster://:hunter2secret@127.0.0.1:7000",
    ] {
        match RedisStore::open(url).await {
            Err(StoreError::Config(message)) => {
                assert!(!message.contains("hunter2"), "{message}");
            }
            other => panic!("{url}: expected a config error, got {other:?}"),
        }
    }
}

/// A hash tag in the prefix would send every session to one slot: a cluster
/// refuses it when the store is built, a single server takes it.
#[tokio::test]
async fn a_hash_tag_prefix_is_refused_on_a_cluster() {
    if !available("Redis Cluster", &redis_cluster_url()).await
        || !available("Redis", &redis_url()).await
    {
        return;
    }
    let tagged = format!("{{{}}}:", unique("sk_test"));
    let refused = RedisOptions::new()
        .prefix(&tagged)
        .open(&redis_cluster_url())
        .await;
    match refused {
        Err(StoreError::Config(message)) => assert!(message.contains("hash tag"), "{message}"),
        other => panic!("a hash tag on a cluster: {other:?}"),
    }
    let single = RedisOptions::new().prefix(&tagged).open(&redis_url()).await;
    assert!(single.is_ok(), "{single:?}");
}

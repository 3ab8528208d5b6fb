//! The cache engine on a Redis Cluster (3 nodes, from `.ci/services.sh`): the
//! conformance suite, exact concurrent increments from two connections,
//! sessions spread over the nodes, and a cluster that is down.
//!
//! Every test uses its own key prefix and deletes its keys at the end, node by
//! node; none flushes the cluster.
#![cfg(all(feature = "redis", feature = "conformance", feature = "axum"))]

mod common;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster::NodeAddress;
use ::redis::{cmd, AsyncCommands};
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::signing::Codec;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::redis::RedisStore;
use sessionkit::store::{Record, SessionStore};
use sessionkit::SessionConfig;
use time::{Duration, OffsetDateTime};

use common::proxy::{Fault, Proxy};
use common::services::{available, redis_cluster_url, unique};

fn codec() -> Codec {
    SessionConfig::new(common::SECRET)
        .expect("a valid test config")
        .codec()
}

/// A store on the test cluster with a prefix of its own.
async fn store(prefix: &str) -> RedisStore {
    RedisStore::cluster(&redis_cluster_url(), codec())
        .await
        .expect("connect to the test cluster")
        .with_prefix(prefix)
}

/// `host:port` of every seed node of the test cluster URL.
fn nodes() -> Vec<String> {
    let url = redis_cluster_url();
    let hosts = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let hosts = hosts.rsplit_once('@').map_or(hosts, |(_, h)| h);
    let hosts = hosts.split(['/', '?']).next().unwrap_or(hosts);
    hosts.split(',').map(str::to_owned).collect()
}

/// A plain connection to one node.
async fn node(addr: &str) -> MultiplexedConnection {
    ::redis::Client::open(format!("redis://{addr}"))
        .expect("a node URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a raw connection to a cluster node")
}

/// The keys under `prefix` that `addr` holds.
async fn keys_on(addr: &str, prefix: &str) -> Vec<String> {
    let mut conn = node(addr).await;
    let mut found = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN a node");
        found.extend(keys);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// Deletes every key under `prefix` (a test prefix: `[a-z0-9_]`), on the
/// node that holds it.
async fn purge(prefix: &str) {
    for addr in nodes() {
        let keys = keys_on(&addr, prefix).await;
        let mut conn = node(&addr).await;
        for k in keys {
            let _: () = conn.del(&k).await.expect("delete a test key");
        }
    }
}

fn real_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - Duration::nanoseconds(i64::from(now.nanosecond() % 1_000))
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
    let (a, b) = (store(&prefix).await, store(&prefix).await);
    common::http::concurrent_increments([Arc::new(a), Arc::new(b)]).await;
    purge(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_different_keys_survive() {
    if !available("Redis Cluster", &redis_cluster_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let (a, b) = (store(&prefix).await, store(&prefix).await);
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
    let store = RedisStore::from_cluster_connection(connection, codec()).with_prefix(prefix);
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
    let store = RedisStore::open(&redis_cluster_url(), codec())
        .await
        .expect("open dispatches a cluster URL")
        .with_prefix(&prefix);
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
    let opened = RedisStore::cluster(&url, codec()).await;
    assert!(
        matches!(opened, Err(StoreError::Unavailable(_))),
        "{opened:?}"
    );
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let opened = RedisStore::open(&url, codec()).await;
    assert!(matches!(opened, Err(StoreError::Unavailable(_))));
}

#[tokio::test]
async fn cluster_urls() {
    for url in [
        "redis://127.0.0.1:7000",
        "redis+cluster://:hunter2secret@",
        "redis+cluster://:hunter2secret@127.0.0.1:7000,,127.0.0.1:7001",
        "rediss+cluster://:hunter2secret@127.0.0.1:7000",
    ] {
        match RedisStore::cluster(url, codec()).await {
            Err(StoreError::Config(message)) => {
                assert!(!message.contains("hunter2"), "{message}");
            }
            other => panic!("{url}: expected a config error, got {other:?}"),
        }
    }
}

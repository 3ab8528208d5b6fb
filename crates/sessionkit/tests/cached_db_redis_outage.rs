//! The `cached_db` engine with Redis as its shared cache, when the cache
//! goes down: sessions are served by the db alone, on one server (cut by a
//! proxy) and on a private one-node Cluster (stopped).
//!
//! Every test uses its own key prefix and temp database, and deletes its
//! keys; none flushes the shared servers.
#![cfg(all(
    feature = "redis",
    feature = "sqlite",
    feature = "memory",
    feature = "conformance",
    feature = "axum"
))]

mod common;

use std::time::Duration as StdDuration;

use sessionkit::store::redis::RedisCache;
use sessionkit::store::SessionStore;
use tempfile::TempDir;
use time::Duration;

use common::cached_db::{count, real_now, record};
use common::proxy::Proxy;
use common::redis::{cache, private_cluster, purge_on, Mode};
use common::services::{available, host_port, redis_url, unique};

type Process = common::cached_db::Process<RedisCache>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_down_is_not_fatal_on_one_server() {
    let bounded = tokio::time::timeout(StdDuration::from_secs(120), cache_down_behind_a_proxy());
    bounded.await.expect("the outage test hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_down_is_not_fatal_on_a_cluster() {
    let bounded = tokio::time::timeout(StdDuration::from_secs(120), cluster_cache_down());
    bounded.await.expect("the outage test hung");
}

/// The cache reaches the shared server through a proxy this test owns.
async fn cache_down_behind_a_proxy() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_cdb");
    let dir = TempDir::new().expect("temp dir");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let cache = cache(&format!("redis://{}", proxy.addr()), &prefix).await;
    let process = Process::new(&dir, cache).await;
    common::cached_db::the_cache_goes_down_and_comes_back(&process, &proxy).await;
    drop(proxy);
    purge_on(Mode::Node, &prefix).await;
}

/// A cluster cannot be cut by a proxy (its clients go to the addresses the
/// nodes announce), so this one runs a private one-node cluster and stops it.
async fn cluster_cache_down() {
    let Some((mut server, port, _dir)) = private_cluster().await else {
        return;
    };
    let dir = TempDir::new().expect("temp dir");
    let cache = cache(&format!("redis+cluster://127.0.0.1:{port}"), "sk_cdb_").await;
    let Process { db, store, .. } = Process::new(&dir, cache).await;
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let created = store
        .create(&record(1, expires_at), now)
        .await
        .expect("create");
    let key = &created.cookie_value;
    let before = db.calls();
    assert_eq!(
        count(&store.load(key, now).await.expect("load").expect("live")),
        1
    );
    assert_eq!(db.calls(), before, "the private cluster did not cache");

    server.kill().await.expect("stop the private cluster");
    common::cached_db::db_serves_alone(&store, key, expires_at, now).await;
}

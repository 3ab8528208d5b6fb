//! The `cached_db` engine given its keys once, by the layer: a Redis or
//! Memcached cache built without keys signs its entries with the layer's
//! (`SessionStore::attach` reaches it through the `CachedDbStore`), so a hit
//! costs no db call; before that every cache call fails and the db answers.
//! (The db half: `cached_db.rs`, `the_layer_settings_reach_the_db_and_the_cache`.)
#![cfg(all(
    feature = "sqlite",
    feature = "memory",
    feature = "redis",
    feature = "memcached"
))]

mod common;

use sessionkit::store::cached_db::{CachedDbStore, SessionCache};
use sessionkit::store::memcached::MemcachedCache;
use sessionkit::store::redis::RedisCache;
use sessionkit::store::SessionStore;
use sessionkit::SessionConfig;
use tempfile::TempDir;
use time::Duration;

use common::cached_db::{count, real_now, record, Process};
use common::services::{available, memcached_url, redis_url, unique};

/// `p`'s cache has no keys: its calls fail, and each load reads the db.
/// Once the layer's settings reach `p.store`, a hit is served by the cache.
async fn the_layer_keys_reach_the_cache<C: SessionCache>(p: &Process<C>) {
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let created = p
        .store
        .create(&record(1, expires_at), now)
        .await
        .expect("the db answers without the cache");
    let key = &created.cookie_value;
    let before = p.db.calls();
    p.store.load(key, now).await.expect("load").expect("live");
    assert_eq!(
        p.db.calls(),
        before + 1,
        "a cache without keys served a hit"
    );

    attach(&p.store);
    let created = p
        .store
        .create(&record(2, expires_at), now)
        .await
        .expect("create");
    let before = p.db.calls();
    for _ in 0..2 {
        let loaded = p
            .store
            .load(&created.cookie_value, now)
            .await
            .expect("load")
            .expect("live");
        assert_eq!(count(&loaded), 2);
    }
    assert_eq!(
        p.db.calls(),
        before,
        "the cache did not take the layer's keys"
    );
    p.store.delete(&created.cookie_value).await.expect("delete");
    p.store.delete(key).await.expect("delete");
}

/// What the session layer does when it is built.
fn attach(store: &CachedDbStore) {
    let config = SessionConfig::new(common::SECRET).expect("a valid config");
    store.attach(&config);
}

#[tokio::test]
async fn a_redis_cache_takes_the_layer_keys() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let prefix = unique("sk_attach");
    let redis = common::redis::for_layer(&redis_url(), &prefix).await;
    let p = Process::new(&dir, RedisCache::new(redis)).await;
    the_layer_keys_reach_the_cache(&p).await;
    common::redis::purge(&prefix).await;
}

#[tokio::test]
async fn a_memcached_cache_takes_the_layer_keys() {
    if !available("memcached", &memcached_url()).await {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let memcached = common::memcached::for_layer(&common::memcached::prefix()).await;
    let cache = MemcachedCache::new(memcached).expect("a prefix that fits");
    let p = Process::new(&dir, cache).await;
    the_layer_keys_reach_the_cache(&p).await;
}

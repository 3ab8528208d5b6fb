//! The `cached_db` engine: the in-process cache over SQLite. The conformance
//! suite (with the cache up and down), what a hit costs, how stale entries are
//! repaired, and how the layer's settings reach both halves. (Racing cache
//! writes and increments across processes: `cached_db_races.rs`.)
#![cfg(all(
    feature = "sqlite",
    feature = "memory",
    feature = "conformance",
    feature = "axum"
))]

mod common;

use common::cached_db::{count, record, saved};
use common::cached_db_rig::rig;
use sessionkit::store::cached_db::SessionCache;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::{SaveOutcome, SessionStore};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A fixed, realistic time with microseconds, as Django keeps them.
const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

#[tokio::test]
async fn conformance() {
    let rig = rig().await;
    conformance::run_all(&rig.store, Capabilities::new(), NOW).await;
}

#[tokio::test]
async fn conformance_at_the_real_time() {
    let rig = rig().await;
    conformance::run_all(&rig.store, Capabilities::new(), OffsetDateTime::now_utc()).await;
}

#[tokio::test]
async fn conformance_with_the_cache_down() {
    let rig = rig().await;
    rig.cache.set_down(true);
    conformance::run_all(&rig.store, Capabilities::new(), NOW).await;
    assert!(rig.cache.calls() > 0, "the cache was never tried");
}

#[tokio::test]
async fn conformance_with_cache_writes_failing() {
    let rig = rig().await;
    rig.cache.set_writes_fail(true);
    conformance::run_all(&rig.store, Capabilities::new(), NOW).await;
}

#[tokio::test]
async fn a_hit_costs_no_db_call() {
    let rig = rig().await;
    let expires_at = NOW + Duration::hours(1);
    let created = rig.store.create(&record(1, expires_at), NOW).await.unwrap();
    let key = &created.cookie_value;

    let before = rig.db.calls();
    let loaded = rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!(count(&loaded), 1);
    assert_eq!(
        loaded.version, created.version,
        "a hit carries the db's version"
    );
    rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!(rig.db.calls(), before, "a cache hit reached the db");

    let next = saved(
        &rig.store,
        key,
        &record(2, expires_at),
        &loaded.version,
        NOW,
    )
    .await;
    assert_eq!(rig.db.calls(), before + 1, "a save is one db call");
    let loaded = rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!((count(&loaded), &loaded.version), (2, &next));
    assert_eq!(rig.db.calls(), before + 1, "the save wrote through");
}

#[tokio::test]
async fn a_miss_reads_the_db_once_and_fills_the_cache() {
    let rig = rig().await;
    let key = rig
        .plain
        .create(&record(7, NOW + Duration::hours(1)), NOW)
        .await
        .unwrap()
        .cookie_value;
    let before = rig.db.calls();
    assert_eq!(count(&rig.store.load(&key, NOW).await.unwrap().unwrap()), 7);
    assert_eq!(rig.db.calls(), before + 1);
    assert_eq!(count(&rig.store.load(&key, NOW).await.unwrap().unwrap()), 7);
    assert_eq!(
        rig.db.calls(),
        before + 1,
        "the miss did not fill the cache"
    );
}

#[tokio::test]
async fn the_cache_down_is_not_fatal() {
    let rig = rig().await;
    rig.cache.set_down(true);
    let expires_at = NOW + Duration::hours(1);
    let created = rig.store.create(&record(1, expires_at), NOW).await.unwrap();
    let key = &created.cookie_value;
    let loaded = rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!(count(&loaded), 1);
    saved(
        &rig.store,
        key,
        &record(2, expires_at),
        &loaded.version,
        NOW,
    )
    .await;
    assert!(rig
        .store
        .touch(key, NOW + Duration::hours(2), NOW)
        .await
        .unwrap());
    let loaded = rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!(
        (count(&loaded), loaded.record.expires_at),
        (2, NOW + Duration::hours(2))
    );
    assert_eq!(
        rig.store
            .clear_expired(NOW + Duration::days(1))
            .await
            .unwrap(),
        1
    );
    rig.store.delete(key).await.unwrap();

    // Back up: the cache is used again, and serves nothing stale.
    rig.cache.set_down(false);
    let created = rig.store.create(&record(3, expires_at), NOW).await.unwrap();
    let before = rig.db.calls();
    let loaded = rig.store.load(&created.cookie_value, NOW).await.unwrap();
    assert_eq!(count(&loaded.unwrap()), 3);
    assert_eq!(
        rig.db.calls(),
        before,
        "the cache is not used after recovery"
    );
}

#[tokio::test]
async fn a_stale_entry_conflicts_and_the_reload_repairs_it() {
    let rig = rig().await;
    let expires_at = NOW + Duration::hours(1);
    let created = rig.store.create(&record(1, expires_at), NOW).await.unwrap();
    let key = &created.cookie_value;

    // Another writer, behind the cache's back.
    let fresh = rig.plain.load(key, NOW).await.unwrap().unwrap();
    saved(
        &*rig.plain,
        key,
        &record(10, expires_at),
        &fresh.version,
        NOW,
    )
    .await;

    let stale = rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!(count(&stale), 1, "the cache does not know yet");
    let outcome = rig
        .store
        .save(key, &record(2, expires_at), &stale.version, NOW)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        SaveOutcome::Conflict,
        "a stale cache hit let a write through"
    );

    let before = rig.db.calls();
    let reloaded = rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!(count(&reloaded), 10, "the reload came from the stale cache");
    assert_eq!(rig.db.calls(), before + 1, "the reload must read the db");
    saved(
        &rig.store,
        key,
        &record(11, expires_at),
        &reloaded.version,
        NOW,
    )
    .await;

    let before = rig.db.calls();
    assert_eq!(count(&rig.store.load(key, NOW).await.unwrap().unwrap()), 11);
    assert_eq!(rig.db.calls(), before, "the cache was not repaired");
    assert_eq!(count(&rig.plain.load(key, NOW).await.unwrap().unwrap()), 11);
}

#[tokio::test]
async fn gone_drops_the_entry() {
    let rig = rig().await;
    let expires_at = NOW + Duration::hours(1);
    let created = rig.store.create(&record(1, expires_at), NOW).await.unwrap();
    let key = &created.cookie_value;
    // Deleted by another process: this one's cache still has it.
    rig.plain.delete(key).await.unwrap();
    let stale = rig.store.load(key, NOW).await.unwrap().unwrap();

    let outcome = rig
        .store
        .save(key, &record(2, expires_at), &stale.version, NOW)
        .await
        .unwrap();
    assert_eq!(outcome, SaveOutcome::Gone);
    assert!(
        rig.cache.inner.get(key, NOW).await.unwrap().is_none(),
        "Gone left the cache entry"
    );
    assert!(rig.store.load(key, NOW).await.unwrap().is_none());
    assert!(
        rig.plain.load(key, NOW).await.unwrap().is_none(),
        "recreated"
    );
}

#[tokio::test]
async fn delete_drops_the_entry() {
    let rig = rig().await;
    let created = rig
        .store
        .create(&record(1, NOW + Duration::hours(1)), NOW)
        .await
        .unwrap();
    let key = &created.cookie_value;
    rig.store.delete(key).await.unwrap();
    assert!(rig.cache.inner.get(key, NOW).await.unwrap().is_none());
    assert!(rig.store.load(key, NOW).await.unwrap().is_none());
}

/// A cache that answers reads but fails writes and deletes cannot be cleaned;
/// the session is then read from the db until the cache takes a write again.
#[tokio::test]
async fn an_entry_the_cache_cannot_drop_is_bypassed() {
    let rig = rig().await;
    let expires_at = NOW + Duration::hours(1);
    let created = rig.store.create(&record(1, expires_at), NOW).await.unwrap();
    let key = &created.cookie_value;
    let fresh = rig.plain.load(key, NOW).await.unwrap().unwrap();
    saved(
        &*rig.plain,
        key,
        &record(10, expires_at),
        &fresh.version,
        NOW,
    )
    .await;

    rig.cache.set_writes_fail(true);
    let stale = rig.store.load(key, NOW).await.unwrap().unwrap();
    let outcome = rig
        .store
        .save(key, &record(2, expires_at), &stale.version, NOW)
        .await
        .unwrap();
    assert_eq!(outcome, SaveOutcome::Conflict);
    let reloaded = rig.store.load(key, NOW).await.unwrap().unwrap();
    assert_eq!(
        count(&reloaded),
        10,
        "the reload after a conflict must bypass a cache it could not clean"
    );
    saved(
        &rig.store,
        key,
        &record(11, expires_at),
        &reloaded.version,
        NOW,
    )
    .await;
    assert_eq!(count(&rig.store.load(key, NOW).await.unwrap().unwrap()), 11);

    // A logout while the cache still holds the session: never served again.
    rig.store.delete(key).await.unwrap();
    assert!(rig.cache.inner.get(key, NOW).await.unwrap().is_some());
    assert!(
        rig.store.load(key, NOW).await.unwrap().is_none(),
        "a deleted session was served from the cache"
    );

    rig.cache.set_writes_fail(false);
    assert!(rig.store.load(key, NOW).await.unwrap().is_none());
    assert!(
        rig.cache.inner.get(key, NOW).await.unwrap().is_none(),
        "the recovered cache was not cleaned"
    );
    assert!(format!("{:?}", rig.store).contains("untrusted: 0"));
}

#[tokio::test]
async fn an_entry_is_not_served_past_its_expiry() {
    let rig = rig().await;
    let created = rig
        .store
        .create(&record(1, NOW + Duration::hours(1)), NOW)
        .await
        .unwrap();
    let key = &created.cookie_value;
    let later = NOW + Duration::hours(2);
    assert!(rig.store.load(key, later).await.unwrap().is_none());

    // Extended in the db meanwhile: the db's word counts, and refills the cache.
    let created = rig
        .store
        .create(&record(2, NOW + Duration::hours(1)), NOW)
        .await
        .unwrap();
    let key = &created.cookie_value;
    rig.plain
        .touch(key, NOW + Duration::hours(3), NOW)
        .await
        .unwrap();
    let loaded = rig.store.load(key, later).await.unwrap().unwrap();
    assert_eq!(loaded.record.expires_at, NOW + Duration::hours(3));
    let before = rig.db.calls();
    rig.store.load(key, later).await.unwrap().unwrap();
    assert_eq!(rig.db.calls(), before, "the refreshed entry was not cached");
}

/// Given to a layer, the store passes the layer's settings to both halves:
/// a db that has no keys of its own signs with the layer's, and the cache
/// hears of them too.
#[cfg(feature = "file")]
#[tokio::test]
async fn the_layer_settings_reach_the_db_and_the_cache() {
    use std::sync::Arc;

    use sessionkit::store::cached_db::CachedDbStore;
    use sessionkit::store::file::FileStore;

    let dir = tempfile::TempDir::new().expect("temp dir");
    let db = FileStore::open(dir.path()).expect("a store without keys");
    let cache = common::cached_db_rig::FaultyCache::new();
    let store = CachedDbStore::new(cache.clone(), Arc::new(db));
    let fresh = record(1, NOW + Duration::hours(1));
    assert!(
        store.create(&fresh, NOW).await.is_err(),
        "a db without keys wrote"
    );

    let config = sessionkit::SessionConfig::new(common::SECRET).expect("config");
    store.attach(&config);
    assert!(cache.attached(), "the cache was not given the settings");
    let created = store.create(&fresh, NOW).await.expect("create");
    let loaded = store
        .load(&created.cookie_value, NOW)
        .await
        .expect("load")
        .expect("live");
    assert_eq!(count(&loaded), 1);
    assert!(cache
        .inner
        .get(&created.cookie_value, NOW)
        .await
        .unwrap()
        .is_some());
}

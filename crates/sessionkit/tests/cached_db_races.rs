//! The `cached_db` engine under races: a slow cache fill never replaces a
//! newer write or revives a deleted session, and increments over HTTP stay
//! exact with one process or two, each with its own in-process cache.
#![cfg(all(
    feature = "sqlite",
    feature = "memory",
    feature = "conformance",
    feature = "axum"
))]

mod common;

use std::sync::Arc;

use common::cached_db::{count, memory_process, record, saved};
use common::cached_db_rig::rig;
use common::http;
use serde_json::json;
use sessionkit::store::SessionStore;
use sessionkit::SessionConfig;
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A fixed, realistic time with microseconds, as Django keeps them.
const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// A load that read the db before a save, and writes the cache after it,
/// must not leave its older record in the cache.
#[tokio::test]
async fn a_slow_fill_never_replaces_a_newer_write() {
    let rig = rig().await;
    let expires_at = NOW + Duration::hours(1);
    let key = rig
        .plain
        .create(&record(1, expires_at), NOW)
        .await
        .unwrap()
        .cookie_value;
    let (entered, release) = rig.cache.hold_next_set();
    let slow = tokio::spawn({
        let (store, key) = (rig.store.clone(), key.clone());
        async move { store.load(&key, NOW).await }
    });
    entered.await.unwrap();

    let v1 = rig.plain.load(&key, NOW).await.unwrap().unwrap().version;
    saved(&rig.store, &key, &record(2, expires_at), &v1, NOW).await;
    release.send(()).unwrap();
    assert_eq!(count(&slow.await.unwrap().unwrap().unwrap()), 1);

    let loaded = rig.store.load(&key, NOW).await.unwrap().unwrap();
    assert_eq!(count(&loaded), 2, "the slow fill left an older record");
    saved(
        &rig.store,
        &key,
        &record(3, expires_at),
        &loaded.version,
        NOW,
    )
    .await;
}

/// The same race with a logout: the deleted session must not come back.
#[tokio::test]
async fn a_slow_fill_never_revives_a_deleted_session() {
    let rig = rig().await;
    let key = rig
        .plain
        .create(&record(1, NOW + Duration::hours(1)), NOW)
        .await
        .unwrap()
        .cookie_value;
    let (entered, release) = rig.cache.hold_next_set();
    let slow = tokio::spawn({
        let (store, key) = (rig.store.clone(), key.clone());
        async move { store.load(&key, NOW).await }
    });
    entered.await.unwrap();
    rig.store.delete(&key).await.unwrap();
    release.send(()).unwrap();
    slow.await.unwrap().unwrap();

    assert!(
        rig.store.load(&key, NOW).await.unwrap().is_none(),
        "a deleted session came back from the cache"
    );
}

/// Two "processes", each with its own in-process cache, over one SQLite file.
async fn two_processes(dir: &TempDir) -> [Arc<dyn SessionStore>; 2] {
    [
        Arc::new(memory_process(dir).await.store),
        Arc::new(memory_process(dir).await.store),
    ]
}

/// The session as a process that never cached it sees it: the db's word.
async fn read_fresh(dir: &TempDir, key: &str) -> serde_json::Value {
    let store = memory_process(dir).await.store;
    let loaded = store.load(key, OffsetDateTime::now_utc()).await.unwrap();
    serde_json::Value::Object(loaded.expect("the session is live").record.data)
}

/// `http::N` increments of one session through two processes whose caches go
/// stale at every write of the other: the db ends at exactly 1 + the number
/// of 2xx answers. (A process's own cache may still show its last write until
/// it saves again, as Django's `cached_db` with a per-process cache does, so
/// the count is read as a fresh process reads it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_two_processes_with_their_own_caches() {
    let dir = TempDir::new().unwrap();
    let stores = two_processes(&dir).await;
    let one = http::app(stores[0].clone(), 1);
    let (status, cookie, body) = http::get_with(&one, "/inc", None).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "1"));
    let key = cookie.expect("a new session cookie");

    let barrier = Arc::new(tokio::sync::Barrier::new(http::N));
    let config = SessionConfig::new(common::SECRET).unwrap();
    let racing = [
        http::app_with(stores[0].clone(), barrier.clone(), config.clone()),
        http::app_with(stores[1].clone(), barrier, config),
    ];
    let tasks: Vec<_> = (0..http::N)
        .map(|i| {
            let (app, key) = (racing[i % 2].clone(), key.clone());
            tokio::spawn(async move { http::get_with(&app, "/inc", Some(&key)).await.0 })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let status = task.await.unwrap();
        if status.is_success() {
            ok += 1;
        } else {
            assert_eq!(status.as_u16(), 503, "only retries running out may fail");
        }
    }
    let map = read_fresh(&dir, &key).await;
    assert_eq!(
        map["visit"].as_i64(),
        Some(1 + ok),
        "final count = successful increments"
    );
    assert!(
        ok * 10 >= http::N as i64 * 9,
        "at most a tenth may run out of retries, {ok} of {} succeeded",
        http::N
    );
}

/// Two writers of different keys through the two processes both keep their key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_survive_two_processes() {
    let dir = TempDir::new().unwrap();
    let stores = two_processes(&dir).await;
    let (_, cookie, _) = http::get_with(&http::app(stores[0].clone(), 1), "/inc", None).await;
    let key = cookie.expect("a new session cookie");
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let config = SessionConfig::new(common::SECRET).unwrap();
    let tasks = ["/set?a", "/set?b"].map(|uri| {
        let process = usize::from(uri.ends_with('b'));
        let app = http::app_with(stores[process].clone(), barrier.clone(), config.clone());
        let key = key.clone();
        tokio::spawn(async move { http::get_with(&app, uri, Some(&key)).await.0 })
    });
    for task in tasks {
        assert_eq!(task.await.unwrap().as_u16(), 200);
    }
    assert_eq!(
        read_fresh(&dir, &key).await,
        json!({"visit": 1, "a": true, "b": true}),
        "both writers' keys survive"
    );
}

/// In one process the cache never shows an older state than the last write,
/// so the shared suites read their result through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_one_process() {
    let dir = TempDir::new().unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(memory_process(&dir).await.store);
    http::concurrent_increments([store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_survive_one_process() {
    let dir = TempDir::new().unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(memory_process(&dir).await.store);
    http::different_keys_survive([store.clone(), store]).await;
}

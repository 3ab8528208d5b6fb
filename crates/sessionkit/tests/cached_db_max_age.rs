//! The `cached_db` engine keeps the db authoritative for logouts (finding H1
//! of the security review): a cache entry is served without the db only
//! while it is younger than the store's max age, so a session deleted where
//! the cache cannot see (another process with its own in-process cache,
//! Django deleting the row) is refused within that age; deletes go to the db
//! and always drop the entry; and `store::open` refuses an in-process cache
//! unless the deployment says it is a single process.
//!
//! Time is moved with the `now` the store is given (the session layer's
//! clock), never by sleeping.
#![cfg(all(feature = "sqlite", feature = "memory", feature = "axum"))]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde_json::json;
use sessionkit::clock::ManualClock;
use sessionkit::store::SessionStore;
use sessionkit::{SessionConfig, StoreError};
use tempfile::TempDir;
use time::Duration;
use tokio::sync::Barrier;

use common::cached_db::{
    a_logout_the_cache_missed_is_seen_within_the_max_age, count, django_deletes_the_row,
    memory_process, open_cached_db, open_db_url, real_now, record, saved, sqlite_url,
};
use common::http;

/// Two processes, each with its own cache: a logout in A is never heard of
/// by B's cache, yet B refuses the session once its entry is 30 s old.
#[tokio::test]
async fn a_logout_in_another_process_is_seen_within_the_max_age() {
    let dir = TempDir::new().expect("temp dir");
    let (a, b) = (memory_process(&dir).await, memory_process(&dir).await);
    let a_store = a.store.clone();
    a_logout_the_cache_missed_is_seen_within_the_max_age(&a, &b, |key| async move {
        a_store.delete(&key).await.expect("logout in A");
    })
    .await;
}

/// The attack of H1 over HTTP, with time moved by the layer's clock: a
/// stolen cookie sent to another process after the user logged out is
/// anonymous there once the max age has passed.
#[tokio::test]
async fn a_stolen_cookie_is_anonymous_elsewhere_within_the_max_age_of_a_logout() {
    let dir = TempDir::new().expect("temp dir");
    let (a, b) = (memory_process(&dir).await, memory_process(&dir).await);
    let clock = ManualClock::new(real_now());
    let config = || {
        SessionConfig::new(common::SECRET)
            .expect("a valid config")
            .with_clock(clock.clone())
    };
    let barrier = Arc::new(Barrier::new(1));
    let app_a = http::app_with(Arc::new(a.store.clone()), barrier.clone(), config());
    let app_b = http::app_with(Arc::new(b.store.clone()), barrier, config());

    let (status, cookie, _) = http::get_with(&app_a, "/inc", None).await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("a session cookie");
    let read = |app| {
        let cookie = cookie.clone();
        async move {
            let (status, _, body) = http::get_with(app, "/read", Some(&cookie)).await;
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<serde_json::Value>(&body).expect("JSON")
        }
    };
    assert_eq!(read(&app_b).await, json!({"visit": 1}));

    // The user logs out through A; B's cache never hears of it.
    a.store.delete(&cookie).await.expect("logout in A");
    clock.advance(Duration::seconds(30));
    assert_eq!(
        read(&app_b).await,
        json!({}),
        "B served a logged-out session after the max age"
    );
}

/// Django logs the user out: it deletes the row and never touches this
/// crate's cache entry.
#[tokio::test]
async fn a_django_logout_is_seen_within_the_max_age() {
    let dir = TempDir::new().expect("temp dir");
    let (a, b) = (memory_process(&dir).await, memory_process(&dir).await);
    let url = sqlite_url(&dir);
    a_logout_the_cache_missed_is_seen_within_the_max_age(&a, &b, |key| async move {
        django_deletes_the_row(&url, &key).await;
    })
    .await;
}

/// The same with a max age of 5 s instead of the default.
#[tokio::test]
async fn the_max_age_is_the_stores_setting() {
    let dir = TempDir::new().expect("temp dir");
    let a = memory_process(&dir).await;
    let mut b = memory_process(&dir).await;
    b.store = b.store.with_max_entry_age(StdDuration::from_secs(5));
    assert_eq!(b.store.max_entry_age(), StdDuration::from_secs(5));
    let url = sqlite_url(&dir);
    a_logout_the_cache_missed_is_seen_within_the_max_age(&a, &b, |key| async move {
        django_deletes_the_row(&url, &key).await;
    })
    .await;
}

/// An entry past the max age is a miss: the db's newer record is read and
/// refilled, and the next load is a hit again.
#[tokio::test]
async fn an_entry_past_the_max_age_is_refilled_from_the_db() {
    let dir = TempDir::new().expect("temp dir");
    let (a, b) = (memory_process(&dir).await, memory_process(&dir).await);
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let created = a
        .store
        .create(&record(1, expires_at), now)
        .await
        .expect("create");
    let key = &created.cookie_value;
    b.store.load(key, now).await.expect("load in B");
    let v2 = saved(&a.store, key, &record(2, expires_at), &created.version, now).await;

    let later = now + Duration::seconds(30);
    let before = b.db.calls();
    let loaded = b.store.load(key, later).await.expect("load").expect("live");
    assert_eq!((count(&loaded), &loaded.version), (2, &v2));
    assert_eq!(b.db.calls(), before + 1);
    let again = b.store.load(key, later).await.expect("load").expect("live");
    assert_eq!(count(&again), 2);
    assert_eq!(b.db.calls(), before + 1, "the refilled entry was not used");
}

/// Zero trusts no entry: every load reads the db, so a Django logout is
/// seen at once.
#[tokio::test]
async fn a_max_age_of_zero_reads_the_db_on_every_load() {
    let dir = TempDir::new().expect("temp dir");
    let mut p = memory_process(&dir).await;
    p.store = p.store.with_max_entry_age(StdDuration::ZERO);
    let now = real_now();
    let created = p
        .store
        .create(&record(1, now + Duration::hours(1)), now)
        .await
        .expect("create");
    let key = &created.cookie_value;
    let before = p.db.calls();
    for _ in 0..2 {
        let loaded = p.store.load(key, now).await.expect("load");
        assert_eq!(loaded.as_ref().map(count), Some(1));
    }
    assert_eq!(p.db.calls(), before + 2, "a load was served from the cache");
    assert_eq!(p.cache.entry_count(), 0, "zero still wrote to the cache");
    django_deletes_the_row(&sqlite_url(&dir), key).await;
    assert!(p.store.load(key, now).await.expect("load").is_none());
}

/// A compare-and-set delete compares with the db, not with a cached entry
/// that may hold an older version, and drops the entry either way.
#[tokio::test]
async fn delete_if_compares_with_the_db() {
    let dir = TempDir::new().expect("temp dir");
    let (a, b) = (memory_process(&dir).await, memory_process(&dir).await);
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let created = a
        .store
        .create(&record(1, expires_at), now)
        .await
        .expect("create");
    let key = &created.cookie_value;
    b.store.load(key, now).await.expect("load in B");
    // A saves: B's entry still holds the first version.
    let v2 = saved(&a.store, key, &record(2, expires_at), &created.version, now).await;

    let deleted = b.store.delete_if(key, &created.version, now).await;
    assert!(
        !deleted.expect("delete_if"),
        "a stale cached version deleted A's newer save"
    );
    let loaded = b.store.load(key, now).await.expect("load").expect("live");
    assert_eq!(
        (count(&loaded), &loaded.version),
        (2, &v2),
        "the stale entry was kept"
    );

    assert!(b.store.delete_if(key, &v2, now).await.expect("delete_if"));
    assert!(b.store.load(key, now).await.expect("load").is_none());
    assert!(a.db.load(key, now).await.expect("load").is_none());
}

/// A delete the db fails may still have removed the row (the reply can be
/// lost after the commit): the entry goes anyway, so it can never outlive
/// the row, and the error reaches the caller.
#[tokio::test]
async fn a_failed_delete_drops_the_entry_too() {
    let dir = TempDir::new().expect("temp dir");
    let p = memory_process(&dir).await;
    let now = real_now();
    let created = p
        .store
        .create(&record(1, now + Duration::hours(1)), now)
        .await
        .expect("create");
    let key = &created.cookie_value;
    p.db.set_down(true);
    assert!(
        p.store.delete(key).await.is_err(),
        "the db error was hidden"
    );
    assert!(p.store.delete_if(key, &created.version, now).await.is_err());
    p.db.set_down(false);
    let before = p.db.calls();
    p.store.load(key, now).await.expect("load");
    assert_eq!(
        p.db.calls(),
        before + 1,
        "the entry survived a failed delete"
    );
}

fn config_error(result: Result<std::sync::Arc<dyn SessionStore>, StoreError>) -> String {
    match result {
        Err(StoreError::Config(message)) => message,
        Err(other) => panic!("expected a config error, got {other}"),
        Ok(store) => panic!("expected a config error, got {store:?}"),
    }
}

/// `memory://`, the default `SESSION_CACHE_URL`, is refused for `cached_db`
/// unless the deployment declares a single process; the error says what to
/// do instead.
#[tokio::test]
async fn open_refuses_an_in_process_cache_unless_single_process() {
    let dir = TempDir::new().expect("temp dir");
    let by_default = config_error(open_cached_db(&dir, &[]).await);
    let explicit =
        config_error(open_cached_db(&dir, &[("SESSION_CACHE_URL", "memory://".to_owned())]).await);
    for message in [&by_default, &explicit] {
        for needle in [
            "SESSION_CACHE_SINGLE_PROCESS",
            "redis://",
            "memcache://",
            "memory://",
        ] {
            assert!(message.contains(needle), "{needle} missing: {message}");
        }
    }
    let refused = config_error(
        open_cached_db(
            &dir,
            &[("SESSION_CACHE_SINGLE_PROCESS", "false".to_owned())],
        )
        .await,
    );
    assert!(refused.contains("SESSION_CACHE_SINGLE_PROCESS"));

    let store = open_cached_db(&dir, &[("SESSION_CACHE_SINGLE_PROCESS", "true".to_owned())])
        .await
        .expect("a single process may keep its cache in-process");
    let shown = format!("{store:?}");
    assert!(shown.contains("MemoryCache"), "{shown}");
    // A max age of zero never serves from the cache: nothing goes stale.
    open_cached_db(&dir, &[("SESSION_CACHE_MAX_AGE", "0".to_owned())])
        .await
        .expect("an in-process cache that is never read is harmless");
}

/// `SESSION_CACHE_MAX_AGE` reaches the store: at zero a Django logout is
/// seen on the very next load.
#[tokio::test]
async fn open_applies_the_max_age() {
    let dir = TempDir::new().expect("temp dir");
    let store = open_cached_db(
        &dir,
        &[
            ("SESSION_CACHE_SINGLE_PROCESS", "1".to_owned()),
            ("SESSION_CACHE_MAX_AGE", "0".to_owned()),
        ],
    )
    .await
    .expect("open");
    let now = real_now();
    let created = store
        .create(&record(1, now + Duration::hours(1)), now)
        .await
        .expect("create");
    let key = &created.cookie_value;
    assert!(store.load(key, now).await.expect("load").is_some());
    django_deletes_the_row(&open_db_url(&dir), key).await;
    assert!(
        store.load(key, now).await.expect("load").is_none(),
        "a deleted session was served from the cache"
    );
}

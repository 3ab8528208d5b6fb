//! The conformance suite on the in-process engine, and what only it does:
//! a byte budget that anonymous sessions cannot take from logged-in ones, an
//! atomic `delete_if`, and expired sessions giving way first when the budget
//! needs room.
#![cfg(all(feature = "conformance", feature = "memory"))]

use std::sync::Arc;

use serde_json::{json, Value};
use sessionkit::error::StoreError;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::memory::MemoryStore;
use sessionkit::store::{Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A fixed, realistic time with microseconds, as Django keeps them.
const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// Expired entries stay until `clear_expired` (or a full budget) takes them,
/// so `clear_expired` counts them all.
fn caps() -> Capabilities {
    Capabilities::new()
}

fn record(count: u64, expires_at: OffsetDateTime) -> Record {
    let serde_json::Value::Object(data) = json!({ "count": count }) else {
        unreachable!("a json! object is an object")
    };
    Record::new(data, expires_at)
}

#[tokio::test]
async fn conformance() {
    conformance::run_all(&MemoryStore::new(), caps(), NOW).await;
}

#[tokio::test]
async fn conformance_through_arc_dyn() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    conformance::run_all(&store, caps(), NOW).await;
}

#[tokio::test]
async fn conformance_at_the_real_time() {
    conformance::run_all(&MemoryStore::new(), caps(), OffsetDateTime::now_utc()).await;
}

#[tokio::test]
async fn clones_share_the_cache() {
    let store = MemoryStore::new();
    let saved = store
        .create(&record(1, NOW + Duration::hours(1)), NOW)
        .await
        .unwrap();
    let other = store.clone();
    assert!(other
        .load(&saved.cookie_value, NOW)
        .await
        .unwrap()
        .is_some());
    other.delete(&saved.cookie_value).await.unwrap();
    assert!(store
        .load(&saved.cookie_value, NOW)
        .await
        .unwrap()
        .is_none());
}

fn record_with(pairs: Value, expires_at: OffsetDateTime) -> Record {
    let Value::Object(data) = pairs else {
        unreachable!("tests pass objects")
    };
    Record::new(data, expires_at)
}

fn logged_in(user: u64) -> Record {
    record_with(
        json!({ "_auth_user_id": user.to_string(), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend" }),
        NOW + Duration::hours(1),
    )
}

async fn create(store: &MemoryStore, record: &Record) -> String {
    store.create(record, NOW).await.unwrap().cookie_value
}

async fn loads(store: &MemoryStore, key: &str) -> bool {
    store.load(key, NOW).await.unwrap().is_some()
}

#[tokio::test]
async fn byte_budget_evicts_least_recently_used() {
    let store = MemoryStore::with_budgets(1 << 20, 1 << 20);
    let blob = "x".repeat(50_000);
    let mut keys = Vec::new();
    for i in 0..100 {
        let big = record_with(json!({ "n": i, "blob": blob }), NOW + Duration::hours(1));
        keys.push(create(&store, &big).await);
    }
    // 100 sessions of 50 kB are 5 MB: the 1 MiB pool keeps about 20.
    assert!(
        store.weighted_size() <= 1 << 20,
        "holds {} bytes",
        store.weighted_size()
    );
    let mut live = 0;
    for key in &keys {
        live += usize::from(loads(&store, key).await);
    }
    assert!(
        (1..=21).contains(&live),
        "{live} sessions of 50 kB in 1 MiB"
    );
    // LRU: the newest session survives, so a fresh login is never dropped at once.
    assert!(loads(&store, &keys[99]).await);
}

/// Review L3: with one pool counted in entries, about `capacity` cookieless
/// requests evicted every logged-in session (a mass logout).
#[tokio::test]
async fn anonymous_flood_cannot_evict_logged_in_sessions() {
    let store = MemoryStore::with_budgets(256 << 10, 256 << 10);
    let mut users = Vec::new();
    for user in 0..50 {
        users.push(create(&store, &logged_in(user)).await);
    }
    // Some 4 MB of anonymous sessions, sixteen times their pool.
    for i in 0..10_000 {
        create(&store, &record(i, NOW + Duration::hours(1))).await;
    }
    assert!(
        store.entry_count() < 2_000,
        "{} entries",
        store.entry_count()
    );
    for (user, key) in users.iter().enumerate() {
        let loaded = store.load(key, NOW).await.unwrap();
        let loaded = loaded.unwrap_or_else(|| panic!("user {user} was logged out"));
        let saved = store
            .save(key, &logged_in(user as u64), &loaded.version, NOW)
            .await
            .unwrap();
        assert!(matches!(saved, SaveOutcome::Saved(_)), "user {user}");
    }
}

/// A save that adds `_auth_user_id` to a session (a login without a new key)
/// moves it out of the flood's reach; one that removes it moves it back.
#[tokio::test]
async fn login_and_logout_move_between_pools() {
    let store = MemoryStore::with_budgets(64 << 10, 64 << 10);
    let key = create(&store, &record(0, NOW + Duration::hours(1))).await;
    let version = store.load(&key, NOW).await.unwrap().unwrap().version;
    let SaveOutcome::Saved(saved) = store
        .save(&key, &logged_in(7), &version, NOW)
        .await
        .unwrap()
    else {
        panic!("the login was not saved");
    };
    for i in 0..2_000 {
        create(&store, &record(i, NOW + Duration::hours(1))).await;
    }
    let loaded = store.load(&key, NOW).await.unwrap().expect("logged in");
    assert_eq!(loaded.record.data["_auth_user_id"], json!("7"));
    assert_eq!(loaded.version, saved.version);

    // Back to anonymous: the next flood may evict it like any other.
    let logged_out = record(1, NOW + Duration::hours(1));
    let outcome = store
        .save(&key, &logged_out, &loaded.version, NOW)
        .await
        .unwrap();
    assert!(matches!(outcome, SaveOutcome::Saved(_)));
    assert!(loads(&store, &key).await);
    for i in 0..2_000 {
        create(&store, &record(i, NOW + Duration::hours(1))).await;
    }
    store.entry_count();
    assert!(
        !loads(&store, &key).await,
        "an anonymous session outlived the flood"
    );
}

#[tokio::test]
async fn a_growing_session_is_reweighed() {
    let store = MemoryStore::new();
    let key = create(&store, &record(0, NOW + Duration::hours(1))).await;
    let small = store.weighted_size();
    assert!(small < 2_000, "{small}");
    let version = store.load(&key, NOW).await.unwrap().unwrap().version;
    let grown = record_with(
        json!({ "blob": "x".repeat(200_000) }),
        NOW + Duration::hours(1),
    );
    store.save(&key, &grown, &version, NOW).await.unwrap();
    assert!(
        store.weighted_size() >= 200_000,
        "{}",
        store.weighted_size()
    );
}

#[tokio::test]
async fn delete_if_with_a_stale_version_deletes_nothing() {
    let store = MemoryStore::new();
    let key = create(&store, &record(0, NOW + Duration::hours(1))).await;
    let stale = store.load(&key, NOW).await.unwrap().unwrap().version;
    let SaveOutcome::Saved(current) = store
        .save(&key, &record(1, NOW + Duration::hours(1)), &stale, NOW)
        .await
        .unwrap()
    else {
        panic!("not saved");
    };
    assert!(!store.delete_if(&key, &stale, NOW).await.unwrap());
    let kept = store.load(&key, NOW).await.unwrap().expect("still there");
    assert_eq!(kept.record.data["count"], json!(1));

    assert!(store.delete_if(&key, &current.version, NOW).await.unwrap());
    assert!(!loads(&store, &key).await);
    // Already gone: nothing left to protect.
    assert!(store.delete_if(&key, &current.version, NOW).await.unwrap());
    // Expired: gone whatever the version.
    let old = create(&store, &record(2, NOW + Duration::seconds(1))).await;
    let later = NOW + Duration::seconds(2);
    assert!(store.delete_if(&old, &stale, later).await.unwrap());
    assert!(!loads(&store, &old).await);
}

/// The delete and a save racing on one version: exactly one wins, and a
/// save that won is never thrown away.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_if_and_save_race_with_one_winner() {
    let store = Arc::new(MemoryStore::new());
    for round in 0..200 {
        let key = create(&store, &record(round, NOW + Duration::hours(1))).await;
        let version = store.load(&key, NOW).await.unwrap().unwrap().version;
        let (s, k, v) = (store.clone(), key.clone(), version.clone());
        let save = tokio::spawn(async move {
            s.save(&k, &record(9, NOW + Duration::hours(1)), &v, NOW)
                .await
                .unwrap()
        });
        let (s, k) = (store.clone(), key.clone());
        let delete = tokio::spawn(async move { s.delete_if(&k, &version, NOW).await.unwrap() });
        let (saved, deleted) = (save.await.unwrap(), delete.await.unwrap());
        let saved = matches!(saved, SaveOutcome::Saved(_));
        assert!(
            saved != deleted,
            "round {round}: saved {saved}, deleted {deleted}"
        );
        assert_eq!(loads(&store, &key).await, saved, "round {round}");
    }
}

#[tokio::test]
async fn a_tiny_budget_still_holds_a_session() {
    let store = MemoryStore::with_budgets(0, 0);
    let key = create(&store, &record(0, NOW + Duration::hours(1))).await;
    store.entry_count();
    assert!(loads(&store, &key).await);
}

/// Under churn a new session takes over an evicted one's memory: each live
/// session must still load exactly its own dict (none of the old one's
/// entries, small dicts and large ones alike), at its own expiry, with a
/// version no other session ever had; an evicted key stays gone.
#[tokio::test]
async fn churn_reuses_evicted_sessions_without_mixing_them() {
    // 64 KiB: one shard, a few dozen of these sessions at a time.
    let store = MemoryStore::with_budgets(64 << 10, 64 << 10);
    let mut created = Vec::new();
    for i in 0u64..3_000 {
        // Dicts of 1 to 40 entries, so some slots taken over held more
        // entries than the new session has, some fewer, some many.
        let width = (i * 7 % 40) + 1;
        let data: serde_json::Map<String, Value> = (0..width)
            .map(|j| (format!("k{}-{j}", i % 5), json!(i * 1_000 + j)))
            .collect();
        let expires_at = NOW + Duration::seconds(600 + i as i64);
        let record = Record::new(data, expires_at);
        let saved = store.create(&record, NOW).await.unwrap();
        created.push((saved, record));
    }
    let mut versions = std::collections::HashSet::new();
    let mut live = 0;
    for (saved, record) in &created {
        assert!(versions.insert(saved.version.as_bytes().to_vec()));
        let Some(loaded) = store.load(&saved.cookie_value, NOW).await.unwrap() else {
            continue;
        };
        live += 1;
        assert_eq!(loaded.record.data, record.data, "{}", saved.cookie_value);
        assert_eq!(loaded.record.expires_at, record.expires_at);
        assert_eq!(loaded.version, saved.version);
    }
    assert!((10..300).contains(&live), "{live} live of 3000");
    // The newest is live; an old session's version saves nothing on it, and
    // the session evicted first is gone for good.
    let (newest, record) = created.last().unwrap();
    let (oldest, _) = &created[0];
    let stale = store
        .save(&newest.cookie_value, record, &oldest.version, NOW)
        .await
        .unwrap();
    assert!(matches!(stale, SaveOutcome::Conflict), "{stale:?}");
    let outcome = store
        .save(&oldest.cookie_value, record, &oldest.version, NOW)
        .await
        .unwrap();
    assert!(matches!(outcome, SaveOutcome::Gone), "{outcome:?}");
    assert!(!loads(&store, &oldest.cookie_value).await);
    assert!(store.weighted_size() <= 64 << 10);
}

/// Under a full budget an expired session is evicted when the hand reaches
/// it, even one used recently, while live sessions in use get another round:
/// a flood of new sessions takes every expired one before any live one.
#[tokio::test]
async fn expired_sessions_give_way_first() {
    // 64 KiB: one shard, about 150 small sessions.
    let store = MemoryStore::with_budgets(64 << 10, 64 << 10);
    let mut expired = Vec::new();
    let mut live = Vec::new();
    for i in 0..50 {
        expired.push(create(&store, &record(i, NOW + Duration::seconds(1))).await);
        live.push(create(&store, &record(i, NOW + Duration::hours(1))).await);
    }
    // All used (loads at NOW see every one live).
    for key in expired.iter().chain(&live) {
        assert!(loads(&store, key).await);
    }
    let later = NOW + Duration::seconds(2);
    let mut created = 0;
    while holds_any(&store, &expired).await {
        assert!(created < 1_000, "the expired sessions were never reclaimed");
        store
            .create(&record(0, NOW + Duration::hours(1)), later)
            .await
            .unwrap();
        created += 1;
    }
    for (i, key) in live.iter().enumerate() {
        assert!(loads(&store, key).await, "live session {i} was evicted");
    }
    assert_eq!(store.clear_expired(later).await.unwrap(), 0);
}

/// Whether the store still holds any of `keys`, expired or not: loaded with
/// a clock from before anything expired.
async fn holds_any(store: &MemoryStore, keys: &[String]) -> bool {
    for key in keys {
        if store
            .load(key, NOW - Duration::days(1))
            .await
            .unwrap()
            .is_some()
        {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn clear_expired_counts_and_removes() {
    let store = MemoryStore::new();
    let mut soon = Vec::new();
    for i in 0..3 {
        soon.push(
            store
                .create(&record(i, NOW + Duration::hours(1)), NOW)
                .await
                .unwrap()
                .cookie_value,
        );
    }
    let later = store
        .create(&record(9, NOW + Duration::hours(3)), NOW)
        .await
        .unwrap();
    let then = NOW + Duration::hours(2);
    assert_eq!(store.clear_expired(then).await.unwrap(), 3);
    assert_eq!(store.clear_expired(then).await.unwrap(), 0);
    for key in &soon {
        // Removed, not just hidden: even the earlier clock finds nothing.
        assert!(store.load(key, NOW).await.unwrap().is_none());
    }
    assert!(store
        .load(&later.cookie_value, then)
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.entry_count(), 1);
}

#[tokio::test]
async fn far_future_expiry_is_fine() {
    let store = MemoryStore::new();
    let saved = store
        .create(&record(0, datetime!(9999-12-31 23:59:59.999999 UTC)), NOW)
        .await
        .unwrap();
    assert!(store
        .load(&saved.cookie_value, NOW)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn debug_shows_counts_only() {
    let store = MemoryStore::with_max_bytes(5 << 20);
    let saved = store
        .create(
            &Record::new(SessionMap::new(), NOW + Duration::hours(1)),
            NOW,
        )
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(
        shown.contains(&format!("max_bytes: {}", 5 << 20)),
        "{shown}"
    );
    assert!(!shown.contains(&saved.cookie_value));
}

/// Real threads, not one task: the slot's lock is what keeps CAS atomic.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_increments_on_threads() {
    const TASKS: u64 = 64;
    let store = Arc::new(MemoryStore::new());
    let expires_at = NOW + Duration::hours(1);
    let key = store
        .create(&record(0, expires_at), NOW)
        .await
        .unwrap()
        .cookie_value;

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            loop {
                let loaded = store.load(&key, NOW).await.unwrap().unwrap();
                let count = loaded.record.data["count"].as_u64().unwrap();
                tokio::task::yield_now().await;
                match store
                    .save(&key, &record(count + 1, expires_at), &loaded.version, NOW)
                    .await
                    .unwrap()
                {
                    SaveOutcome::Saved(_) => break,
                    SaveOutcome::Conflict => continue,
                    SaveOutcome::Gone => panic!("live session gone"),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let end = store.load(&key, NOW).await.unwrap().unwrap();
    assert_eq!(end.record.data["count"], json!(TASKS));
}

// The suite itself must catch broken stores: each flaw below fails it.

#[derive(Debug)]
enum Flaw {
    IgnoresVersion,
    LoadsExpired,
    AcceptsAnything,
}

#[derive(Debug)]
struct Broken(MemoryStore, Flaw);

#[async_trait::async_trait]
impl SessionStore for Broken {
    fn accepts(&self, value: &str) -> bool {
        matches!(self.1, Flaw::AcceptsAnything) || self.0.accepts(value)
    }
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        let now = match self.1 {
            Flaw::LoadsExpired => now - Duration::days(1),
            _ => now,
        };
        self.0.load(key, now).await
    }
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.0.create(record, now).await
    }
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let current = self.0.load(key, now).await?.map(|l| l.version);
        let expected = match (&self.1, current) {
            (Flaw::IgnoresVersion, Some(current)) => current,
            _ => expected.clone(),
        };
        self.0.save(key, record, &expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.clear_expired(now).await
    }
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.0.touch(key, expires_at, now).await
    }
    fn attach(&self, config: &sessionkit::SessionConfig) {
        self.0.attach(config)
    }
}

async fn run_broken(flaw: Flaw) {
    conformance::run_all(&Broken(MemoryStore::new(), flaw), caps(), NOW).await;
}

#[tokio::test]
#[should_panic(expected = "stale version")]
async fn suite_catches_a_save_that_ignores_the_version() {
    run_broken(Flaw::IgnoresVersion).await;
}

#[tokio::test]
#[should_panic(expected = "expired")]
async fn suite_catches_a_load_of_an_expired_record() {
    run_broken(Flaw::LoadsExpired).await;
}

#[tokio::test]
#[should_panic(expected = "foreign cookie value")]
async fn suite_catches_a_store_that_accepts_anything() {
    run_broken(Flaw::AcceptsAnything).await;
}

#[tokio::test]
#[should_panic(expected = "lost updates")]
async fn increments_catch_a_save_that_ignores_the_version() {
    let store = Broken(MemoryStore::new(), Flaw::IgnoresVersion);
    conformance::concurrent_increments(&store, NOW).await;
}

#[tokio::test]
#[should_panic(expected = "one winner")]
async fn racing_saves_catch_a_save_that_ignores_the_version() {
    let store = Broken(MemoryStore::new(), Flaw::IgnoresVersion);
    conformance::racing_saves(&store, NOW).await;
}

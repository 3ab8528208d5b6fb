//! The `cached_db` engine in front of a shared cache server (Redis,
//! Memcached), over SQLite: the "process" set-up and the behaviour that does
//! not depend on which server holds the cache, written once. Each cache's
//! file keeps its entry layout, TTL rules, tampering and clean-up.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde_json::json;
use sessionkit::config::StoreConfig;
use sessionkit::store::cached_db::{
    CachedDbStore, MemoryCache, SessionCache, DEFAULT_MAX_ENTRY_AGE,
};
use sessionkit::store::db::DbStore;
use sessionkit::store::{Loaded, Record, SaveOutcome, SessionStore, Version};
use sessionkit::{SessionConfig, StoreError};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use super::faulty::Faulty;
use super::proxy::Proxy;
use super::{codec, data};

/// The max age of a test's own cache writes: the store's default.
pub(crate) const KEEP: StdDuration = DEFAULT_MAX_ENTRY_AGE;

/// A max age that caps nothing: the session's expiry alone sets the TTL.
pub(crate) const KEEP_LONG: StdDuration = StdDuration::MAX;

/// The real time cut to microseconds, as Django (and the stores) keep it.
pub(crate) fn real_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - Duration::nanoseconds(i64::from(now.nanosecond() % 1_000))
}

/// A session holding just `{"count": count}`.
pub(crate) fn record(count: i64, expires_at: OffsetDateTime) -> Record {
    Record::new(data(json!({ "count": count })), expires_at)
}

/// The `count` of a session made by [`record`].
pub(crate) fn count(loaded: &Loaded) -> i64 {
    loaded.record.data["count"].as_i64().expect("a count")
}

/// A save that must win.
pub(crate) async fn saved(
    store: &dyn SessionStore,
    key: &str,
    record: &Record,
    expected: &Version,
    now: OffsetDateTime,
) -> Version {
    match store.save(key, record, expected, now).await.expect("save") {
        SaveOutcome::Saved(saved) => saved.version,
        other => panic!("expected Saved, got {other:?}"),
    }
}

/// Django's table in the SQLite file of `dir`; every call opens its own
/// pool, as another process would.
pub(crate) async fn sqlite(dir: &TempDir) -> Arc<dyn SessionStore> {
    let url = sqlite_url(dir);
    Arc::new(DbStore::sqlite(&url, codec()).await.expect("open SQLite"))
}

/// One process in front of the shared database and cache.
pub(crate) struct Process<C> {
    /// Its db, counting calls.
    pub(crate) db: Arc<Faulty>,
    /// Its connection to the shared cache.
    pub(crate) cache: Arc<C>,
    pub(crate) store: CachedDbStore,
}

impl<C: SessionCache> Process<C> {
    /// `cache` in front of its own pool on the SQLite file of `dir`.
    pub(crate) async fn new(dir: &TempDir, cache: C) -> Self {
        let db = Faulty::new(sqlite(dir).await);
        let cache = Arc::new(cache);
        let store = CachedDbStore::new(cache.clone(), db.clone());
        Process { db, cache, store }
    }
}

/// A "process" with its own in-process cache ([`MemoryCache`]) and its own
/// pool on the SQLite file of `dir`.
pub(crate) async fn memory_process(dir: &TempDir) -> Process<MemoryCache> {
    Process::new(dir, MemoryCache::new()).await
}

/// A hit costs no db call, carries the exact expiry and the db's version; a
/// save is one db call and writes through; a session written behind the
/// cache's back (in `plain`) is read from the db once, then from the cache.
/// Returns the keys of the two sessions it made.
pub(crate) async fn a_hit_costs_no_db_call<C>(
    a: &Process<C>,
    plain: &dyn SessionStore,
) -> [String; 2] {
    let now = real_now();
    let expires_at = now + Duration::hours(1) + Duration::microseconds(7);
    let created = a
        .store
        .create(&record(1, expires_at), now)
        .await
        .expect("create");
    let key = &created.cookie_value;

    let before = a.db.calls();
    let loaded = a.store.load(key, now).await.expect("load").expect("live");
    assert_eq!(count(&loaded), 1);
    assert_eq!(loaded.record.expires_at, expires_at, "the exact expiry");
    assert_eq!(
        loaded.version, created.version,
        "a hit carries the db's version"
    );
    a.store.load(key, now).await.expect("load").expect("live");
    assert_eq!(a.db.calls(), before, "a cache hit reached the db");

    let next = saved(&a.store, key, &record(2, expires_at), &loaded.version, now).await;
    assert_eq!(a.db.calls(), before + 1, "a save is one db call");
    let loaded = a.store.load(key, now).await.expect("load").expect("live");
    assert_eq!((count(&loaded), &loaded.version), (2, &next));
    assert_eq!(a.db.calls(), before + 1, "the save wrote through");

    // A session written behind the cache's back: one db read fills it.
    let other = plain
        .create(&record(7, expires_at), now)
        .await
        .expect("create in the db");
    let before = a.db.calls();
    for _ in 0..2 {
        let loaded = a.store.load(&other.cookie_value, now).await.expect("load");
        assert_eq!(loaded.as_ref().map(count), Some(7));
    }
    assert_eq!(a.db.calls(), before + 1, "the miss did not fill the cache");
    [created.cookie_value, other.cookie_value]
}

/// Processes `a` and `b` share one cache: each reads the other's new
/// session and saves from it without its db, with the db's version, and a
/// logout in `a` is seen by `b` at once (`plain`: the db without a cache).
pub(crate) async fn two_processes_share_one_cache<C: SessionCache>(
    a: &Process<C>,
    b: &Process<C>,
    plain: &dyn SessionStore,
) {
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let created = a
        .store
        .create(&record(1, expires_at), now)
        .await
        .expect("create in A");
    let key = &created.cookie_value;

    // B reads what A wrote from the shared cache, without its db.
    let b_calls = b.db.calls();
    let seen = b
        .store
        .load(key, now)
        .await
        .expect("load in B")
        .expect("live");
    assert_eq!((count(&seen), &seen.version), (1, &created.version));
    assert_eq!(b.db.calls(), b_calls, "B asked its db for A's new session");

    // A saves: B reads the new record and the new db version from the cache.
    let v2 = saved(&a.store, key, &record(2, expires_at), &created.version, now).await;
    let seen = b
        .store
        .load(key, now)
        .await
        .expect("load in B")
        .expect("live");
    assert_eq!(count(&seen), 2, "B served its old view after A's save");
    assert_eq!(seen.version, v2, "B did not get the db's new version");
    assert_eq!(
        b.db.calls(),
        b_calls,
        "B's read after A's save reached its db"
    );

    // That version is the db's: B's compare-and-set with it wins, and A
    // reads B's save from the cache in turn.
    let v3 = saved(&b.store, key, &record(3, expires_at), &seen.version, now).await;
    let a_calls = a.db.calls();
    let seen = a
        .store
        .load(key, now)
        .await
        .expect("load in A")
        .expect("live");
    assert_eq!((count(&seen), &seen.version), (3, &v3));
    assert_eq!(a.db.calls(), a_calls);

    // A logout in A: B never serves the session again, at once.
    a.store.delete(key).await.expect("delete in A");
    assert!(
        b.store.load(key, now).await.expect("load in B").is_none(),
        "B served a session A logged out"
    );
    let outcome = b
        .store
        .save(key, &record(4, expires_at), &v3, now)
        .await
        .expect("save in B");
    assert_eq!(outcome, SaveOutcome::Gone, "B's save after the logout");
    assert!(
        plain.load(key, now).await.expect("load").is_none(),
        "the logged-out session was recreated"
    );
    assert!(b.cache.get(key, now).await.expect("cache get").is_none());
}

/// `cache` holds `record` and `version` under `session_key`: `get` returns
/// them, following the caller's clock strictly.
pub(crate) async fn the_entry_is_served_until_its_expiry(
    cache: &dyn SessionCache,
    session_key: &str,
    record: &Record,
    version: &Version,
    now: OffsetDateTime,
) {
    let expires_at = record.expires_at;
    let entry = cache
        .get(session_key, now)
        .await
        .expect("get")
        .expect("an entry");
    assert_eq!(&entry.record, record);
    assert_eq!(&entry.db_version, version);
    // `get` follows the caller's clock, strictly.
    let just_before = expires_at - Duration::microseconds(1);
    assert!(cache
        .get(session_key, just_before)
        .await
        .expect("get")
        .is_some());
    assert!(cache
        .get(session_key, expires_at)
        .await
        .expect("get")
        .is_none());
}

/// A creates a session and B saves it; A logs it out, and only then does
/// B's write-through of that save reach the cache (through `b_cache`, B's
/// cache with a hold-off): neither process serves the session again.
/// Returns the session's key and the version of B's save.
pub(crate) async fn a_late_write_after_a_logout_is_dropped<C: SessionCache>(
    a: &Process<C>,
    b: &Process<C>,
    b_cache: &C,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> (String, Version) {
    let created = a
        .store
        .create(&record(1, expires_at), now)
        .await
        .expect("create in A");
    let key = &created.cookie_value;
    let loaded = b.store.load(key, now).await.expect("load").expect("live");
    let v2 = saved(&b.store, key, &record(2, expires_at), &loaded.version, now).await;

    // A logs out; B's write-through of its save arrives only now.
    a.store.delete(key).await.expect("logout in A");
    b_cache
        .set(key, &record(2, expires_at), &v2, now, KEEP)
        .await
        .expect("a late set is no error");
    assert!(
        a.store.load(key, now).await.expect("load in A").is_none(),
        "a late write brought back a logged-out session"
    );
    assert!(b.store.load(key, now).await.expect("load in B").is_none());
    (created.cookie_value, v2)
}

/// The cache of `p` reaches its server through `proxy`. Cut, the db serves
/// everything alone; restored, the entry the outage left stale is never
/// served and the cache answers again by itself. Returns the key of the
/// session it leaves, at count 2.
pub(crate) async fn the_cache_goes_down_and_comes_back<C>(p: &Process<C>, proxy: &Proxy) -> String {
    let (store, db) = (&p.store, &p.db);
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let created = store
        .create(&record(1, expires_at), now)
        .await
        .expect("create");
    let key = &created.cookie_value;
    assert_eq!(
        count(&store.load(key, now).await.expect("load").expect("live")),
        1
    );

    proxy.cut();
    db_serves_alone(store, key, expires_at, now).await;

    // Back up: the entry the outage left stale (count 1) is never served,
    // and the cache answers again by itself.
    proxy.restore();
    let mut hit = false;
    for _ in 0..50 {
        let before = db.calls();
        let loaded = store.load(key, now).await.expect("load").expect("live");
        assert_eq!(
            count(&loaded),
            2,
            "a stale entry was served after the outage"
        );
        if db.calls() == before {
            hit = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(hit, "the cache was not used again after it came back");
    created.cookie_value
}

/// Creates, loads, saves, touches and deletes through `store` while its
/// cache is down: the db serves them all. Leaves `key` at count 2.
pub(crate) async fn db_serves_alone(
    store: &CachedDbStore,
    key: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) {
    let loaded = store.load(key, now).await.expect("load").expect("live");
    assert_eq!(count(&loaded), 1);
    saved(store, key, &record(2, expires_at), &loaded.version, now).await;
    assert_eq!(
        count(&store.load(key, now).await.expect("load").expect("live")),
        2
    );
    let other = store
        .create(&record(5, expires_at), now)
        .await
        .expect("create while the cache is down");
    assert!(store
        .touch(&other.cookie_value, expires_at + Duration::hours(1), now)
        .await
        .expect("touch"));
    let loaded = store.load(&other.cookie_value, now).await.expect("load");
    assert_eq!(
        loaded.map(|l| (count(&l), l.record.expires_at)),
        Some((5, expires_at + Duration::hours(1)))
    );
    store.delete(&other.cookie_value).await.expect("delete");
    assert!(store
        .load(&other.cookie_value, now)
        .await
        .expect("load")
        .is_none());
}

/// What `store::open` builds from `SESSION_ENGINE=cached_db`, a SQLite file
/// in `dir`, `SESSION_CACHE_URL=cache_url` and `prefix`; checked to be a
/// `CachedDbStore` with a `cache_type` in front.
pub(crate) async fn open_from_settings(
    dir: &TempDir,
    cache_url: String,
    prefix: &str,
    cache_type: &str,
) -> Arc<dyn SessionStore> {
    let vars = [
        ("SESSION_CACHE_URL", cache_url),
        ("SESSION_CACHE_KEY_PREFIX", prefix.to_owned()),
    ];
    let store = open_cached_db(dir, &vars)
        .await
        .unwrap_or_else(|e| panic!("open cached_db on a {cache_type}: {e}"));
    let shown = format!("{store:?}");
    assert!(
        shown.contains("CachedDbStore") && shown.contains(cache_type),
        "{shown}"
    );
    store
}

/// `store::open` with `SESSION_ENGINE=cached_db`, a SQLite file in `dir`
/// (see [`open_db_url`]) and the other settings from `vars`.
pub(crate) async fn open_cached_db(
    dir: &TempDir,
    vars: &[(&str, String)],
) -> Result<Arc<dyn SessionStore>, StoreError> {
    let mut all = vec![
        ("SESSION_ENGINE", "cached_db".to_owned()),
        ("SESSION_DB_URL", open_db_url(dir)),
    ];
    all.extend(vars.iter().cloned());
    let config = StoreConfig::from_lookup(|name| {
        all.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    })
    .expect("a valid store config");
    let session = SessionConfig::new(super::SECRET).expect("a valid config");
    sessionkit::store::open(&config, &session).await
}

/// The database [`open_cached_db`] puts behind the cache.
pub(crate) fn open_db_url(dir: &TempDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("open.sqlite3").display()
    )
}

/// Deletes a session's row with plain SQL in the SQLite database at `url`,
/// as Django's logout does: the row goes, and no cache of this crate hears
/// of it.
pub(crate) async fn django_deletes_the_row(url: &str, key: &str) {
    let pool = sqlx::SqlitePool::connect(url).await.expect("open SQLite");
    let deleted = sqlx::query("DELETE FROM django_session WHERE session_key = ?")
        .bind(key)
        .execute(&pool)
        .await
        .expect("DELETE")
        .rows_affected();
    assert_eq!(deleted, 1, "there was no row to delete");
    pool.close().await;
}

/// The URL of the database [`sqlite`] opens in `dir`.
pub(crate) fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("cached.sqlite3").display())
}

/// `b` serves a live session from its cache (no db call), then `logout`
/// deletes it where `b`'s cache cannot see (another process's own cache, or
/// Django deleting the row). From `now + max_age` on, by the store's clock,
/// `b` asks its db, refuses the session, and its save finds it gone: a
/// logout is never served for longer than the max age. `a` made the session.
pub(crate) async fn a_logout_the_cache_missed_is_seen_within_the_max_age<C, F>(
    a: &Process<C>,
    b: &Process<C>,
    logout: impl FnOnce(String) -> F,
) where
    C: SessionCache,
    F: std::future::Future<Output = ()>,
{
    let max_age = b.store.max_entry_age();
    assert!(!max_age.is_zero(), "the test needs a cache that is used");
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let created = a
        .store
        .create(&record(1, expires_at), now)
        .await
        .expect("create in A");
    let key = created.cookie_value;
    b.store.load(&key, now).await.expect("load in B");
    let before = b.db.calls();
    let loaded = b.store.load(&key, now).await.expect("load in B");
    assert_eq!(loaded.as_ref().map(count), Some(1));
    assert_eq!(b.db.calls(), before, "B's cache did not hold the session");

    logout(key.clone()).await;

    let later = now + Duration::try_from(max_age).expect("a max age in range");
    let before = b.db.calls();
    assert!(
        b.store
            .load(&key, later)
            .await
            .expect("load in B")
            .is_none(),
        "B served a logged-out session after the max age"
    );
    assert_eq!(b.db.calls(), before + 1, "B did not ask its db");
    let outcome = b
        .store
        .save(&key, &record(2, expires_at), &created.version, later)
        .await
        .expect("save in B");
    assert_eq!(outcome, SaveOutcome::Gone, "B's save after the logout");
    assert!(
        b.store
            .load(&key, later)
            .await
            .expect("load in B")
            .is_none(),
        "B served the logged-out session again"
    );
}

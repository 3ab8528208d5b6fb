//! The `cached_db` engine: the in-process cache over SQLite. The conformance
//! suite (with the cache up and down), what a hit costs, how stale entries are
//! repaired, racing cache writes, and exact increments over HTTP with one
//! cache per "process".
#![cfg(all(
    feature = "sqlite",
    feature = "memory",
    feature = "conformance",
    feature = "axum"
))]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::faulty::Faulty;
use common::http;
use serde_json::json;
use sessionkit::store::cached_db::{CacheEntry, CachedDbStore, MemoryCache, SessionCache};
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::db::DbStore;
use sessionkit::store::{Loaded, Record, SaveOutcome, SessionStore, Version};
use sessionkit::{SessionConfig, StoreError};
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::oneshot;

/// A fixed, realistic time with microseconds, as Django keeps them.
const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// Django's table in a SQLite file of `dir`; every call opens its own pool,
/// as another process would.
async fn sqlite(dir: &TempDir) -> Arc<dyn SessionStore> {
    let url = format!("sqlite://{}", dir.path().join("cached.sqlite3").display());
    let codec = SessionConfig::new(common::SECRET).unwrap().codec();
    Arc::new(DbStore::open(&url).await.unwrap().with_codec(codec))
}

fn record(count: i64, expires_at: OffsetDateTime) -> Record {
    let serde_json::Value::Object(data) = json!({ "count": count }) else {
        unreachable!("a json! object is an object")
    };
    Record::new(data, expires_at)
}

fn count(loaded: &Loaded) -> i64 {
    loaded.record.data["count"].as_i64().unwrap()
}

/// A save that must win.
async fn saved(
    store: &dyn SessionStore,
    key: &str,
    record: &Record,
    expected: &Version,
) -> Version {
    match store.save(key, record, expected, NOW).await.unwrap() {
        SaveOutcome::Saved(saved) => saved.version,
        other => panic!("expected Saved, got {other:?}"),
    }
}

/// A real [`MemoryCache`] with faults injected: counts calls, can fail every
/// call or only writes and deletes, and can hold the next `set` until told.
#[derive(Debug, Default)]
struct FaultyCache {
    inner: MemoryCache,
    down: AtomicBool,
    writes_fail: AtomicBool,
    calls: AtomicUsize,
    gate: Mutex<Option<Gate>>,
}

#[derive(Debug)]
struct Gate {
    entered: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

impl FaultyCache {
    fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn set_writes_fail(&self, fail: bool) {
        self.writes_fail.store(fail, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The next `set` waits for `release`; `entered` fires when it starts.
    fn hold_next_set(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.gate.lock().unwrap() = Some(Gate {
            entered: entered_tx,
            release: release_rx,
        });
        (entered_rx, release_tx)
    }

    fn check(&self, write: bool) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing =
            self.down.load(Ordering::SeqCst) || (write && self.writes_fail.load(Ordering::SeqCst));
        if failing {
            let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cache gone");
            Err(StoreError::Unavailable(Box::new(e)))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionCache for FaultyCache {
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError> {
        self.check(false)?;
        self.inner.get(key, now).await
    }
    async fn set(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        now: OffsetDateTime,
        max_age: std::time::Duration,
    ) -> Result<(), StoreError> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.entered.send(());
            let _ = gate.release.await;
        }
        self.check(true)?;
        self.inner.set(key, record, db_version, now, max_age).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(true)?;
        self.inner.delete(key).await
    }
}

/// A cached store over a fresh SQLite file, with handles on both sides.
struct Rig {
    _dir: TempDir,
    cache: Arc<FaultyCache>,
    db: Arc<Faulty>,
    /// The same database without the cache: a write "behind the cache's back".
    plain: Arc<dyn SessionStore>,
    store: CachedDbStore,
}

async fn rig() -> Rig {
    let dir = TempDir::new().unwrap();
    let plain = sqlite(&dir).await;
    let db = Faulty::new(plain.clone());
    let cache = FaultyCache::new();
    let store = CachedDbStore::new(cache.clone(), db.clone());
    Rig {
        _dir: dir,
        cache,
        db,
        plain,
        store,
    }
}

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

    let next = saved(&rig.store, key, &record(2, expires_at), &loaded.version).await;
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
    saved(&rig.store, key, &record(2, expires_at), &loaded.version).await;
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
    saved(&*rig.plain, key, &record(10, expires_at), &fresh.version).await;

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
    saved(&rig.store, key, &record(11, expires_at), &reloaded.version).await;

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
    saved(&*rig.plain, key, &record(10, expires_at), &fresh.version).await;

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
    saved(&rig.store, key, &record(11, expires_at), &reloaded.version).await;
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
    saved(&rig.store, &key, &record(2, expires_at), &v1).await;
    release.send(()).unwrap();
    assert_eq!(count(&slow.await.unwrap().unwrap().unwrap()), 1);

    let loaded = rig.store.load(&key, NOW).await.unwrap().unwrap();
    assert_eq!(count(&loaded), 2, "the slow fill left an older record");
    saved(&rig.store, &key, &record(3, expires_at), &loaded.version).await;
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
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = CachedDbStore::new(Arc::new(MemoryCache::new()), sqlite(dir).await);
        stores.push(Arc::new(store) as Arc<dyn SessionStore>);
    }
    [stores[0].clone(), stores[1].clone()]
}

/// The session as a process that never cached it sees it: the db's word.
async fn read_fresh(dir: &TempDir, key: &str) -> serde_json::Value {
    let store = CachedDbStore::new(Arc::new(MemoryCache::new()), sqlite(dir).await);
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
    let store: Arc<dyn SessionStore> = Arc::new(CachedDbStore::new(
        Arc::new(MemoryCache::new()),
        sqlite(&dir).await,
    ));
    http::concurrent_increments([store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_survive_one_process() {
    let dir = TempDir::new().unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(CachedDbStore::new(
        Arc::new(MemoryCache::new()),
        sqlite(&dir).await,
    ));
    http::different_keys_survive([store.clone(), store]).await;
}

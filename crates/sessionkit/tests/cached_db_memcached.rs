//! The `cached_db` engine with Memcached as its shared cache, over SQLite:
//! the conformance suite, what a hit costs, two processes sharing one cache
//! (a logout or a save in one is seen by the other at once), exact
//! increments and concurrent writers over HTTP, the entry layout and
//! memcached's TTL rules, tampered entries, a cache that goes down, and
//! `store::open`.
//!
//! A "process" is its own SQLite pool on the shared file, its own memcached
//! pool and its own `CachedDbStore`. Every test uses its own key prefix and
//! temp database; nothing here flushes the shared server.
#![cfg(all(
    feature = "memcached",
    feature = "sqlite",
    feature = "memory",
    feature = "conformance",
    feature = "axum"
))]

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use async_memcached::{AsciiProtocol, Client, MetaProtocol};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use sessionkit::config::StoreConfig;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::cached_db::{CachedDbStore, SessionCache};
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::db::DbStore;
use sessionkit::store::memcached::{MemcachedCache, MemcachedStore, MAX_CACHE_PREFIX_BYTES};
use sessionkit::store::{Loaded, Record, SaveOutcome, SessionMap, SessionStore, Version};
use sessionkit::SessionConfig;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use common::faulty::Faulty;
use common::proxy::Proxy;
use common::services::{available, host_port, memcached_url, unique};

fn codec() -> Codec {
    SessionConfig::new(common::SECRET)
        .expect("a valid test config")
        .codec()
}

/// The real time cut to microseconds, as Django (and the stores) keep it.
fn real_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - Duration::nanoseconds(i64::from(now.nanosecond() % 1_000))
}

fn data(value: serde_json::Value) -> SessionMap {
    value.as_object().cloned().unwrap_or_default()
}

fn record(count: i64, expires_at: OffsetDateTime) -> Record {
    Record::new(data(json!({ "count": count })), expires_at)
}

fn count(loaded: &Loaded) -> i64 {
    loaded.record.data["count"].as_i64().expect("a count")
}

/// A prefix no other test run uses.
fn prefix() -> String {
    format!("{}:", unique("sk_cdb"))
}

/// A save that must win.
async fn saved(
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
async fn sqlite(dir: &TempDir) -> Arc<dyn SessionStore> {
    let url = format!("sqlite://{}", dir.path().join("cached.sqlite3").display());
    Arc::new(DbStore::sqlite(&url, codec()).await.expect("open SQLite"))
}

async fn memcached_cache(url: &str, prefix: &str) -> MemcachedCache {
    let store = MemcachedStore::new(url, codec())
        .await
        .expect("connect to the test memcached")
        .with_prefix(prefix)
        .expect("a valid prefix");
    MemcachedCache::new(store).expect("a prefix that fits")
}

/// A plain client, to look at and plant entries behind the caches' backs.
async fn raw() -> Client {
    Client::new(format!("tcp://{}", host_port(&memcached_url())))
        .await
        .expect("raw memcached client")
}

/// The stored bytes and memcached's remaining TTL (-1: none), or `None`
/// when absent.
async fn peek(raw: &mut Client, key: &str) -> Option<(Vec<u8>, i64)> {
    let item = raw
        .meta_get(key, false, None, Some(&["v", "t"]))
        .await
        .expect("raw mg")?;
    Some((
        item.data.unwrap_or_default(),
        item.ttl_remaining.unwrap_or(0),
    ))
}

/// What a deleted entry holds while it holds off late writes.
const TOMBSTONE: &[u8] = b"sessionkit:tombstone";

/// Whether `key` holds a tombstone.
async fn buried(raw: &mut Client, key: &str) -> bool {
    peek(raw, key)
        .await
        .is_some_and(|(value, _)| value == TOMBSTONE)
}

async fn plant(raw: &mut Client, key: &str, value: &[u8]) {
    raw.set(key, value, Some(600), None).await.expect("plant");
}

/// One process in front of the shared database and cache.
struct Process {
    /// Its db, counting calls.
    db: Arc<Faulty>,
    /// Its connections to the shared cache.
    cache: Arc<MemcachedCache>,
    store: CachedDbStore,
}

async fn process(dir: &TempDir, prefix: &str) -> Process {
    let db = Faulty::new(sqlite(dir).await);
    let cache = Arc::new(memcached_cache(&memcached_url(), prefix).await);
    let store = CachedDbStore::new(cache.clone(), db.clone());
    Process { db, cache, store }
}

struct Rig {
    dir: TempDir,
    prefix: String,
    /// The database without any cache: writes "behind the caches' backs".
    plain: Arc<dyn SessionStore>,
    a: Process,
}

impl Rig {
    /// `None` (the test skips) when memcached is not running.
    async fn new() -> Option<Rig> {
        if !available("Memcached", &memcached_url()).await {
            return None;
        }
        let dir = TempDir::new().expect("temp dir");
        let prefix = prefix();
        let plain = sqlite(&dir).await;
        let a = process(&dir, &prefix).await;
        Some(Rig {
            dir,
            prefix,
            plain,
            a,
        })
    }

    /// Another process on the same database and cache.
    async fn process(&self) -> Process {
        process(&self.dir, &self.prefix).await
    }
}

/// Everything logged by this test binary. One global subscriber: a scoped
/// one races with other test threads over `tracing`'s per-callsite cache.
fn captured_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        // Only fails if a global subscriber exists already; then nothing is
        // captured and the assertions say so.
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    })
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    conformance::run_all(&rig.a.store, Capabilities::new(), real_now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_costs_no_db_call() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let a = &rig.a;
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
    let other = rig
        .plain
        .create(&record(7, expires_at), now)
        .await
        .expect("create in the db");
    let before = a.db.calls();
    for _ in 0..2 {
        let loaded = a.store.load(&other.cookie_value, now).await.expect("load");
        assert_eq!(loaded.as_ref().map(count), Some(7));
    }
    assert_eq!(a.db.calls(), before + 1, "the miss did not fill the cache");
    a.store.delete(key).await.expect("delete");
    a.store.delete(&other.cookie_value).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_cache() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let (a, b) = (&rig.a, rig.process().await);
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
        rig.plain.load(key, now).await.expect("load").is_none(),
        "the logged-out session was recreated"
    );
    assert!(b.cache.get(key, now).await.expect("cache get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_from_two_processes() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let b = rig.process().await;
    let stores: [Arc<dyn SessionStore>; 2] = [Arc::new(rig.a.store.clone()), Arc::new(b.store)];
    common::http::concurrent_increments(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_survive_two_processes() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let b = rig.process().await;
    let stores: [Arc<dyn SessionStore>; 2] = [Arc::new(rig.a.store.clone()), Arc::new(b.store)];
    common::http::different_keys_survive(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_entry_holds_the_signed_data_the_exact_expiry_and_the_db_version() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let cache = &rig.a.cache;
    let mut raw = raw().await;
    let now = real_now();
    let session_key = key::generate_key();
    let entry_key = cache.memcached_key(&session_key);
    assert_eq!(
        entry_key,
        format!(
            "{}django.contrib.sessions.cached_db{session_key}",
            rig.prefix
        )
    );
    let expires_at = now + Duration::hours(1) + Duration::microseconds(250);
    let session = data(json!({"visit": 11, "_auth_user_id": "42"}));
    // Versions are opaque: any bytes survive.
    let version = Version::new(b"\x00\xff:not text\n".to_vec());
    cache
        .set(
            &session_key,
            &Record::new(session.clone(), expires_at),
            &version,
            now,
        )
        .await
        .expect("set");

    let (bytes, ttl) = peek(&mut raw, &entry_key).await.expect("the entry");
    let text = String::from_utf8(bytes).expect("entries are text");
    let mut parts = text.splitn(3, ':');
    let (stamp, b64, signed) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let micros = expires_at.unix_timestamp_nanos() / 1_000;
    assert_eq!(stamp, micros.to_string(), "expiry in Unix µs");
    assert_eq!(b64, URL_SAFE_NO_PAD.encode(version.as_bytes()));
    assert_eq!(
        codec().decode(signed, None, now).expect("signed").data,
        session
    );
    assert!(
        (3600..=3602).contains(&ttl),
        "TTL = seconds left, rounded up, plus one: {ttl}"
    );
    // The cache engine's key space is untouched.
    let engine_key = format!("{}django.contrib.sessions.cache{session_key}", rig.prefix);
    assert!(peek(&mut raw, &engine_key).await.is_none());

    let entry = cache
        .get(&session_key, now)
        .await
        .expect("get")
        .expect("an entry");
    assert_eq!(entry.record, Record::new(session.clone(), expires_at));
    assert_eq!(entry.db_version, version);
    // `get` follows the caller's clock, strictly.
    let just_before = expires_at - Duration::microseconds(1);
    assert!(cache
        .get(&session_key, just_before)
        .await
        .expect("get")
        .is_some());
    assert!(cache
        .get(&session_key, expires_at)
        .await
        .expect("get")
        .is_none());

    // Beyond 30 days memcached needs an absolute time; past 2038 no TTL.
    let forty_days = now + Duration::days(40);
    let set = |at: OffsetDateTime| {
        let record = Record::new(session.clone(), at);
        let (cache, session_key, version) = (cache.clone(), session_key.clone(), version.clone());
        async move { cache.set(&session_key, &record, &version, now).await }
    };
    set(forty_days).await.expect("set 40 days");
    let (_, ttl) = peek(&mut raw, &entry_key).await.expect("kept");
    assert_eq!(ttl / 86_400, 40, "memcached keeps it 40 days ({ttl} s)");
    let far = time::macros::datetime!(2100-01-01 00:00:00 UTC);
    set(far).await.expect("set 2100");
    let (_, ttl) = peek(&mut raw, &entry_key).await.expect("kept");
    assert_eq!(ttl, -1, "no TTL past 2038");
    let entry = cache.get(&session_key, now).await.expect("get");
    assert_eq!(entry.map(|e| e.record.expires_at), Some(far));

    // An expiry already past deletes instead of writing.
    set(now - Duration::seconds(1))
        .await
        .expect("set in the past");
    assert!(
        buried(&mut raw, &entry_key).await,
        "a past expiry was written"
    );
    assert!(cache.get(&session_key, now).await.expect("get").is_none());
    cache
        .delete(&session_key)
        .await
        .expect("delete a missing entry");
    assert!(!format!("{cache:?}").contains(&session_key));

    // Keys that are not session keys never reach memcached.
    for odd in ["with space", "new\nline", &"k".repeat(300)] {
        assert!(cache.get(odd, now).await.expect("get").is_none());
        assert!(matches!(
            cache
                .set(
                    odd,
                    &Record::new(SessionMap::new(), expires_at),
                    &version,
                    now
                )
                .await,
            Err(StoreError::Backend(_))
        ));
        cache.delete(odd).await.expect("delete");
    }
}

/// A process that saved a session just before another logged it out may
/// write its record to the cache after the logout: the delete's tombstone
/// drops that write, so the session is never served again. After the
/// hold-off the key takes writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_holds_off_late_writes() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let mut raw = raw().await;
    let a = &rig.a;
    let b = rig.process().await;
    // Memcached counts whole seconds: 1 s becomes a tombstone of 2.
    let b_cache = (*b.cache).clone().with_hold_off(StdDuration::from_secs(1));
    let now = real_now();
    let expires_at = now + Duration::hours(1);
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
        .set(key, &record(2, expires_at), &v2, now)
        .await
        .expect("a late set is no error");
    assert!(
        a.store.load(key, now).await.expect("load in A").is_none(),
        "a late write brought back a logged-out session"
    );
    assert!(b.store.load(key, now).await.expect("load in B").is_none());
    assert!(buried(&mut raw, &a.cache.memcached_key(key)).await);

    // Once the hold-off is over, a key takes writes again.
    let other = key::generate_key();
    b_cache.delete(&other).await.expect("delete");
    b_cache
        .set(&other, &record(5, expires_at), &v2, now)
        .await
        .expect("set");
    assert!(b_cache.get(&other, now).await.expect("get").is_none());
    let mut written = None;
    for _ in 0..40 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        b_cache
            .set(&other, &record(5, expires_at), &v2, now)
            .await
            .expect("set");
        written = b_cache.get(&other, now).await.expect("get");
        if written.is_some() {
            break;
        }
    }
    let entry = written.expect("the tombstone never went");
    assert_eq!(entry.record, record(5, expires_at));
    assert!(format!("{b_cache:?}").contains("tombstone_exptime: 2"));
    b_cache.delete(&other).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_is_not_trusted() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let logs = captured_logs();
    let a = &rig.a;
    let mut raw = raw().await;
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let stamp = (expires_at.unix_timestamp_nanos() / 1_000).to_string();
    let foreign = Codec::sessions(&Keys::new(
        SecretKey::new("another-secret-that-this-store-does-not-hold-0123456789"),
        vec![],
    ));
    let forged = foreign.encode(&data(json!({"count": 999, "_auth_user_id": "1"})), now);
    let mut flipped = codec()
        .encode(&data(json!({"count": 999})), now)
        .into_bytes();
    flipped[1] ^= 1;
    let flipped = String::from_utf8(flipped).expect("still ASCII");
    let entry = |signed: &str| format!("{stamp}:AAAA:{signed}").into_bytes();

    let tamperings: [(&str, Vec<u8>); 7] = [
        ("signed with a foreign key", entry(&forged)),
        ("a flipped byte", entry(&flipped)),
        ("not UTF-8", {
            let mut v = format!("{stamp}:AAAA:").into_bytes();
            v.extend_from_slice(&[0xff, 0xfe, 0x80]);
            v
        }),
        (
            "garbage expiry",
            format!("tomorrow:AAAA:{}", codec().encode(&SessionMap::new(), now)).into_bytes(),
        ),
        (
            "garbage db version",
            format!("{stamp}:***:{}", codec().encode(&SessionMap::new(), now)).into_bytes(),
        ),
        (
            "the engine's layout",
            format!("{stamp}:{}", codec().encode(&SessionMap::new(), now)).into_bytes(),
        ),
        ("not ours at all", b"\x80\x05\x95pickled".to_vec()),
    ];
    for (what, value) in tamperings {
        // A session the db has: the db answers, and the entry is replaced.
        let created = a
            .store
            .create(&record(1, expires_at), now)
            .await
            .expect("create");
        let key = created.cookie_value;
        let entry_key = a.cache.memcached_key(&key);
        plant(&mut raw, &entry_key, &value).await;
        let before = a.db.calls();
        let loaded = a.store.load(&key, now).await.expect("load").expect("live");
        assert_eq!(count(&loaded), 1, "{what}: the tampered entry was served");
        assert_eq!(loaded.version, created.version, "{what}");
        assert_eq!(a.db.calls(), before + 1, "{what}: the db was not asked");
        assert!(
            buried(&mut raw, &entry_key).await,
            "{what}: the entry was left"
        );
        a.store.delete(&key).await.expect("delete");

        // A session only the cache has: a miss, and the entry is deleted.
        let ghost = key::generate_key();
        let ghost_key = a.cache.memcached_key(&ghost);
        plant(&mut raw, &ghost_key, &value).await;
        assert!(
            a.store.load(&ghost, now).await.expect("load").is_none(),
            "{what}: a session only in the cache was served"
        );
        assert!(buried(&mut raw, &ghost_key).await, "{what}: not deleted");

        let log = logs.text();
        assert!(
            log.contains(&key::log_tag(&ghost)),
            "{what}: not logged: {log}"
        );
        assert!(
            !log.contains(&ghost) && !log.contains(&key),
            "a key reached a log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_down_is_not_fatal() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let bounded = tokio::time::timeout(StdDuration::from_secs(120), cache_down_behind_a_proxy());
    bounded.await.expect("the outage test hung");
}

/// The cache reaches the shared server through a proxy this test owns.
async fn cache_down_behind_a_proxy() {
    let dir = TempDir::new().expect("temp dir");
    let proxy = Proxy::start(&host_port(&memcached_url())).await;
    let cache = memcached_cache(&format!("memcache://{}", proxy.addr()), &prefix()).await;
    let db = Faulty::new(sqlite(&dir).await);
    let store = CachedDbStore::new(Arc::new(cache), db.clone());
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
    let loaded = store.load(key, now).await.expect("load").expect("live");
    assert_eq!(count(&loaded), 1);
    saved(&store, key, &record(2, expires_at), &loaded.version, now).await;
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
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(hit, "the cache was not used again after it came back");
    store.delete(key).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_too_long_for_the_cache_is_refused() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let store = |prefix: String| async move {
        MemcachedStore::new(&memcached_url(), codec())
            .await
            .expect("connect")
            .with_prefix(prefix)
            .expect("a prefix the engine takes")
    };
    let fits = store("p".repeat(MAX_CACHE_PREFIX_BYTES)).await;
    assert!(MemcachedCache::new(fits).is_ok());
    let long = store("p".repeat(MAX_CACHE_PREFIX_BYTES + 1)).await;
    assert!(matches!(
        MemcachedCache::new(long),
        Err(StoreError::Config(_))
    ));
}

/// `store::open` builds the shared cache from `SESSION_CACHE_URL`, with the
/// key prefix, in front of the db.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_puts_memcached_in_front_of_the_db() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let prefix = prefix();
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("open.sqlite3").display()
    );
    let vars = [
        ("SESSION_ENGINE", "cached_db".to_owned()),
        ("SESSION_DB_URL", db_url),
        ("SESSION_CACHE_URL", memcached_url()),
        ("SESSION_CACHE_KEY_PREFIX", prefix.clone()),
    ];
    let config = StoreConfig::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .expect("a valid store config");
    let session = SessionConfig::new(common::SECRET).expect("a valid config");
    let store = sessionkit::store::open(&config, &session)
        .await
        .expect("open cached_db on memcached");
    let shown = format!("{store:?}");
    assert!(
        shown.contains("CachedDbStore") && shown.contains("MemcachedCache"),
        "{shown}"
    );

    let now = real_now();
    let created = store
        .create(&record(1, now + Duration::hours(1)), now)
        .await
        .expect("create");
    let mut raw = raw().await;
    let entry_key = format!(
        "{prefix}django.contrib.sessions.cached_db{}",
        created.cookie_value
    );
    assert!(
        peek(&mut raw, &entry_key).await.is_some(),
        "the cache entry is not under the prefix"
    );
    store.delete(&created.cookie_value).await.expect("delete");
    assert!(buried(&mut raw, &entry_key).await);
}

//! The `cached_db` engine with Redis as its shared cache, on one server
//! (`node::…`) and on the Cluster (`cluster::…`), over SQLite: the
//! conformance suite, what a hit costs, two processes sharing one cache (a
//! logout or a save in one is seen by the other at once), exact increments
//! and concurrent writers over HTTP, the entry layout and its TTL, tampered
//! entries, a cache that goes down, and `store::open`.
//!
//! A "process" is its own SQLite pool on the shared file, its own Redis
//! connection and its own `CachedDbStore`. Every test uses its own key prefix
//! and temp database, and deletes its keys; none flushes the shared servers.
#![cfg(all(
    feature = "redis",
    feature = "sqlite",
    feature = "memory",
    feature = "conformance",
    feature = "axum"
))]

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use ::redis::aio::ConnectionLike;
use ::redis::{cmd, Cmd, Value};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use sessionkit::config::StoreConfig;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::cached_db::{CachedDbStore, SessionCache};
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::db::DbStore;
use sessionkit::store::redis::{RedisCache, RedisStore};
use sessionkit::store::{Loaded, Record, SaveOutcome, SessionMap, SessionStore, Version};
use sessionkit::SessionConfig;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use common::faulty::Faulty;
use common::proxy::Proxy;
use common::services::{available, host_port, redis_cluster_url, redis_url, unique};

#[derive(Clone, Copy, Debug)]
enum Mode {
    Node,
    Cluster,
}

impl Mode {
    fn url(self) -> String {
        match self {
            Self::Node => redis_url(),
            Self::Cluster => redis_cluster_url(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Node => "Redis",
            Self::Cluster => "Redis Cluster",
        }
    }

    /// `host:port` of every server of the mode (the seed nodes of a cluster).
    fn nodes(self) -> Vec<String> {
        let url = self.url();
        let hosts = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let hosts = hosts.rsplit_once('@').map_or(hosts, |(_, h)| h);
        let hosts = hosts.split(['/', '?']).next().unwrap_or(hosts);
        hosts.split(',').map(str::to_owned).collect()
    }
}

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

async fn redis_cache(url: &str, prefix: &str) -> RedisCache {
    let store = RedisStore::open(url, codec())
        .await
        .expect("connect to the test Redis")
        .with_prefix(prefix);
    RedisCache::new(store)
}

/// One process in front of the shared database and cache.
struct Process {
    /// Its db, counting calls.
    db: Arc<Faulty>,
    /// Its connection to the shared cache.
    cache: Arc<RedisCache>,
    store: CachedDbStore,
}

struct Rig {
    mode: Mode,
    dir: TempDir,
    prefix: String,
    /// The database without any cache: writes "behind the caches' backs".
    plain: Arc<dyn SessionStore>,
    a: Process,
}

impl Rig {
    /// `None` (the test skips) when the servers of `mode` are not running.
    async fn new(mode: Mode) -> Option<Rig> {
        if !available(mode.name(), &mode.url()).await {
            return None;
        }
        let dir = TempDir::new().expect("temp dir");
        let prefix = unique("sk_cdb");
        let plain = sqlite(&dir).await;
        let a = process(mode, &dir, &prefix).await;
        Some(Rig {
            mode,
            dir,
            prefix,
            plain,
            a,
        })
    }

    /// Another process on the same database and cache.
    async fn process(&self) -> Process {
        process(self.mode, &self.dir, &self.prefix).await
    }

    /// Sends one command to the server holding its key.
    async fn raw(&self, command: &Cmd) -> Value {
        raw(self.mode, command).await
    }

    /// Deletes every key under the test's prefix, on every node.
    async fn purge(&self) {
        purge(self.mode, &self.prefix).await;
    }
}

async fn process(mode: Mode, dir: &TempDir, prefix: &str) -> Process {
    let db = Faulty::new(sqlite(dir).await);
    let cache = Arc::new(redis_cache(&mode.url(), prefix).await);
    let store = CachedDbStore::new(cache.clone(), db.clone());
    Process { db, cache, store }
}

async fn raw(mode: Mode, command: &Cmd) -> Value {
    async fn send(conn: &mut impl ConnectionLike, command: &Cmd) -> Value {
        command
            .query_async(conn)
            .await
            .expect("a raw Redis command")
    }
    match mode {
        Mode::Node => {
            let client = ::redis::Client::open(redis_url()).expect("the test Redis URL");
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("a raw connection");
            send(&mut conn, command).await
        }
        Mode::Cluster => {
            let nodes: Vec<String> = mode
                .nodes()
                .iter()
                .map(|n| format!("redis://{n}"))
                .collect();
            let client = ::redis::cluster::ClusterClient::new(nodes).expect("the cluster nodes");
            let mut conn = client
                .get_async_connection()
                .await
                .expect("a raw cluster connection");
            send(&mut conn, command).await
        }
    }
}

async fn purge(mode: Mode, prefix: &str) {
    for addr in mode.nodes() {
        let client = ::redis::Client::open(format!("redis://{addr}")).expect("a node URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("a raw node connection");
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
                .expect("SCAN the test's keys");
            for k in keys {
                let _: i64 = cmd("DEL")
                    .arg(&k)
                    .query_async(&mut conn)
                    .await
                    .expect("delete a test key");
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::Nil => None,
        other => panic!("not a string reply: {other:?}"),
    }
}

fn int(value: Value) -> i64 {
    match value {
        Value::Int(n) => n,
        other => panic!("not an integer reply: {other:?}"),
    }
}

async fn hget(rig: &Rig, redis_key: &str, field: &str) -> Option<Vec<u8>> {
    bytes(rig.raw(cmd("HGET").arg(redis_key).arg(field)).await)
}

async fn hset(rig: &Rig, redis_key: &str, field: &str, value: &[u8]) {
    rig.raw(cmd("HSET").arg(redis_key).arg(field).arg(value))
        .await;
}

async fn exists(rig: &Rig, redis_key: &str) -> bool {
    int(rig.raw(cmd("EXISTS").arg(redis_key)).await) == 1
}

/// Whether the key holds a tombstone and nothing else.
async fn buried(rig: &Rig, redis_key: &str) -> bool {
    let fields = rig.raw(cmd("HGETALL").arg(redis_key)).await;
    let pairs: Vec<Vec<u8>> = match fields {
        Value::Array(items) => items.into_iter().filter_map(bytes).collect(),
        Value::Map(pairs) => pairs
            .into_iter()
            .flat_map(|(k, v)| [k, v])
            .filter_map(bytes)
            .collect(),
        other => panic!("HGETALL: {other:?}"),
    };
    pairs == [b"tombstone".to_vec(), b"1".to_vec()]
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

/// The tests below, each once on one server and once on the cluster.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod node {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Mode::Node).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Mode::Cluster).await;
                }
            )*
        }
    };
}

on_both!(
    conformance,
    a_hit_costs_no_db_call,
    two_processes_share_one_cache,
    concurrent_increments_from_two_processes,
    different_keys_survive_two_processes,
    the_entry_holds_the_signed_data_the_exact_expiry_and_the_db_version,
    a_delete_holds_off_late_writes,
    a_tampered_entry_is_not_trusted,
    the_cache_down_is_not_fatal,
);

async fn conformance(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    conformance::run_all(&rig.a.store, Capabilities::new(), real_now()).await;
    rig.purge().await;
}

async fn a_hit_costs_no_db_call(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
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
    let loaded = a.store.load(&other.cookie_value, now).await.expect("load");
    assert_eq!(loaded.as_ref().map(count), Some(7));
    let loaded = a.store.load(&other.cookie_value, now).await.expect("load");
    assert_eq!(loaded.as_ref().map(count), Some(7));
    assert_eq!(a.db.calls(), before + 1, "the miss did not fill the cache");
    rig.purge().await;
}

async fn two_processes_share_one_cache(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
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
    rig.purge().await;
}

async fn concurrent_increments_from_two_processes(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let b = rig.process().await;
    let stores: [Arc<dyn SessionStore>; 2] = [Arc::new(rig.a.store.clone()), Arc::new(b.store)];
    common::http::concurrent_increments(stores).await;
    rig.purge().await;
}

async fn different_keys_survive_two_processes(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let b = rig.process().await;
    let stores: [Arc<dyn SessionStore>; 2] = [Arc::new(rig.a.store.clone()), Arc::new(b.store)];
    common::http::different_keys_survive(stores).await;
    rig.purge().await;
}

async fn the_entry_holds_the_signed_data_the_exact_expiry_and_the_db_version(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let cache = &rig.a.cache;
    let now = real_now();
    let session_key = key::generate_key();
    let redis_key = cache.redis_key(&session_key);
    assert_eq!(
        redis_key,
        format!(
            "{}django.contrib.sessions.cached_db{session_key}",
            rig.prefix
        )
    );
    let expires_at = now + Duration::minutes(10) + Duration::microseconds(3);
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

    let signed = hget(&rig, &redis_key, "session_data").await.expect("data");
    let signed = String::from_utf8(signed).expect("text");
    assert_eq!(
        codec().decode(&signed, None, now).expect("signed").data,
        session
    );
    let stamp = hget(&rig, &redis_key, "expire_date").await.expect("expiry");
    let micros = expires_at.unix_timestamp_nanos() / 1_000;
    assert_eq!(stamp, micros.to_string().into_bytes(), "Unix µs");
    let stored = hget(&rig, &redis_key, "db_version").await.expect("version");
    assert_eq!(
        stored,
        URL_SAFE_NO_PAD.encode(version.as_bytes()).into_bytes()
    );
    let pttl = int(rig.raw(cmd("PTTL").arg(&redis_key)).await);
    let want = Duration::minutes(10).whole_milliseconds() as i64 + 1_000;
    assert!(
        pttl <= want + 1 && pttl > want - 2_000,
        "PTTL {pttl} ms, expected about {want} ms (time left, rounded up, plus 1 s)"
    );
    // The cache engine's key space is untouched.
    let engine_key = format!("{}django.contrib.sessions.cache{session_key}", rig.prefix);
    assert!(!exists(&rig, &engine_key).await);

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

    // An expiry already past deletes instead of writing.
    cache
        .set(
            &session_key,
            &Record::new(session, now - Duration::seconds(1)),
            &version,
            now,
        )
        .await
        .expect("set in the past");
    assert!(buried(&rig, &redis_key).await, "a past expiry was written");
    assert!(cache.get(&session_key, now).await.expect("get").is_none());
    cache
        .delete(&session_key)
        .await
        .expect("delete a missing entry");
    assert!(!format!("{cache:?}").contains(&session_key));
    rig.purge().await;
}

/// A process that saved a session just before another logged it out may
/// write its record to the cache after the logout: the delete's tombstone
/// drops that write, so the session is never served again. After the
/// hold-off the key takes writes again.
async fn a_delete_holds_off_late_writes(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let hold_off = StdDuration::from_millis(400);
    let a = &rig.a;
    let b = rig.process().await;
    let b_cache = (*b.cache).clone().with_hold_off(hold_off);
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
    assert!(buried(&rig, &a.cache.redis_key(key)).await);

    // Once the hold-off is over, a key takes writes again.
    let other = key::generate_key();
    b_cache.delete(&other).await.expect("delete");
    b_cache
        .set(&other, &record(5, expires_at), &v2, now)
        .await
        .expect("set");
    assert!(b_cache.get(&other, now).await.expect("get").is_none());
    tokio::time::sleep(hold_off + StdDuration::from_millis(100)).await;
    assert!(b_cache.get(&other, now).await.expect("get").is_none());
    b_cache
        .set(&other, &record(5, expires_at), &v2, now)
        .await
        .expect("set");
    let entry = b_cache
        .get(&other, now)
        .await
        .expect("get")
        .expect("written");
    assert_eq!(entry.record, record(5, expires_at));
    assert!(format!("{b_cache:?}").contains("hold_off_ms: 400"));
    rig.purge().await;
}

async fn a_tampered_entry_is_not_trusted(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let logs = captured_logs();
    let a = &rig.a;
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let foreign = Codec::sessions(&Keys::new(
        SecretKey::new("another-secret-that-this-store-does-not-hold-0123456789"),
        vec![],
    ));
    let forged = foreign.encode(&data(json!({"count": 999, "_auth_user_id": "1"})), now);
    let mut flipped = codec()
        .encode(&data(json!({"count": 999})), now)
        .into_bytes();
    flipped[1] ^= 1;
    let stamp = (expires_at.unix_timestamp_nanos() / 1_000).to_string();

    let tamperings: [(&str, &str, Vec<u8>); 6] = [
        (
            "signed with a foreign key",
            "session_data",
            forged.into_bytes(),
        ),
        ("a flipped byte", "session_data", flipped),
        ("not UTF-8", "session_data", vec![0xff, 0xfe, 0x80]),
        ("garbage expiry", "expire_date", b"tomorrow".to_vec()),
        ("garbage db version", "db_version", b"***".to_vec()),
        ("an empty expiry", "expire_date", Vec::new()),
    ];
    for (what, field, value) in tamperings {
        // A session the db has: the db answers, and the entry is replaced.
        let created = a
            .store
            .create(&record(1, expires_at), now)
            .await
            .expect("create");
        let key = created.cookie_value;
        let redis_key = a.cache.redis_key(&key);
        hset(&rig, &redis_key, field, &value).await;
        let before = a.db.calls();
        let loaded = a.store.load(&key, now).await.expect("load").expect("live");
        assert_eq!(count(&loaded), 1, "{what}: the tampered entry was served");
        assert_eq!(loaded.version, created.version, "{what}");
        assert_eq!(a.db.calls(), before + 1, "{what}: the db was not asked");
        assert!(buried(&rig, &redis_key).await, "{what}: the entry was left");

        // A session only the cache has: a miss, and the entry is deleted.
        let ghost = key::generate_key();
        let ghost_key = a.cache.redis_key(&ghost);
        let signed = codec().encode(&data(json!({"count": 5})), now);
        let mut entry: Vec<(&str, Vec<u8>)> = vec![
            ("session_data", signed.into_bytes()),
            ("expire_date", stamp.clone().into_bytes()),
            ("db_version", b"AAAA".to_vec()),
        ];
        for (f, v) in &mut entry {
            if *f == field {
                *v = value.clone();
            }
        }
        for (f, v) in &entry {
            hset(&rig, &ghost_key, f, v).await;
        }
        assert!(
            a.store.load(&ghost, now).await.expect("load").is_none(),
            "{what}: a session only in the cache was served"
        );
        assert!(buried(&rig, &ghost_key).await, "{what}: not deleted");

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

    // Not a hash at all, and a hash missing fields.
    let ghost = key::generate_key();
    let ghost_key = a.cache.redis_key(&ghost);
    rig.raw(cmd("SET").arg(&ghost_key).arg("a string")).await;
    assert!(a.store.load(&ghost, now).await.expect("load").is_none());
    assert!(buried(&rig, &ghost_key).await, "a string was left");
    rig.raw(cmd("DEL").arg(&ghost_key)).await;
    hset(&rig, &ghost_key, "session_data", b"x").await;
    assert!(a.store.load(&ghost, now).await.expect("load").is_none());
    assert!(buried(&rig, &ghost_key).await, "half an entry was left");
    rig.purge().await;
}

async fn the_cache_down_is_not_fatal(mode: Mode) {
    let bounded = tokio::time::timeout(StdDuration::from_secs(120), async {
        match mode {
            Mode::Node => cache_down_behind_a_proxy().await,
            Mode::Cluster => cluster_cache_down().await,
        }
    });
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
    let cache = redis_cache(&format!("redis://{}", proxy.addr()), &prefix).await;
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
    db_serves_alone(&store, key, expires_at, now).await;

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
    drop(proxy);
    purge(Mode::Node, &prefix).await;
}

/// Creates, loads, saves, touches and deletes through `store` while its
/// cache is down: the db serves them all. Leaves `key` at count 2.
async fn db_serves_alone(
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

/// A cluster cannot be cut by a proxy (its clients go to the addresses the
/// nodes announce), so this one runs a private one-node cluster and stops it.
async fn cluster_cache_down() {
    let Some((mut server, port, _dir)) = private_cluster().await else {
        return;
    };
    let dir = TempDir::new().expect("temp dir");
    let cache = redis_cache(&format!("redis+cluster://127.0.0.1:{port}"), "sk_cdb_").await;
    let db = Faulty::new(sqlite(&dir).await);
    let store = CachedDbStore::new(Arc::new(cache), db.clone());
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
    db_serves_alone(&store, key, expires_at, now).await;
}

/// A `redis-server` of this test alone in cluster mode, owning every slot
/// (killed when dropped), its port and its directory; `None` (the test
/// skips) when no `redis-server` is installed.
async fn private_cluster() -> Option<(tokio::process::Child, u16, TempDir)> {
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        listener.local_addr().expect("its address").port()
    };
    let dir = TempDir::new().expect("temp dir");
    let spawned = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(child) = spawned else {
        assert!(
            !common::services_required(),
            "redis-server is not installed and SESSIONKIT_REQUIRE_SERVICES=1"
        );
        eprintln!("SKIPPED: redis-server is not installed");
        return None;
    };
    let client = ::redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a URL");
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(c) = client.get_multiplexed_async_connection().await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let mut conn = conn.expect("the private cluster node did not start");
    let mut add = cmd("CLUSTER");
    add.arg("ADDSLOTS");
    for slot in 0..16384 {
        add.arg(slot);
    }
    let () = add.query_async(&mut conn).await.expect("CLUSTER ADDSLOTS");
    for _ in 0..100 {
        let info: String = cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .expect("CLUSTER INFO");
        if info.contains("cluster_state:ok") {
            return Some((child, port, dir));
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("the private cluster did not reach cluster_state:ok");
}

/// `store::open` builds the shared cache from `SESSION_CACHE_URL`, with the
/// key prefix, in front of the db.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_puts_redis_in_front_of_the_db() {
    for mode in [Mode::Node, Mode::Cluster] {
        if !available(mode.name(), &mode.url()).await {
            continue;
        }
        let dir = TempDir::new().expect("temp dir");
        let prefix = unique("sk_cdb");
        let db_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("open.sqlite3").display()
        );
        let vars = [
            ("SESSION_ENGINE", "cached_db".to_owned()),
            ("SESSION_DB_URL", db_url),
            ("SESSION_CACHE_URL", mode.url()),
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
            .expect("open cached_db on Redis");
        let shown = format!("{store:?}");
        assert!(
            shown.contains("CachedDbStore") && shown.contains("RedisCache"),
            "{shown}"
        );

        let now = real_now();
        let created = store
            .create(&record(1, now + Duration::hours(1)), now)
            .await
            .expect("create");
        let redis_key = format!(
            "{prefix}django.contrib.sessions.cached_db{}",
            created.cookie_value
        );
        let held = int(raw(mode, cmd("EXISTS").arg(&redis_key)).await);
        assert_eq!(held, 1, "{mode:?}: the cache entry is not under the prefix");
        purge(mode, &prefix).await;
    }
}

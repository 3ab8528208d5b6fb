//! The `cached_db` engine with Redis as its shared cache, on one server
//! (`node::…`) and on the Cluster (`cluster::…`), over SQLite: the
//! conformance suite, what a hit costs, two processes sharing one cache (a
//! logout or a save in one is seen by the other at once), exact increments
//! and concurrent writers over HTTP, the entry layout and its TTL, tampered
//! entries, and `store::open`. A cache that goes down is in
//! `cached_db_redis_outage.rs`.
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

use std::sync::Arc;
use std::time::Duration as StdDuration;

use ::redis::{cmd, Cmd, Value};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::cached_db::SessionCache;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::redis::RedisCache;
use sessionkit::store::{Record, SessionStore, Version};
use tempfile::TempDir;
use time::Duration;

use common::cached_db::{count, real_now, record, sqlite, KEEP, KEEP_LONG};
use common::logs::captured_logs;
use common::redis::{cache, cache_key, purge_on, send, Mode};
use common::services::{available, unique};
use common::{codec, data};

type Process = common::cached_db::Process<RedisCache>;

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
        send(self.mode, command).await
    }

    /// Deletes every key under the test's prefix, on every node.
    async fn purge(&self) {
        purge_on(self.mode, &self.prefix).await;
    }

    /// The Redis key of a session's cache entry under the test's prefix.
    fn key(&self, session_key: &str) -> String {
        cache_key(&self.prefix, session_key)
    }
}

async fn process(mode: Mode, dir: &TempDir, prefix: &str) -> Process {
    Process::new(dir, cache(&mode.url(), prefix).await).await
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
    a_django_logout_is_seen_within_the_max_age,
    entries_live_no_longer_than_the_max_age,
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
    common::cached_db::a_hit_costs_no_db_call(&rig.a, &*rig.plain).await;
    rig.purge().await;
}

async fn two_processes_share_one_cache(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let b = rig.process().await;
    common::cached_db::two_processes_share_one_cache(&rig.a, &b, &*rig.plain).await;
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
    // The key the module docs promise: `<prefix>django.contrib.sessions.cached_db<key>`.
    let redis_key = rig.key(&session_key);
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
            KEEP_LONG,
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

    common::cached_db::the_entry_is_served_until_its_expiry(
        &**cache,
        &session_key,
        &Record::new(session.clone(), expires_at),
        &version,
        now,
    )
    .await;

    // An expiry already past deletes instead of writing.
    cache
        .set(
            &session_key,
            &Record::new(session, now - Duration::seconds(1)),
            &version,
            now,
            KEEP_LONG,
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
    let (key, v2) =
        common::cached_db::a_late_write_after_a_logout_is_dropped(a, &b, &b_cache, expires_at, now)
            .await;
    assert!(buried(&rig, &rig.key(&key)).await);

    // Once the hold-off is over, a key takes writes again.
    let other = key::generate_key();
    b_cache.delete(&other).await.expect("delete");
    b_cache
        .set(&other, &record(5, expires_at), &v2, now, KEEP)
        .await
        .expect("set");
    assert!(b_cache.get(&other, now).await.expect("get").is_none());
    tokio::time::sleep(hold_off + StdDuration::from_millis(100)).await;
    assert!(b_cache.get(&other, now).await.expect("get").is_none());
    b_cache
        .set(&other, &record(5, expires_at), &v2, now, KEEP)
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
    let foreign = Codec::sessions(
        &Keys::new(
            SecretKey::new("another-secret-that-this-store-does-not-hold-0123456789"),
            vec![],
        )
        .unwrap(),
    );
    let forged = foreign.encode(&data(json!({"count": 999, "_auth_user_id": "1"})), now);
    let mut flipped = codec()
        .encode(&data(json!({"count": 999})), now)
        .into_bytes();
    flipped[1] ^= 1;
    let stamp = (expires_at.unix_timestamp_nanos() / 1_000).to_string();

    let tamperings: [(&str, &str, Vec<u8>); 7] = [
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
        ("garbage cache time", "cached_at", b"a while ago".to_vec()),
    ];
    for (what, field, value) in tamperings {
        // A session the db has: the db answers, and the entry is replaced.
        let created = a
            .store
            .create(&record(1, expires_at), now)
            .await
            .expect("create");
        let key = created.cookie_value;
        let redis_key = rig.key(&key);
        hset(&rig, &redis_key, field, &value).await;
        let before = a.db.calls();
        let loaded = a.store.load(&key, now).await.expect("load").expect("live");
        assert_eq!(count(&loaded), 1, "{what}: the tampered entry was served");
        assert_eq!(loaded.version, created.version, "{what}");
        assert_eq!(a.db.calls(), before + 1, "{what}: the db was not asked");
        assert!(buried(&rig, &redis_key).await, "{what}: the entry was left");

        // A session only the cache has: a miss, and the entry is deleted.
        let ghost = key::generate_key();
        let ghost_key = rig.key(&ghost);
        let signed = codec().encode(&data(json!({"count": 5})), now);
        let mut entry: Vec<(&str, Vec<u8>)> = vec![
            ("session_data", signed.into_bytes()),
            ("expire_date", stamp.clone().into_bytes()),
            ("db_version", b"AAAA".to_vec()),
            ("cached_at", stamp.clone().into_bytes()),
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
    let ghost_key = rig.key(&ghost);
    rig.raw(cmd("SET").arg(&ghost_key).arg("a string")).await;
    assert!(a.store.load(&ghost, now).await.expect("load").is_none());
    assert!(buried(&rig, &ghost_key).await, "a string was left");
    rig.raw(cmd("DEL").arg(&ghost_key)).await;
    hset(&rig, &ghost_key, "session_data", b"x").await;
    assert!(a.store.load(&ghost, now).await.expect("load").is_none());
    assert!(buried(&rig, &ghost_key).await, "half an entry was left");
    rig.purge().await;
}

/// Django logs out: it deletes the row and never this crate's entry in the
/// shared cache. Every process refuses the session once the entry is older
/// than the max age (H1).
async fn a_django_logout_is_seen_within_the_max_age(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let b = rig.process().await;
    let url = common::cached_db::sqlite_url(&rig.dir);
    common::cached_db::a_logout_the_cache_missed_is_seen_within_the_max_age(
        &rig.a,
        &b,
        |key| async move { common::cached_db::django_deletes_the_row(&url, &key).await },
    )
    .await;
    rig.purge().await;
}

/// Redis drops an entry once the store would no longer serve it (the max
/// age, plus the second of grace), however long the session lives.
async fn entries_live_no_longer_than_the_max_age(mode: Mode) {
    let Some(rig) = Rig::new(mode).await else {
        return;
    };
    let now = real_now();
    let created = rig
        .a
        .store
        .create(&record(1, now + Duration::weeks(2)), now)
        .await
        .expect("create");
    let redis_key = rig.key(&created.cookie_value);
    let pttl = int(rig.raw(cmd("PTTL").arg(&redis_key)).await);
    let want = i64::try_from(KEEP.as_millis()).expect("ms") + 1_000;
    assert!(
        pttl <= want && pttl > want - 2_000,
        "PTTL {pttl} ms, expected about {want} ms (the max age plus 1 s)"
    );
    let entry = rig.a.cache.get(&created.cookie_value, now).await;
    let entry = entry.expect("get").expect("an entry");
    assert_eq!(entry.cached_at, now, "the entry's age is the writer's now");
    rig.purge().await;
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
        let store =
            common::cached_db::open_from_settings(&dir, mode.url(), &prefix, "RedisCache").await;

        let now = real_now();
        let created = store
            .create(&record(1, now + Duration::hours(1)), now)
            .await
            .expect("create");
        let redis_key = format!(
            "{prefix}django.contrib.sessions.cached_db{}",
            created.cookie_value
        );
        let held = int(send(mode, cmd("EXISTS").arg(&redis_key)).await);
        assert_eq!(held, 1, "{mode:?}: the cache entry is not under the prefix");
        purge_on(mode, &prefix).await;
    }
}

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

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_memcached::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::cached_db::SessionCache;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::memcached::{MemcachedCache, MemcachedOptions, MAX_CACHE_PREFIX_BYTES};
use sessionkit::store::{Record, SessionMap, SessionStore, Version};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use common::cached_db::{count, real_now, record, sqlite, KEEP, KEEP_LONG};
use common::logs::captured_logs;
use common::memcached::{cache, cache_key, peek, plant, raw};
use common::proxy::Proxy;
use common::services::{available, host_port, memcached_url, unique};
use common::{codec, data};

/// A prefix no other test run uses.
fn prefix() -> String {
    format!("{}:", unique("sk_cdb"))
}

/// What a deleted entry holds while it holds off late writes.
const TOMBSTONE: &[u8] = b"sessionkit:tombstone";

/// Whether `key` holds a tombstone.
async fn buried(raw: &mut Client, key: &str) -> bool {
    peek(raw, key)
        .await
        .is_some_and(|(value, _)| value == TOMBSTONE)
}

type Process = common::cached_db::Process<MemcachedCache>;

async fn process(dir: &TempDir, prefix: &str) -> Process {
    Process::new(dir, cache(&memcached_url(), prefix).await).await
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
    let made = common::cached_db::a_hit_costs_no_db_call(&rig.a, &*rig.plain).await;
    for key in made {
        rig.a.store.delete(&key).await.expect("delete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_cache() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let b = rig.process().await;
    common::cached_db::two_processes_share_one_cache(&rig.a, &b, &*rig.plain).await;
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
    // The key the module docs promise: `<prefix>django.contrib.sessions.cached_db<key>`.
    let entry_key = cache_key(&rig.prefix, &session_key);
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
            KEEP_LONG,
        )
        .await
        .expect("set");

    let (bytes, ttl) = peek(&mut raw, &entry_key).await.expect("the entry");
    let text = String::from_utf8(bytes).expect("entries are text");
    let mut parts = text.splitn(4, ':');
    let (stamp, cached_at, b64, signed) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let micros = expires_at.unix_timestamp_nanos() / 1_000;
    assert_eq!(stamp, micros.to_string(), "expiry in Unix µs");
    let now_micros = now.unix_timestamp_nanos() / 1_000;
    assert_eq!(cached_at, now_micros.to_string(), "cached at, Unix µs");
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

    common::cached_db::the_entry_is_served_until_its_expiry(
        &**cache,
        &session_key,
        &Record::new(session.clone(), expires_at),
        &version,
        now,
    )
    .await;

    // Beyond 30 days memcached needs an absolute time; past 2038 no TTL.
    let forty_days = now + Duration::days(40);
    let set = |at: OffsetDateTime| {
        let record = Record::new(session.clone(), at);
        let (cache, session_key, version) = (cache.clone(), session_key.clone(), version.clone());
        async move {
            cache
                .set(&session_key, &record, &version, now, KEEP_LONG)
                .await
        }
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
                    now,
                    KEEP
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
    let (key, v2) =
        common::cached_db::a_late_write_after_a_logout_is_dropped(a, &b, &b_cache, expires_at, now)
            .await;
    assert!(buried(&mut raw, &cache_key(&rig.prefix, &key)).await);

    // Once the hold-off is over, a key takes writes again.
    let other = key::generate_key();
    b_cache.delete(&other).await.expect("delete");
    b_cache
        .set(&other, &record(5, expires_at), &v2, now, KEEP)
        .await
        .expect("set");
    assert!(b_cache.get(&other, now).await.expect("get").is_none());
    let mut written = None;
    for _ in 0..40 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        b_cache
            .set(&other, &record(5, expires_at), &v2, now, KEEP)
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
    let flipped = String::from_utf8(flipped).expect("still ASCII");
    let entry = |signed: &str| format!("{stamp}:{stamp}:AAAA:{signed}").into_bytes();

    let tamperings: [(&str, Vec<u8>); 8] = [
        ("signed with a foreign key", entry(&forged)),
        ("a flipped byte", entry(&flipped)),
        ("not UTF-8", {
            let mut v = format!("{stamp}:{stamp}:AAAA:").into_bytes();
            v.extend_from_slice(&[0xff, 0xfe, 0x80]);
            v
        }),
        (
            "garbage expiry",
            format!("tomorrow:AAAA:{}", codec().encode(&SessionMap::new(), now)).into_bytes(),
        ),
        (
            "garbage db version",
            format!(
                "{stamp}:{stamp}:***:{}",
                codec().encode(&SessionMap::new(), now)
            )
            .into_bytes(),
        ),
        (
            "no cache time (an entry from before entries had an age)",
            format!("{stamp}:AAAA:{}", codec().encode(&SessionMap::new(), now)).into_bytes(),
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
        let entry_key = cache_key(&rig.prefix, &key);
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
        let ghost_key = cache_key(&rig.prefix, &ghost);
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
    let cache = cache(&format!("memcache://{}", proxy.addr()), &prefix()).await;
    let process = Process::new(&dir, cache).await;
    let key = common::cached_db::the_cache_goes_down_and_comes_back(&process, &proxy).await;
    process.store.delete(&key).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_too_long_for_the_cache_is_refused() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let store = |prefix: String| async move {
        MemcachedOptions::new()
            .prefix(prefix)
            .open(&memcached_url())
            .await
            .expect("a prefix the engine takes")
            .with_codec(codec())
    };
    let fits = store("p".repeat(MAX_CACHE_PREFIX_BYTES)).await;
    assert!(MemcachedCache::new(fits).is_ok());
    let long = store("p".repeat(MAX_CACHE_PREFIX_BYTES + 1)).await;
    assert!(matches!(
        MemcachedCache::new(long),
        Err(StoreError::Config(_))
    ));
}

/// Django logs out: it deletes the row and never this crate's entry in the
/// shared cache. Every process refuses the session once the entry is older
/// than the max age (H1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_django_logout_is_seen_within_the_max_age() {
    let Some(rig) = Rig::new().await else {
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
}

/// Memcached drops an entry once the store would no longer serve it (the
/// max age in whole seconds, plus one), however long the session lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_live_no_longer_than_the_max_age() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let now = real_now();
    let created = rig
        .a
        .store
        .create(&record(1, now + Duration::weeks(2)), now)
        .await
        .expect("create");
    let mut raw = raw().await;
    let entry_key = cache_key(&rig.prefix, &created.cookie_value);
    let (_, ttl) = peek(&mut raw, &entry_key).await.expect("the entry");
    let want = i64::try_from(KEEP.as_secs()).expect("secs") + 1;
    assert!(
        (want - 2..=want).contains(&ttl),
        "TTL {ttl} s, expected {want} s (the max age plus one)"
    );
    let entry = rig.a.cache.get(&created.cookie_value, now).await;
    let entry = entry.expect("get").expect("an entry");
    assert_eq!(entry.cached_at, now, "the entry's age is the writer's now");
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
    let store =
        common::cached_db::open_from_settings(&dir, memcached_url(), &prefix, "MemcachedCache")
            .await;

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

//! The cache engine on one Redis server: the conformance suite, TTLs that
//! follow the session's expiry, corrupt values, key prefixes, concurrency and
//! outages over HTTP, and a server restart (scripts flushed, data lost).
//!
//! Every test uses its own key prefix and deletes its keys at the end; none
//! flushes the shared server.
#![cfg(all(feature = "redis", feature = "conformance", feature = "axum"))]

mod common;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::{cmd, AsyncCommands};
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::redis::RedisStore;
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore, Version};
use sessionkit::SessionConfig;
use time::{Duration, OffsetDateTime};

use common::proxy::{Fault, Proxy};
use common::services::{available, host_port, redis_url, unique};

/// Redis drops expired entries by itself, so `clear_expired` has nothing to
/// count; everything else is the whole contract.
fn caps() -> Capabilities {
    Capabilities::new().clear_expired_counts(false)
}

fn codec() -> Codec {
    SessionConfig::new(common::SECRET)
        .expect("a valid test config")
        .codec()
}

/// The real time cut to microseconds, as Django (and the store) keep it.
fn real_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - Duration::nanoseconds(i64::from(now.nanosecond() % 1_000))
}

fn data(value: serde_json::Value) -> SessionMap {
    value.as_object().cloned().unwrap_or_default()
}

/// A store on the test server with a prefix of its own.
async fn store(prefix: &str) -> RedisStore {
    RedisStore::new(&redis_url(), codec())
        .await
        .expect("connect to the test Redis")
        .with_prefix(prefix)
}

/// A plain connection for looking at what the store wrote.
async fn raw() -> MultiplexedConnection {
    ::redis::Client::open(redis_url())
        .expect("the test Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a raw connection to the test Redis")
}

/// Deletes every key under `prefix` (a test prefix: `[a-z0-9_]`, no glob
/// characters).
async fn purge(prefix: &str) {
    let mut conn = raw().await;
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
            let _: () = conn.del(&k).await.expect("delete a test key");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

async fn pttl(conn: &mut MultiplexedConnection, redis_key: &str) -> i64 {
    conn.pttl(redis_key).await.expect("PTTL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    conformance::run_all(&store, caps(), real_now()).await;
    purge(&prefix).await;
}

#[tokio::test]
async fn the_value_is_the_django_signed_session_under_djangos_logical_key() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    let now = real_now();
    let session = data(json!({"visit": 11, "_auth_user_id": "42"}));
    let saved = store
        .create(&Record::new(session.clone(), now + Duration::hours(1)), now)
        .await
        .expect("create");

    let redis_key = format!(
        "{prefix}django.contrib.sessions.cache{}",
        saved.cookie_value
    );
    assert_eq!(store.redis_key(&saved.cookie_value), redis_key);
    let mut conn = raw().await;
    let stored: String = conn.hget(&redis_key, "session_data").await.expect("HGET");
    assert_eq!(
        stored.as_bytes(),
        saved.version.as_bytes(),
        "version = session_data"
    );
    let decoded = codec().decode(&stored, None, now).expect("Django-signed");
    assert_eq!(decoded.data, session);
    let expire_date: String = conn.hget(&redis_key, "expire_date").await.expect("HGET");
    let micros = (now + Duration::hours(1)).unix_timestamp_nanos() / 1_000;
    assert_eq!(expire_date, micros.to_string(), "expire_date in Unix µs");
    purge(&prefix).await;
}

#[tokio::test]
async fn ttl_follows_the_expiry() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    let mut conn = raw().await;
    let now = real_now();
    // The TTL is the time left plus one second of grace.
    let close = |ms: i64, expected: Duration| {
        let want = expected.whole_milliseconds() as i64 + 1_000;
        assert!(
            ms <= want && ms > want - 2_000,
            "PTTL {ms} ms, expected about {want} ms"
        );
    };

    let expires_at = now + Duration::minutes(10);
    let saved = store
        .create(&Record::new(data(json!({"a": 1})), expires_at), now)
        .await
        .expect("create");
    let redis_key = store.redis_key(&saved.cookie_value);
    close(pttl(&mut conn, &redis_key).await, Duration::minutes(10));

    let loaded = store
        .load(&saved.cookie_value, real_now())
        .await
        .expect("load")
        .expect("live");
    assert_eq!(loaded.record.expires_at, expires_at, "exact expiry");

    let now = real_now();
    let outcome = store
        .save(
            &saved.cookie_value,
            &Record::new(data(json!({"a": 2})), now + Duration::weeks(2)),
            &loaded.version,
            now,
        )
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
    close(pttl(&mut conn, &redis_key).await, Duration::weeks(2));

    let before: Vec<u8> = conn.hget(&redis_key, "session_data").await.expect("HGET");
    let now = real_now();
    assert!(store
        .touch(&saved.cookie_value, now + Duration::hours(3), now)
        .await
        .expect("touch"));
    close(pttl(&mut conn, &redis_key).await, Duration::hours(3));
    let after: Vec<u8> = conn.hget(&redis_key, "session_data").await.expect("HGET");
    assert_eq!(before, after, "touch rewrote the value");
    purge(&prefix).await;
}

#[tokio::test]
async fn an_expiry_in_the_past_deletes_and_never_writes() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    let mut conn = raw().await;
    let now = real_now();
    let exists = |conn: &mut MultiplexedConnection, k: String| {
        let mut conn = conn.clone();
        async move { conn.exists::<_, bool>(k).await.expect("EXISTS") }
    };

    let expired = store
        .create(
            &Record::new(data(json!({})), now - Duration::seconds(1)),
            now,
        )
        .await
        .expect("create an expired record");
    assert!(!exists(&mut conn, store.redis_key(&expired.cookie_value)).await);

    let live = store
        .create(
            &Record::new(data(json!({"a": 1})), now + Duration::hours(1)),
            now,
        )
        .await
        .expect("create");
    let outcome = store
        .save(
            &live.cookie_value,
            &Record::new(data(json!({"a": 2})), now - Duration::seconds(10)),
            &live.version,
            now,
        )
        .await
        .expect("save into the past");
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
    assert!(
        !exists(&mut conn, store.redis_key(&live.cookie_value)).await,
        "a save with a past expiry left the key"
    );

    let touched = store
        .create(&Record::new(data(json!({})), now + Duration::hours(1)), now)
        .await
        .expect("create");
    assert!(store
        .touch(&touched.cookie_value, now - Duration::seconds(1), now)
        .await
        .expect("touch into the past"));
    assert!(!exists(&mut conn, store.redis_key(&touched.cookie_value)).await);
    purge(&prefix).await;
}

/// Plants a session entry as the store writes it, with raw field values.
async fn plant(conn: &mut MultiplexedConnection, redis_key: &str, fields: &[(&str, &[u8])]) {
    for (field, value) in fields {
        let _: () = conn.hset(redis_key, *field, *value).await.expect("HSET");
    }
    let _: () = conn.pexpire(redis_key, 60_000).await.expect("PEXPIRE");
}

fn micros(at: OffsetDateTime) -> Vec<u8> {
    (at.unix_timestamp_nanos() / 1_000).to_string().into_bytes()
}

#[tokio::test]
async fn bad_stored_data_loads_empty_and_keeps_the_key() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    let mut conn = raw().await;
    let now = real_now();
    let expires = micros(now + Duration::hours(1));
    let foreign = Codec::sessions(
        &Keys::new(
            SecretKey::new("another-secret-that-this-store-does-not-hold-0123456789"),
            vec![],
        )
        .unwrap(),
    )
    .encode(&data(json!({"visit": 3})), now);
    let mut tampered = codec().encode(&data(json!({"visit": 3})), now).into_bytes();
    tampered[1] ^= 1;

    for (what, value) in [
        ("garbage", b"not a signed value".to_vec()),
        ("signed with a foreign key", foreign.into_bytes()),
        ("tampered", tampered),
        ("not UTF-8", vec![0xff, 0xfe, 0x00, 0x80]),
        ("empty", Vec::new()),
    ] {
        let session_key = key::generate_key();
        let redis_key = store.redis_key(&session_key);
        plant(
            &mut conn,
            &redis_key,
            &[("session_data", &value), ("expire_date", &expires)],
        )
        .await;
        let loaded = store
            .load(&session_key, now)
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{what}: the key was dropped"));
        assert!(loaded.record.data.is_empty(), "{what}: data not empty");
        assert_eq!(loaded.version.as_bytes(), &value[..], "{what}: version");

        let repaired = data(json!({"repaired": true}));
        let outcome = store
            .save(
                &session_key,
                &Record::new(repaired.clone(), now + Duration::hours(1)),
                &loaded.version,
                now,
            )
            .await
            .expect("save over bad data");
        assert!(
            matches!(outcome, SaveOutcome::Saved(_)),
            "{what}: {outcome:?}"
        );
        let reloaded = store.load(&session_key, now).await.expect("load");
        assert_eq!(reloaded.map(|l| l.record.data), Some(repaired), "{what}");
    }
    purge(&prefix).await;
}

/// Entries no session store wrote — no readable expiry, another type under
/// the key — are not adopted, and saves or touches never revive them.
#[tokio::test]
async fn foreign_entries_are_not_sessions() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    let mut conn = raw().await;
    let now = real_now();
    let signed = codec().encode(&data(json!({"visit": 1})), now).into_bytes();
    let later = now + Duration::hours(1);

    for (what, expire_date) in [
        ("no expire_date", None),
        ("a text expire_date", Some(b"2026-03-01 12:00:00".to_vec())),
        ("an empty expire_date", Some(Vec::new())),
    ] {
        let session_key = key::generate_key();
        let redis_key = store.redis_key(&session_key);
        let mut fields: Vec<(&str, &[u8])> = vec![("session_data", &signed)];
        if let Some(e) = &expire_date {
            fields.push(("expire_date", e));
        }
        plant(&mut conn, &redis_key, &fields).await;
        assert!(
            store.load(&session_key, now).await.expect("load").is_none(),
            "{what}"
        );
        let outcome = store
            .save(
                &session_key,
                &Record::new(data(json!({})), later),
                &Version::new(signed.clone()),
                now,
            )
            .await
            .expect("save");
        assert_eq!(outcome, SaveOutcome::Gone, "{what}");
        assert!(
            !store.touch(&session_key, later, now).await.expect("touch"),
            "{what}"
        );
        let gone = store
            .delete_if(&session_key, &Version::new(b"other".to_vec()), now)
            .await;
        assert!(matches!(gone, Ok(true)), "{what}: delete_if gave {gone:?}");
    }

    let session_key = key::generate_key();
    let _: () = conn
        .set_ex(store.redis_key(&session_key), &signed, 60)
        .await
        .expect("plant a string");
    assert!(
        store.load(&session_key, now).await.expect("load").is_none(),
        "a string value"
    );
    let gone = store
        .delete_if(&session_key, &Version::new(signed.clone()), now)
        .await;
    assert!(
        matches!(gone, Ok(true)),
        "a string value: delete_if gave {gone:?}"
    );
    let kept: Option<Vec<u8>> = conn.get(store.redis_key(&session_key)).await.expect("GET");
    assert_eq!(
        kept,
        Some(signed),
        "delete_if removed a value that is not ours"
    );
    purge(&prefix).await;
}

/// Expiry follows the caller's clock, not only the TTL: a session whose
/// `expires_at` has passed at `now` is gone even while Redis still holds it.
#[tokio::test]
async fn expiry_follows_the_callers_clock() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let store = store(&prefix).await;
    let now = real_now();
    let expires_at = now + Duration::hours(1);
    let saved = store
        .create(&Record::new(data(json!({"a": 1})), expires_at), now)
        .await
        .expect("create");
    let loaded = store
        .load(&saved.cookie_value, now)
        .await
        .expect("load")
        .expect("live");

    for later in [
        expires_at,
        expires_at + Duration::microseconds(1),
        now + Duration::days(1),
    ] {
        assert!(
            store
                .load(&saved.cookie_value, later)
                .await
                .expect("load")
                .is_none(),
            "{later}"
        );
        let outcome = store
            .save(
                &saved.cookie_value,
                &Record::new(data(json!({"a": 2})), later + Duration::hours(1)),
                &loaded.version,
                later,
            )
            .await
            .expect("save");
        assert_eq!(
            outcome,
            SaveOutcome::Gone,
            "a save at {later} revived an expired session"
        );
        assert!(!store
            .touch(&saved.cookie_value, later + Duration::hours(1), later)
            .await
            .expect("touch"));
    }
    let just_before = expires_at - Duration::microseconds(1);
    let still = store
        .load(&saved.cookie_value, just_before)
        .await
        .expect("load");
    assert_eq!(still.map(|l| l.record.data), Some(data(json!({"a": 1}))));
    purge(&prefix).await;
}

#[tokio::test]
async fn prefixes_isolate_stores() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let (pa, pb) = (unique("sk_test"), unique("sk_test"));
    let (a, b) = (store(&pa).await, store(&pb).await);
    let now = real_now();
    let record = Record::new(data(json!({"owner": "a"})), now + Duration::hours(1));
    let saved = a.create(&record, now).await.expect("create in a");

    assert!(b
        .load(&saved.cookie_value, now)
        .await
        .expect("load")
        .is_none());
    let outcome = b
        .save(&saved.cookie_value, &record, &saved.version, now)
        .await
        .expect("save in b");
    assert_eq!(outcome, SaveOutcome::Gone, "b saw a's session");
    b.delete(&saved.cookie_value).await.expect("delete in b");
    assert!(!b
        .touch(&saved.cookie_value, now + Duration::hours(2), now)
        .await
        .expect("touch"));
    let still = a.load(&saved.cookie_value, now).await.expect("load in a");
    assert_eq!(still.map(|l| l.record.data), Some(record.data));
    assert_eq!(a.prefix(), pa);
    assert!(format!("{a:?}").contains("RedisStore"));
    purge(&pa).await;
    purge(&pb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_concurrent_increments_from_two_connections() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let (a, b) = (store(&prefix).await, store(&prefix).await);
    common::http::concurrent_increments([Arc::new(a), Arc::new(b)]).await;
    purge(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_different_keys_survive() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let (a, b) = (store(&prefix).await, store(&prefix).await);
    common::http::different_keys_survive([Arc::new(a), Arc::new(b)]).await;
    purge(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_store_down_then_recovers() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = RedisStore::new(&format!("redis://{}", proxy.addr()), codec())
        .await
        .expect("connect through the proxy")
        .with_prefix(&prefix);
    let bounded = tokio::time::timeout(
        StdDuration::from_secs(60),
        common::http::store_down_then_recovers(Arc::new(store), &proxy),
    );
    bounded.await.expect("the outage test hung");
    purge(&prefix).await;
}

#[tokio::test]
async fn a_dead_server_fails_fast_and_the_store_recovers() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = RedisStore::new(&format!("redis://{}", proxy.addr()), codec())
        .await
        .expect("connect through the proxy")
        .with_prefix(&prefix);
    let now = real_now();
    let saved = store
        .create(
            &Record::new(data(json!({"a": 1})), now + Duration::hours(1)),
            now,
        )
        .await
        .expect("create");

    proxy.cut();
    for _ in 0..3 {
        let started = Instant::now();
        let failed = store.load(&saved.cookie_value, now).await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "load while down: {failed:?}"
        );
        assert!(
            started.elapsed() < StdDuration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }

    proxy.restore();
    let mut back = None;
    for _ in 0..50 {
        if let Ok(found) = store.load(&saved.cookie_value, now).await {
            back = Some(found);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let back = back.expect("the store recovers by itself");
    assert_eq!(back.map(|l| l.record.data), Some(data(json!({"a": 1}))));

    let refused = RedisStore::new(&format!("redis://{}", closed_port().await), codec()).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    purge(&prefix).await;
}

/// The keys under `prefix` on the test server.
async fn keys_under(prefix: &str) -> Vec<String> {
    let mut conn = raw().await;
    let mut found = Vec::new();
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
        found.extend(keys);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// A store on the test server through `proxy`.
async fn store_through(proxy: &Proxy, prefix: &str) -> RedisStore {
    RedisStore::new(&format!("redis://{}", proxy.addr()), codec())
        .await
        .expect("connect through the proxy")
        .with_prefix(prefix)
}

/// Every script request that reaches the server twice (a client's re-send
/// after a lost reply) does what it did once: a create makes one entry, a
/// save applies once and answers `Saved`, not `Conflict`.
#[tokio::test]
async fn a_request_run_twice_applies_once() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = store_through(&proxy, &prefix).await;
    let now = real_now();

    proxy.arm(Fault::Duplicate, b"EVAL");
    let created = store
        .create(&Record::new(data(json!({})), now + Duration::hours(1)), now)
        .await
        .expect("create");
    assert_eq!(proxy.fired(), 1, "the create was not duplicated");
    assert_eq!(
        keys_under(&prefix).await.len(),
        1,
        "a create run twice left a second entry"
    );

    let rounds = 8;
    let tally = common::replay::increments(&store, &created.cookie_value, rounds, now, |_| {
        proxy.arm(Fault::Duplicate, b"EVAL");
    })
    .await;
    assert_eq!(proxy.fired(), 1 + rounds, "not every save was duplicated");
    assert_eq!(tally.saved, rounds, "{tally:?}");
    assert_eq!(tally.replays, 0, "a save contradicted itself: {tally:?}");

    let loaded = store.load(&created.cookie_value, now).await.expect("load");
    let version = loaded.expect("the session").version;
    proxy.arm(Fault::Duplicate, b"EVAL");
    let gone = store.delete_if(&created.cookie_value, &version, now).await;
    assert!(matches!(gone, Ok(true)), "delete_if run twice: {gone:?}");
    assert!(keys_under(&prefix).await.is_empty());
    purge(&prefix).await;
}

/// A save whose reply is lost after the server ran it is `Unavailable` (the
/// outcome is unknown), never `Conflict`, and is applied at most once.
#[tokio::test]
async fn a_lost_reply_is_unavailable_and_applies_once() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store = store_through(&proxy, &prefix).await;
    let now = real_now();
    let created = store
        .create(&Record::new(data(json!({})), now + Duration::hours(1)), now)
        .await
        .expect("create");
    let rounds = 6;
    let tally = common::replay::increments(&store, &created.cookie_value, rounds, now, |round| {
        if round % 2 == 0 {
            proxy.arm(Fault::LoseReply, b"EVAL");
        }
    })
    .await;
    assert_eq!(proxy.fired(), rounds / 2);
    assert_eq!(tally.unavailable, rounds / 2, "{tally:?}");
    assert_eq!(tally.saved, rounds / 2, "{tally:?}");
    assert_eq!(tally.replays, 0, "{tally:?}");
    purge(&prefix).await;
}

#[tokio::test]
async fn urls() {
    for url in [
        "http://127.0.0.1:6379",
        "redis://:hunter2secret@127.0.0.1:6379/notanumber",
        "rediss://:hunter2secret@127.0.0.1:6380",
        "redis+cluster://:hunter2secret@127.0.0.1:7000",
    ] {
        match RedisStore::new(url, codec()).await {
            Err(StoreError::Config(message)) => {
                assert!(!message.contains("hunter2"), "{message}");
            }
            other => panic!("{url}: expected a config error, got {other:?}"),
        }
    }
}

/// A server restart loses the data and the cached scripts: the store goes on
/// by itself, and its scripts run again (EVALSHA falls back to EVAL).
#[tokio::test]
async fn a_restarted_server_is_used_again() {
    let Some(port) = free_port().await else {
        return;
    };
    let Some(mut server) = private_server(port).await else {
        return;
    };
    let store = RedisStore::new(&format!("redis://127.0.0.1:{port}"), codec())
        .await
        .expect("connect to the private server");
    let now = real_now();
    let record = Record::new(data(json!({"a": 1})), now + Duration::hours(1));
    let saved = store.create(&record, now).await.expect("create");
    assert!(store
        .load(&saved.cookie_value, now)
        .await
        .expect("load")
        .is_some());

    server.kill().await.expect("stop the private server");
    let failed = store.load(&saved.cookie_value, now).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );

    let Some(mut server) = private_server(port).await else {
        panic!("the private server did not restart");
    };
    let mut gone = None;
    for _ in 0..50 {
        if let Ok(found) = store.load(&saved.cookie_value, now).await {
            gone = Some(found);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(
        gone.expect("the store recovers").is_none(),
        "data survived a restart without persistence"
    );
    let again = store
        .create(&record, now)
        .await
        .expect("create after restart");
    let loaded = store
        .load(&again.cookie_value, now)
        .await
        .expect("load")
        .expect("live");
    let outcome = store
        .save(&again.cookie_value, &record, &loaded.version, now)
        .await
        .expect("save after restart");
    assert!(matches!(outcome, SaveOutcome::Saved(_)));
    server.kill().await.expect("stop the private server");
}

/// A loopback port nothing listens on.
async fn closed_port() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    listener.local_addr().expect("its address")
}

async fn free_port() -> Option<u16> {
    Some(closed_port().await.port())
}

/// A `redis-server` of this test alone, killed when dropped; `None` (the test
/// skips) when no `redis-server` is installed.
async fn private_server(port: u16) -> Option<tokio::process::Child> {
    let spawned = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
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
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(child);
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("the private redis-server did not start on port {port}");
}

//! The cache engine on one Redis server: the conformance suite, the entry
//! layout, TTLs that follow the session's expiry, expiry by the caller's
//! clock, key prefixes, how a store is built and gets its signing keys, and
//! concurrency over HTTP. Corrupt and foreign entries are in
//! `redis_entries.rs`, outages in `redis_outage.rs`.
//!
//! Every test uses its own key prefix and deletes its keys at the end; none
//! flushes the shared server.
#![cfg(all(feature = "redis", feature = "conformance", feature = "axum"))]

mod common;

use std::sync::Arc;

use ::redis::aio::MultiplexedConnection;
use ::redis::AsyncCommands;
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::redis::{RedisOptions, RedisStore};
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use sessionkit::SessionConfig;
use time::Duration;

use common::redis::{entry_key, for_layer, purge, raw, real_now, store};
use common::services::{available, redis_url, unique};
use common::{codec, data};

/// Redis drops expired entries by itself, so `clear_expired` has nothing to
/// count; everything else is the whole contract.
fn caps() -> Capabilities {
    Capabilities::new().clear_expired_counts(false)
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

    // The key the module docs promise: `<prefix>django.contrib.sessions.cache<key>`.
    let redis_key = format!(
        "{prefix}django.contrib.sessions.cache{}",
        saved.cookie_value
    );
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
    let redis_key = entry_key(&prefix, &saved.cookie_value);
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
    assert!(!exists(&mut conn, entry_key(&prefix, &expired.cookie_value)).await);

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
        !exists(&mut conn, entry_key(&prefix, &live.cookie_value)).await,
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
    assert!(!exists(&mut conn, entry_key(&prefix, &touched.cookie_value)).await);
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
    // No keys of their own: the layer gives them.
    let (a, b) = (
        for_layer(&redis_url(), &prefix).await,
        for_layer(&redis_url(), &prefix).await,
    );
    common::http::concurrent_increments([Arc::new(a), Arc::new(b)]).await;
    purge(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_different_keys_survive() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    // No keys of their own: the layer gives them.
    let (a, b) = (
        for_layer(&redis_url(), &prefix).await,
        for_layer(&redis_url(), &prefix).await,
    );
    common::http::different_keys_survive([Arc::new(a), Arc::new(b)]).await;
    purge(&prefix).await;
}

#[tokio::test]
async fn urls() {
    for url in [
        "http://127.0.0.1:6379",
        "redis://:hunter2secret@127.0.0.1:6379/notanumber",
        "rediss://:hunter2secret@127.0.0.1:6380",
        "redis+cluster://:hunter2secret@",
    ] {
        match RedisStore::open(url).await {
            Err(StoreError::Config(message)) => {
                assert!(!message.contains("hunter2"), "{message}");
            }
            other => panic!("{url}: expected a config error, got {other:?}"),
        }
    }
    // `store::open` hands a TLS URL to the client, whose refusal says why.
    let config = sessionkit::StoreConfig::from_lookup(|name| match name {
        "SESSION_ENGINE" => Some("cache".to_owned()),
        "SESSION_CACHE_URL" => Some("rediss://:hunter2secret@127.0.0.1:6380".to_owned()),
        _ => None,
    })
    .expect("a valid store config");
    let session = SessionConfig::new(common::SECRET).expect("a valid config");
    match sessionkit::store::open(&config, &session).await {
        Err(StoreError::Config(message)) => {
            assert!(!message.contains("hunter2"), "{message}");
            assert!(
                !message.contains("not supported by this build"),
                "{message}"
            );
        }
        other => panic!("rediss:// through store::open: {other:?}"),
    }
}

/// A store built without keys answers a configuration error that names the
/// fix, takes the keys of the layer it is attached to, shares them with its
/// clones, and keeps keys given with `with_codec` over the layer's.
#[tokio::test]
async fn a_store_signs_with_the_keys_it_is_given_once() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let keyless = RedisOptions::new()
        .prefix(&prefix)
        .open(&redis_url())
        .await
        .expect("connect to the test Redis");
    let now = real_now();
    let record = Record::new(data(json!({"a": 1})), now + Duration::hours(1));
    match keyless.create(&record, now).await {
        Err(StoreError::Config(message)) => assert!(message.contains("with_codec"), "{message}"),
        other => panic!("a store without keys: {other:?}"),
    }
    assert!(matches!(
        keyless.load("abcdefgh12345678", now).await,
        Err(StoreError::Config(_))
    ));

    let clone = keyless.clone();
    keyless.attach(&SessionConfig::new(common::SECRET).expect("a valid config"));
    let saved = clone
        .create(&record, now)
        .await
        .expect("the clone has the keys");
    let mut conn = raw().await;
    let stored: String = conn
        .hget(entry_key(&prefix, &saved.cookie_value), "session_data")
        .await
        .expect("HGET");
    assert_eq!(
        codec().decode(&stored, None, now).expect("signed").data,
        record.data
    );

    // Keys given at construction stay: a layer with another secret changes nothing.
    let given = store(&prefix).await;
    given.attach(
        &SessionConfig::new("another-secret-0123456789-abcdefghijklmnopqrstuvwxyz")
            .expect("a valid config"),
    );
    let loaded = given.load(&saved.cookie_value, now).await.expect("load");
    assert_eq!(loaded.map(|l| l.record), Some(record));
    assert!(!format!("{given:?}").contains(common::SECRET));
    purge(&prefix).await;
}

/// A connection the caller built serves the same store, with the options'
/// prefix.
#[tokio::test]
async fn a_store_on_the_callers_connection() {
    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_test");
    let client = ::redis::Client::open(redis_url()).expect("the test Redis URL");
    let manager = ::redis::aio::ConnectionManager::new(client)
        .await
        .expect("a connection manager");
    let store = RedisOptions::new()
        .prefix(&prefix)
        .from_connection(manager)
        .expect("a prefix that fits")
        .with_codec(codec());
    assert_eq!(store.prefix(), prefix);
    let now = real_now();
    let record = Record::new(data(json!({"own": "connection"})), now + Duration::hours(1));
    let saved = store.create(&record, now).await.expect("create");
    let mut conn = raw().await;
    let held: bool = conn
        .exists(entry_key(&prefix, &saved.cookie_value))
        .await
        .expect("EXISTS");
    assert!(held, "the entry is not under the options' prefix");
    let loaded = store.load(&saved.cookie_value, now).await.expect("load");
    assert_eq!(loaded.map(|l| l.record), Some(record));
    purge(&prefix).await;
}

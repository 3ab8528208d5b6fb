//! How a Memcached store is built, against the real server of
//! `.ci/services.sh`: prefixes and URLs are checked when it is built, a
//! store on the caller's connector, and the signing keys (from the layer, or
//! given once).
//!
//! Every test uses its own key prefix and deletes its keys.
#![cfg(all(
    feature = "memcached",
    feature = "conformance",
    feature = "axum",
    feature = "memory"
))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_memcached::Client;
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::store::memcached::{MemcachedOptions, MemcachedStore, MAX_PREFIX_BYTES};
use sessionkit::store::{Record, SessionStore};
use sessionkit::SessionConfig;
use time::Duration;

use common::memcached::{entry_key, now, peek, prefix, raw, store};
use common::services::{available, host_port, memcached_url, unique};
use common::{codec, data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_and_urls_are_checked() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    for bad in [
        "with space:".to_owned(),
        "new\nline".to_owned(),
        "tab\t".to_owned(),
        "é".to_owned(),
        "p".repeat(MAX_PREFIX_BYTES + 1),
    ] {
        let result = MemcachedOptions::new()
            .prefix(bad.clone())
            .open(&memcached_url())
            .await;
        assert!(
            matches!(result, Err(StoreError::Config(_))),
            "prefix {bad:?} accepted"
        );
    }

    // The longest prefix with the longest accepted key still fits memcached.
    let longest = format!("{}:", unique("sk")).repeat(20)[..MAX_PREFIX_BYTES].to_owned();
    let store_ = store(&longest).await;
    let now = now();
    let record = Record::new(data(json!({"x": 1})), now + Duration::minutes(1));
    let created = store_.create(&record, now).await.expect("create");
    let forty = "k".repeat(40);
    assert!(store_.accepts(&forty));
    assert!(store_
        .load(&forty, now)
        .await
        .expect("a 250-byte key works")
        .is_none());
    assert_eq!(
        store_
            .load(&created.cookie_value, now)
            .await
            .expect("load")
            .map(|l| l.record),
        Some(record)
    );
    store_.delete(&created.cookie_value).await.expect("delete");

    for url in [
        "redis://127.0.0.1:6379",
        "memcache://user:secret@127.0.0.1:11211",
        "memcache://127.0.0.1:11211/0",
        "127.0.0.1:11211",
    ] {
        let result = MemcachedStore::open(url).await;
        match result {
            Err(StoreError::Config(message)) => assert!(!message.contains("secret")),
            other => panic!("{url}: expected a configuration error, got {other:?}"),
        }
    }
}

/// A store on the caller's connector opens every connection with it,
/// reconnections included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_connector_opens_connections_with_it() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let dsn = format!("tcp://{}", host_port(&memcached_url()));
    let counted = calls.clone();
    let connect = move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Client::new(dsn.clone())
    };
    let store = MemcachedOptions::new()
        .prefix(prefix())
        .from_connector(connect)
        .await
        .expect("store on a connector")
        .with_codec(codec());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one connection at start");
    let now = now();
    let record = Record::new(
        data(json!({"via": "connector"})),
        now + Duration::minutes(1),
    );
    let saved = store.create(&record, now).await.expect("create");
    let loaded = store.load(&saved.cookie_value, now).await.expect("load");
    assert_eq!(loaded.map(|l| l.record), Some(record));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the connection is reused");
    store.delete(&saved.cookie_value).await.expect("delete");
    assert!(!format!("{store:?}").contains(&saved.cookie_value));
}

/// A store built without keys answers a configuration error that names the
/// fix, takes the keys of the layer it is attached to, shares them with its
/// clones, and keeps keys given with `with_codec` over the layer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_signs_with_the_keys_it_is_given_once() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    let keyless = MemcachedOptions::new()
        .prefix(&prefix)
        .open(&memcached_url())
        .await
        .expect("connect to memcached");
    let now = now();
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
    let mut raw = raw().await;
    let (bytes, _) = peek(&mut raw, &entry_key(&prefix, &saved.cookie_value))
        .await
        .expect("the entry");
    let text = String::from_utf8(bytes).expect("text");
    let (_, signed) = text.split_once(':').expect("<expiry>:<signed>");
    assert_eq!(
        codec().decode(signed, None, now).expect("signed").data,
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
    given.delete(&saved.cookie_value).await.expect("delete");
}

/// The item limit the options give is the one a size refusal reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_size_refusal_reports_the_configured_item_limit() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let store = MemcachedOptions::new()
        .prefix(prefix())
        .item_limit(1_000_000)
        .open(&memcached_url())
        .await
        .expect("connect to memcached")
        .with_codec(codec());
    let now = now();
    // Pseudo-random text, so zlib cannot squeeze it under memcached's 1 MiB.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: String = (0..2_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    let record = Record::new(data(json!({ "noise": noise })), now + Duration::minutes(1));
    match store.create(&record, now).await {
        Err(StoreError::TooLarge { limit, size }) => {
            assert_eq!(limit, 1_000_000);
            assert!(size > limit, "{size}");
        }
        other => panic!("{:?}", other.map(|s| s.version)),
    }
}

//! The cache engine on Memcached, against the real server of
//! `.ci/services.sh`: the conformance suite, memcached's TTL rules (absolute
//! times beyond 30 days, past expiries deleted), the entry layout, touches
//! racing saves, compare-and-delete, corrupt entries, size refusals, and the
//! HTTP suites with two separate pools. How a store is built is in
//! `memcached_config.rs`, outages in `memcached_outage.rs`.
//!
//! Every test uses its own key prefix and deletes its keys; nothing here
//! flushes the shared server.
#![cfg(all(
    feature = "memcached",
    feature = "conformance",
    feature = "axum",
    feature = "memory"
))]

mod common;

use std::sync::Arc;

use async_memcached::AsciiProtocol;
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use time::{Duration, OffsetDateTime};

use common::memcached::{entry_key, for_layer, now, peek, prefix, raw, store};
use common::services::{available, memcached_url};
use common::{codec, data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let store = store(&prefix()).await;
    // Entries also expire by memcached's TTL: nothing left for
    // clear_expired to count.
    let caps = Capabilities::new().clear_expired_counts(false);
    conformance::run_all(&store, caps, OffsetDateTime::now_utc()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_hold_the_expiry_and_the_django_signed_session() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    let store = store(&prefix).await;
    let mut raw = raw().await;
    let now = now();
    let expires_at = now + Duration::hours(1) + Duration::microseconds(250);
    let record = Record::new(data(json!({"visit": 11})), expires_at);
    let saved = store.create(&record, now).await.expect("create");

    let (bytes, ttl) = peek(&mut raw, &entry_key(&prefix, &saved.cookie_value))
        .await
        .expect("the entry is under <prefix>django.contrib.sessions.cache<key>");
    let text = String::from_utf8(bytes).expect("entries are text");
    let (stamp, signed) = text.split_once(':').expect("<expiry>:<signed>");
    let micros = expires_at.unix_timestamp_nanos() / 1_000;
    assert_eq!(stamp, micros.to_string(), "expiry in Unix microseconds");
    assert_eq!(
        codec()
            .decode(signed, None, now)
            .expect("Django-signed")
            .data,
        record.data
    );
    assert!(
        (3600..=3602).contains(&ttl),
        "TTL = seconds left, rounded up, plus one: {ttl}"
    );
    store.delete(&saved.cookie_value).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiries_beyond_thirty_days_use_absolute_time() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    let store = store(&prefix).await;
    let mut raw = raw().await;
    let now = now();
    let forty_days = now + Duration::days(40);
    let record = Record::new(data(json!({"long": true})), forty_days);
    let created = store.create(&record, now).await.expect("create");
    let key = created.cookie_value.clone();
    let ttl_days = |ttl: i64| ttl / 86_400;

    // Sent as relative seconds, memcached would read 40 days as a moment
    // in 1970 and drop the entry at once.
    let loaded = store.load(&key, now).await.expect("load").expect("live");
    assert_eq!(loaded.record, record);
    let (_, ttl) = peek(&mut raw, &entry_key(&prefix, &key))
        .await
        .expect("kept");
    assert_eq!(ttl_days(ttl), 40, "memcached keeps it 40 days ({ttl} s)");

    let sixty_days = now + Duration::days(60);
    let saved = store
        .save(
            &key,
            &Record::new(record.data.clone(), sixty_days),
            &loaded.version,
            now,
        )
        .await
        .expect("save");
    assert!(matches!(saved, SaveOutcome::Saved(_)), "{saved:?}");
    let (_, ttl) = peek(&mut raw, &entry_key(&prefix, &key))
        .await
        .expect("kept");
    assert_eq!(ttl_days(ttl), 60, "({ttl} s)");

    let year = now + Duration::days(365);
    assert!(store.touch(&key, year, now).await.expect("touch"));
    let touched = store.load(&key, now).await.expect("load").expect("live");
    assert_eq!(touched.record.expires_at, year);
    let (_, ttl) = peek(&mut raw, &entry_key(&prefix, &key))
        .await
        .expect("kept");
    assert_eq!(ttl_days(ttl), 365, "({ttl} s)");
    store.delete(&key).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_expiries_delete_instead_of_writing() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    let store = store(&prefix).await;
    let mut raw = raw().await;
    let now = now();
    let past = now - Duration::seconds(10);

    let born_dead = store
        .create(&Record::new(data(json!({"a": 1})), past), now)
        .await
        .expect("create");
    assert!(
        peek(&mut raw, &entry_key(&prefix, &born_dead.cookie_value))
            .await
            .is_none(),
        "an expired record was written"
    );

    let live = Record::new(data(json!({"a": 1})), now + Duration::minutes(5));
    let created = store.create(&live, now).await.expect("create");
    let key = created.cookie_value;
    let loaded = store.load(&key, now).await.expect("load").expect("live");
    let outcome = store
        .save(
            &key,
            &Record::new(live.data.clone(), past),
            &loaded.version,
            now,
        )
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
    assert!(
        peek(&mut raw, &entry_key(&prefix, &key)).await.is_none(),
        "a save into the past left the entry"
    );

    let again = store.create(&live, now).await.expect("create");
    assert!(store
        .touch(&again.cookie_value, past, now)
        .await
        .expect("touch"));
    assert!(
        peek(&mut raw, &entry_key(&prefix, &again.cookie_value))
            .await
            .is_none(),
        "a touch into the past left the entry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touch_keeps_the_data_and_moves_memcached_ttl() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    let store = store(&prefix).await;
    let mut raw = raw().await;
    let now = now();
    let record = Record::new(data(json!({"kept": [1, 2]})), now + Duration::minutes(1));
    let key = store
        .create(&record, now)
        .await
        .expect("create")
        .cookie_value;
    let entry = entry_key(&prefix, &key);
    let (before, _) = peek(&mut raw, &entry).await.expect("entry");

    assert!(store
        .touch(&key, now + Duration::hours(5), now)
        .await
        .expect("touch"));
    let (after, ttl) = peek(&mut raw, &entry).await.expect("entry");
    let signed = |bytes: &[u8]| bytes.splitn(2, |&b| b == b':').nth(1).map(<[u8]>::to_vec);
    assert_eq!(signed(&after), signed(&before), "touch re-signed the data");
    assert!((5 * 3600..=5 * 3600 + 2).contains(&ttl), "TTL moved: {ttl}");
    store.delete(&key).await.expect("delete");
}

/// Touches rewrite the entry (its expiry is inside), which moves the CAS
/// unique under concurrent savers: none of their increments may be lost, and
/// none may fail for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touches_racing_saves_lose_nothing() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    const WORKERS: u64 = 16;
    let store = Arc::new(store(&prefix()).await);
    let now = now();
    let expires_at = now + Duration::hours(1);
    let start = Record::new(data(json!({"count": 0})), expires_at);
    let key = store
        .create(&start, now)
        .await
        .expect("create")
        .cookie_value;

    let mut tasks = Vec::new();
    for i in 0..WORKERS {
        let (saver, saved) = (store.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let (store, key) = (saver, saved);
            loop {
                let loaded = store.load(&key, now).await.expect("load").expect("live");
                let count = loaded.record.data["count"].as_u64().expect("count");
                let next = Record::new(data(json!({ "count": count + 1 })), expires_at);
                match store
                    .save(&key, &next, &loaded.version, now)
                    .await
                    .expect("save")
                {
                    SaveOutcome::Saved(_) => return,
                    SaveOutcome::Conflict => continue,
                    SaveOutcome::Gone => panic!("a live session was Gone"),
                }
            }
        }));
        let (toucher, touched) = (store.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let later = expires_at + Duration::minutes(i as i64);
            assert!(toucher.touch(&touched, later, now).await.expect("touch"));
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }
    let end = store.load(&key, now).await.expect("load").expect("live");
    assert_eq!(end.record.data["count"], json!(WORKERS), "lost updates");
    store.delete(&key).await.expect("delete");
}

/// `delete_if` is one `md` with the unique: a save between a load and the
/// delete keeps the newer record; the version of that save deletes it.
#[tokio::test]
async fn delete_if_compares_the_unique_and_the_session() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    let store = store(&prefix).await;
    let now = now();
    let expires = now + Duration::minutes(5);
    let key = store
        .create(&Record::new(data(json!({"n": 1})), expires), now)
        .await
        .expect("create")
        .cookie_value;
    let first = store.load(&key, now).await.expect("load").expect("live");
    let SaveOutcome::Saved(second) = store
        .save(
            &key,
            &Record::new(data(json!({"n": 2})), expires),
            &first.version,
            now,
        )
        .await
        .expect("save")
    else {
        panic!("the save conflicted");
    };
    assert!(!store
        .delete_if(&key, &first.version, now)
        .await
        .expect("delete_if"));
    let kept = store.load(&key, now).await.expect("load").expect("kept");
    assert_eq!(kept.record.data, data(json!({"n": 2})));
    // A touch moves the unique but not the session: still the expected one.
    assert!(store
        .touch(&key, expires + Duration::minutes(1), now)
        .await
        .expect("touch"));
    assert!(store
        .delete_if(&key, &second.version, now)
        .await
        .expect("delete_if"));
    let mut raw = raw().await;
    assert_eq!(
        peek(&mut raw, &entry_key(&prefix, &key)).await,
        None,
        "the entry is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_entries_load_empty_and_keep_their_key() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    let store = store(&prefix).await;
    let mut raw = raw().await;
    let now = now();
    let expires_at = now + Duration::hours(1);
    let micros = expires_at.unix_timestamp_nanos() / 1_000;
    let other_secret =
        Codec::sessions(&Keys::new(SecretKey::new("another-secret"), vec![]).unwrap())
            .encode(&data(json!({"a": 1})), now);
    let planted: Vec<(Vec<u8>, bool)> = vec![
        (format!("{micros}:not-a-signed-value").into_bytes(), true),
        (format!("{micros}:{other_secret}").into_bytes(), true),
        (format!("{micros}:\u{0}\u{1}binary").into_bytes(), true),
        // Not ours at all: a pickle, text without a colon, nothing.
        (b"\x80\x05\x95\x0b\x00\x00\x00".to_vec(), false),
        (b"just text".to_vec(), false),
        (Vec::new(), false),
    ];
    for (i, (bytes, has_expiry)) in planted.into_iter().enumerate() {
        let key = key::generate_key();
        let entry = entry_key(&prefix, &key);
        raw.set(&entry, bytes.as_slice(), Some(600), None)
            .await
            .expect("plant");

        let loaded = store
            .load(&key, now)
            .await
            .expect("a bad entry is not an error")
            .unwrap_or_else(|| panic!("entry #{i}: a bad entry must load (empty), not vanish"));
        assert!(loaded.record.data.is_empty(), "entry #{i} loaded data");
        if has_expiry {
            assert_eq!(loaded.record.expires_at, expires_at, "entry #{i}");
        } else {
            let left = loaded.record.expires_at - now;
            assert!(
                left > Duration::seconds(590) && left <= Duration::seconds(600),
                "entry #{i}: memcached's TTL stands in for the expiry ({left})"
            );
        }

        // The next save overwrites it under the same key.
        let fixed = Record::new(data(json!({"fixed": i})), expires_at);
        let outcome = store
            .save(&key, &fixed, &loaded.version, now)
            .await
            .expect("save");
        assert!(
            matches!(outcome, SaveOutcome::Saved(_)),
            "entry #{i}: {outcome:?}"
        );
        let reloaded = store.load(&key, now).await.expect("load").expect("live");
        assert_eq!(reloaded.record, fixed, "entry #{i}");
        store.delete(&key).await.expect("delete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_values_are_refused() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let store = store(&prefix()).await;
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
    let result = store.create(&record, now).await;
    assert!(
        matches!(result, Err(StoreError::TooLarge { .. })),
        "{:?}",
        result.map(|s| s.version)
    );
    // The connection stayed usable.
    let small = Record::new(data(json!({"ok": true})), now + Duration::minutes(1));
    let saved = store
        .create(&small, now)
        .await
        .expect("create after a refusal");
    store.delete(&saved.cookie_value).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_over_http_with_two_pools() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    // No keys of their own: the layer gives them.
    let a: Arc<dyn SessionStore> = Arc::new(for_layer(&prefix).await);
    let b: Arc<dyn SessionStore> = Arc::new(for_layer(&prefix).await);
    common::http::concurrent_increments([a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_survive_over_http() {
    if !available("Memcached", &memcached_url()).await {
        return;
    }
    let prefix = prefix();
    // No keys of their own: the layer gives them.
    let a: Arc<dyn SessionStore> = Arc::new(for_layer(&prefix).await);
    let b: Arc<dyn SessionStore> = Arc::new(for_layer(&prefix).await);
    common::http::different_keys_survive([a, b]).await;
}

//! The cache engine on one Redis server, given values it did not write as
//! expected: bad session data loads as an empty session and keeps its key
//! (Django's rule); entries no session store wrote are not sessions.
//!
//! Every test uses its own key prefix and deletes its keys at the end.
#![cfg(all(feature = "redis", feature = "conformance", feature = "axum"))]

mod common;

use ::redis::aio::MultiplexedConnection;
use ::redis::AsyncCommands;
use serde_json::json;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::{Record, SaveOutcome, SessionStore, Version};
use time::{Duration, OffsetDateTime};

use common::redis::{entry_key, purge, raw, real_now, store};
use common::services::{available, redis_url, unique};
use common::{codec, data};

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
        let redis_key = entry_key(&prefix, &session_key);
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
        let redis_key = entry_key(&prefix, &session_key);
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
        .set_ex(entry_key(&prefix, &session_key), &signed, 60)
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
    let kept: Option<Vec<u8>> = conn
        .get(entry_key(&prefix, &session_key))
        .await
        .expect("GET");
    assert_eq!(
        kept,
        Some(signed),
        "delete_if removed a value that is not ours"
    );
    purge(&prefix).await;
}

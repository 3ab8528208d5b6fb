//! What the store benches share: a runtime, a visit-counter session, and the
//! load + compare-and-set save round trip every engine is measured with,
//! through the same dynamic dispatch the session layer uses.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion};
use serde_json::json;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

/// The codec a bench store signs with.
pub(crate) fn codec() -> Codec {
    Codec::sessions(
        &Keys::new(
            SecretKey::new("bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"),
            vec![],
        )
        .unwrap(),
    )
}

/// A current-thread runtime; stores opened on it must be used on it.
pub(crate) fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A visit-counter session, with the keys a Django login adds.
pub(crate) fn session(visits: u64, expires_at: OffsetDateTime) -> Record {
    let serde_json::Value::Object(data) = json!({
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": "5d2b1c0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",
        "visit": visits,
    }) else {
        unreachable!("a json! object is an object")
    };
    Record::new(data, expires_at)
}

/// Load, increment, save: one session, the same key every iteration; then a
/// load alone and a create + delete. `rt` must be the runtime the store was
/// opened on.
pub(crate) fn round_trip(
    c: &mut Criterion,
    rt: &Runtime,
    engine: &str,
    store: Arc<dyn SessionStore>,
) {
    let now = OffsetDateTime::now_utc();
    let expires_at = now + Duration::weeks(2);
    let key = rt
        .block_on(store.create(&session(0, expires_at), now))
        .expect("create")
        .cookie_value;

    c.bench_with_input(BenchmarkId::new("load_save", engine), &key, |b, key| {
        b.to_async(rt).iter(|| async {
            let loaded = store.load(key, now).await.expect("load").expect("live");
            let visits = loaded.record.data["visit"].as_u64().unwrap_or(0);
            let outcome = store
                .save(key, &session(visits + 1, expires_at), &loaded.version, now)
                .await
                .expect("save");
            assert!(matches!(outcome, SaveOutcome::Saved(_)));
        })
    });
    c.bench_with_input(BenchmarkId::new("load", engine), &key, |b, key| {
        b.to_async(rt)
            .iter(|| async { store.load(key, now).await.expect("load") })
    });
    c.bench_function(&format!("create_delete/{engine}"), |b| {
        b.to_async(rt).iter(|| async {
            let saved = store
                .create(&session(0, expires_at), now)
                .await
                .expect("create");
            store.delete(&saved.cookie_value).await.expect("delete");
        })
    });
    rt.block_on(store.delete(&key)).expect("delete");
}

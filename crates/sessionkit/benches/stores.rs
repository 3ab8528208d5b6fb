//! What one request costs each store: a load and a compare-and-set save of a
//! small session, as the session layer does for the visit counter.
//!
//! One function per engine hands an `Arc<dyn SessionStore>` to [`round_trip`],
//! so every engine is measured through the same dynamic dispatch the layer uses.
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::json;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::db::DbStore;
use sessionkit::store::memory::MemoryStore;
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A visit-counter session, with the keys a Django login adds.
fn session(visits: u64, expires_at: OffsetDateTime) -> Record {
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

/// Load, increment, save: one session, the same key every iteration.
fn round_trip(c: &mut Criterion, engine: &str, store: Arc<dyn SessionStore>) {
    let rt = runtime();
    let now = OffsetDateTime::now_utc();
    let expires_at = now + Duration::weeks(2);
    let key = rt
        .block_on(store.create(&session(0, expires_at), now))
        .expect("create")
        .cookie_value;

    c.bench_with_input(BenchmarkId::new("load_save", engine), &key, |b, key| {
        b.to_async(&rt).iter(|| async {
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
        b.to_async(&rt)
            .iter(|| async { store.load(key, now).await.expect("load") })
    });
    c.bench_function(&format!("create_delete/{engine}"), |b| {
        b.to_async(&rt).iter(|| async {
            let saved = store
                .create(&session(0, expires_at), now)
                .await
                .expect("create");
            store.delete(&saved.cookie_value).await.expect("delete");
        })
    });
    rt.block_on(store.delete(&key)).expect("delete");
}

fn memory(c: &mut Criterion) {
    round_trip(c, "memory", Arc::new(MemoryStore::new()));
}

/// Django's table in a WAL-mode SQLite file, as `DbStore::sqlite` opens it.
fn sqlite(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.sqlite3").display());
    let keys = Keys::new(
        SecretKey::new("bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"),
        vec![],
    );
    // The pool's background tasks live on the runtime that opened it: keep it
    // until the bench is done.
    let rt = runtime();
    let store = rt
        .block_on(DbStore::sqlite(&url, Codec::sessions(&keys)))
        .expect("open SQLite");
    round_trip(c, "sqlite", Arc::new(store));
    drop(rt);
}

criterion_group!(benches, memory, sqlite);
criterion_main!(benches);

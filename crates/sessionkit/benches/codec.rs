//! The session codec's speed: encode and decode through `Codec`, for the seed's
//! `{"visit": 11}` and for a ~2 KB session (which zlib compresses).
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Map, Value};
use sessionkit::signing::{Codec, Keys, SecretKey};
use time::OffsetDateTime;

fn keys() -> Keys {
    Keys::new(
        SecretKey::new("django-insecure-rust-compat-vectors-0123456789-abcdefghijklmnopqrstuvwxyz"),
        vec![SecretKey::new("old-secret-key-before-rotation-!@#$%^&*()")],
    )
    .unwrap()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// An authenticated session with a cart: about 2 KB of JSON.
fn two_kb_session() -> Map<String, Value> {
    let mut data = object(json!({
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": "8d5e957f297893487bd98fa830fa6413a7b1b1d6a6ef5e1f1c0d8a7a4d16b3f0",
        "_session_expiry": 1_209_600,
        "visit": 11,
    }));
    let items: Vec<Value> = (0..24)
        .map(|i| json!({"sku": format!("SKU-{i:05}"), "qty": i % 4 + 1, "price": 9.99 + f64::from(i), "name": format!("Item number {i}")}))
        .collect();
    data.insert("cart".into(), Value::Array(items));
    data
}

fn bench(c: &mut Criterion) {
    let codec = Codec::sessions(&keys());
    let now =
        OffsetDateTime::from_unix_timestamp(1_717_243_200).unwrap_or(OffsetDateTime::UNIX_EPOCH);

    for (name, data) in [
        ("visit", object(json!({"visit": 11}))),
        ("2kb", two_kb_session()),
    ] {
        let signed = codec.encode(&data, now);
        c.bench_function(&format!("codec/encode/{name}"), |b| {
            b.iter(|| codec.encode(black_box(&data), now))
        });
        c.bench_function(&format!("codec/decode/{name}"), |b| {
            b.iter(|| codec.decode(black_box(&signed), None, now))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

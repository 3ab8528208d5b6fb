//! What one request costs each store: a load and a compare-and-set save of a
//! small session, as the session layer does for the visit counter.
//!
//! One function per engine hands an `Arc<dyn SessionStore>` to `common::round_trip`,
//! so every engine is measured through the same dynamic dispatch the layer uses.
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use sessionkit::store::db::DbStore;
use sessionkit::store::memory::MemoryStore;

fn memory(c: &mut Criterion) {
    let rt = common::runtime();
    common::round_trip(c, &rt, "memory", Arc::new(MemoryStore::new()));
}

/// Django's table in a WAL-mode SQLite file, as `DbStore::open` opens it.
fn sqlite(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.sqlite3").display());
    // The pool's background tasks live on the runtime that opened it: keep it
    // until the bench is done.
    let rt = common::runtime();
    let store = rt
        .block_on(DbStore::open(&url))
        .expect("open SQLite")
        .with_codec(common::codec());
    common::round_trip(c, &rt, "sqlite", Arc::new(store));
    drop(rt);
}

criterion_group!(benches, memory, sqlite);
criterion_main!(benches);

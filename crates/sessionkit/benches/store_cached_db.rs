//! What one request costs the `cached_db` engine: the in-process cache in
//! front of Django's table in a WAL-mode SQLite file. Loads are cache hits;
//! saves write the db, then the cache.
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use sessionkit::store::cached_db::{CachedDbStore, MemoryCache};
use sessionkit::store::db::DbStore;

fn cached_db(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.sqlite3").display());
    // The pool's background tasks live on the runtime that opened it: keep it
    // until the bench is done.
    let rt = common::runtime();
    let db = rt
        .block_on(DbStore::open(&url))
        .expect("open SQLite")
        .with_codec(common::codec());
    let store = CachedDbStore::new(Arc::new(MemoryCache::new()), Arc::new(db));
    common::round_trip(c, &rt, "cached_db", Arc::new(store));
    drop(rt);
}

criterion_group!(benches, cached_db);
criterion_main!(benches);

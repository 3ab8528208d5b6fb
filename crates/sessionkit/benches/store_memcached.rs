//! What one request costs the Memcached engine: a load and a compare-and-set
//! save of a small session, as the session layer does for the visit counter,
//! against the server of `SESSIONKIT_MEMCACHED_URL` (default
//! `memcache://127.0.0.1:11211`), under a key prefix of its own.
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use sessionkit::store::memcached::MemcachedOptions;

fn memcached(c: &mut Criterion) {
    let url = std::env::var("SESSIONKIT_MEMCACHED_URL")
        .unwrap_or_else(|_| "memcache://127.0.0.1:11211".into());
    let prefix = format!("sk_bench_{}:", &sessionkit::key::generate_key()[..12]);
    // The pool's connections belong to the runtime that opened them: keep it
    // until the bench is done.
    let rt = common::runtime();
    let store = match rt.block_on(MemcachedOptions::new().prefix(prefix).open(&url)) {
        Ok(store) => store.with_codec(common::codec()),
        Err(e) => {
            eprintln!("SKIPPED: Memcached is unavailable: {e}");
            return;
        }
    };
    // round_trip deletes what it creates.
    common::round_trip(c, &rt, "memcached", Arc::new(store));
    drop(rt);
}

criterion_group!(benches, memcached);
criterion_main!(benches);

//! What one request costs the Redis engine: a load and a compare-and-set save
//! of a small session, on one server and on the 3-node test cluster, through
//! the same dynamic dispatch the session layer uses.
//!
//! Needs the servers of `.ci/services.sh` (`SESSIONKIT_REDIS_URL`,
//! `SESSIONKIT_REDIS_CLUSTER_URL` to point elsewhere); a server that cannot be
//! reached is skipped with a printed reason. Keys go under a prefix of this
//! run and are deleted by the round trip.
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use sessionkit::store::redis::RedisOptions;

fn url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn prefix() -> String {
    format!("sk_bench_{}:", &sessionkit::key::generate_key()[..8])
}

/// One server, through a `ConnectionManager`.
fn redis(c: &mut Criterion) {
    let url = url("SESSIONKIT_REDIS_URL", "redis://127.0.0.1:6379");
    let rt = common::runtime();
    match rt.block_on(RedisOptions::new().prefix(prefix()).open(&url)) {
        Ok(store) => {
            common::round_trip(c, &rt, "redis", Arc::new(store.with_codec(common::codec())))
        }
        Err(e) => eprintln!("SKIPPED redis: cannot connect ({e})"),
    }
}

/// The test cluster: each session's commands go to the node owning its slot.
fn redis_cluster(c: &mut Criterion) {
    let url = url(
        "SESSIONKIT_REDIS_CLUSTER_URL",
        "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
    );
    let rt = common::runtime();
    match rt.block_on(RedisOptions::new().prefix(prefix()).open(&url)) {
        Ok(store) => common::round_trip(
            c,
            &rt,
            "redis_cluster",
            Arc::new(store.with_codec(common::codec())),
        ),
        Err(e) => eprintln!("SKIPPED redis_cluster: cannot connect ({e})"),
    }
}

criterion_group!(benches, redis, redis_cluster);
criterion_main!(benches);

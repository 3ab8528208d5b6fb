//! What one request costs the db engine on MySQL/MariaDB: a load and a
//! compare-and-set save of a small session, as the session layer does for the
//! visit counter, against the server of `SESSIONKIT_MYSQL_URL`
//! (default `mysql://root@127.0.0.1:3306/test`), in a table of its own.
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use sessionkit::store::db::{DbOptions, DbPool};

fn mysql(c: &mut Criterion) {
    let url = std::env::var("SESSIONKIT_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let table = format!("sk_bench_{}", &sessionkit::key::generate_key()[..12]);
    // The pool's background tasks live on the runtime that opened it: keep it
    // until the bench is done.
    let rt = common::runtime();
    let store = match rt.block_on(DbOptions::new().table(&table).open(&url)) {
        Ok(store) => store.with_codec(common::codec()),
        Err(e) => {
            eprintln!("SKIPPED: MySQL is unavailable: {e}");
            return;
        }
    };
    common::round_trip(c, &rt, "mysql", Arc::new(store.clone()));
    if let DbPool::MySql(pool) = store.pool() {
        let drop_table = format!("DROP TABLE IF EXISTS `{table}`");
        if let Err(e) = rt.block_on(sqlx::query(&drop_table).execute(pool)) {
            eprintln!("could not drop the bench table {table}: {e}");
        }
    }
    drop(store);
    drop(rt);
}

criterion_group!(benches, mysql);
criterion_main!(benches);

//! `migrate` and `clearsessions` on PostgreSQL and MySQL (when the tool is
//! built with them): the table made by the library's own DDL, and expired
//! rows deleted without any secret, since deleting by date signs nothing;
//! the session index's expired entries deleted with them.
//!
//! A server that is not there skips the test with a printed reason, unless
//! `SESSIONKIT_REQUIRE_SERVICES=1`, where it fails.
#![cfg(any(feature = "postgres", feature = "mysql"))]

mod common;

use std::time::Duration as StdDuration;

use common::{block_on, sessionkit};
use predicates::str::contains;
use sessionkit::store::db::{DbOptions, DbPool};
use sessionkit::store::{Record, SessionMap, SessionStore};
use sessionkit::user_sessions::{IndexEntry, SessionIndex, SqlIndex};
use sessionkit::SessionConfig;
use time::{Duration, OffsetDateTime};

/// Whether the server of `url` answers; see the module docs.
fn available(name: &str, url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let addr = rest.split(['/', '?']).next().unwrap_or(rest);
    let ok = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|a| {
            std::net::TcpStream::connect_timeout(&a, StdDuration::from_secs(2)).is_ok()
        });
    if !ok {
        assert!(
            std::env::var("SESSIONKIT_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "{name} at {addr} is unreachable and SESSIONKIT_REQUIRE_SERVICES=1"
        );
        eprintln!("SKIPPED: {name} at {addr} is unreachable");
    }
    ok
}

/// Creates two expired sessions and one live one in `table` through the
/// library, as a service would have.
async fn three_sessions(url: &str, table: &str) {
    let codec = SessionConfig::new(common::SECRET)
        .expect("a valid config")
        .codec();
    let store = DbOptions::new()
        .table(table)
        .open(url)
        .await
        .expect("open the table")
        .with_codec(codec);
    let now = OffsetDateTime::now_utc();
    for expires in [
        now - Duration::days(2),
        now - Duration::hours(1),
        now + Duration::days(1),
    ] {
        store
            .create(&Record::new(SessionMap::new(), expires), now)
            .await
            .expect("create a session");
    }
}

/// `migrate` makes `table`, `clearsessions` (no secret anywhere) deletes the
/// two expired sessions and keeps the live one.
fn migrate_then_clear(url: &str, table: &str) {
    sessionkit()
        .args(["migrate", "--db", url, "--table", table])
        .assert()
        .success()
        .stdout(contains(format!("table {table:?} is ready")));
    block_on(three_sessions(url, table));
    sessionkit()
        .args(["clearsessions", "--db", url, "--table", table])
        .assert()
        .success()
        .stdout("2\n");
    sessionkit()
        .args(["clearsessions", "--db", url, "--table", table])
        .assert()
        .success()
        .stdout("0\n");
}

/// `clearsessions` clears the index in the session database (its table
/// named with `--index-table`): the expired entry goes, the live one stays.
/// An index table that is not there is not created. Returns the index
/// table's name, for the caller to drop.
fn clear_with_index(url: &str, table: &str, pool: impl Fn() -> DbPool) -> String {
    let index = fresh_table();
    let entries = |pool: DbPool, index: String| async move {
        let made = SqlIndex::with_table(pool, &index).await.expect("index");
        let now = OffsetDateTime::now_utc();
        for (id, expires_at) in [(1, now - Duration::days(1)), (2, now + Duration::days(1))] {
            made.put(&IndexEntry {
                user_id: "7".into(),
                id: format!("{id:032x}"),
                session_key: None,
                created: now - Duration::days(2),
                last_seen: now - Duration::days(2),
                expires_at,
                user_agent: None,
                ip: None,
            })
            .await
            .expect("put");
        }
    };
    // The pools are made inside the runtime: sqlx spawns on it.
    block_on(async { entries(pool(), index.clone()).await });
    let args = [
        "clearsessions",
        "--db",
        url,
        "--table",
        table,
        "--index-table",
    ];
    sessionkit()
        .args(args)
        .arg(&index)
        .assert()
        .success()
        .stdout("0\n")
        .stderr(contains("removed 1 expired entries from the session index"));
    let missing = fresh_table();
    sessionkit()
        .args(args)
        .arg(&missing)
        .assert()
        .success()
        .stderr("");
    block_on(async {
        assert!(SqlIndex::existing(pool(), &index)
            .await
            .expect("schema")
            .is_some());
        assert!(SqlIndex::existing(pool(), &missing)
            .await
            .expect("schema")
            .is_none());
    });
    index
}

/// A table name no other test run uses.
fn fresh_table() -> String {
    format!("sk_cli_{}", &sessionkit::key::generate_key()[..12])
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_migrate_and_clearsessions_need_no_secret() {
    let url = std::env::var("SESSIONKIT_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if !available("PostgreSQL", &url) {
        return;
    }
    let table = fresh_table();
    migrate_then_clear(&url, &table);
    let pg = || -> DbPool { sqlx::PgPool::connect_lazy(&url).expect("pool").into() };
    let index = clear_with_index(&url, &table, pg);
    block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.expect("connect");
        sqlx::query(&format!("DROP TABLE \"{table}\", {index}"))
            .execute(&pool)
            .await
            .expect("drop the test table");
    });
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_migrate_and_clearsessions_need_no_secret() {
    let url = std::env::var("SESSIONKIT_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    if !available("MySQL", &url) {
        return;
    }
    let table = fresh_table();
    migrate_then_clear(&url, &table);
    let my = || -> DbPool { sqlx::MySqlPool::connect_lazy(&url).expect("pool").into() };
    let index = clear_with_index(&url, &table, my);
    block_on(async {
        let pool = sqlx::MySqlPool::connect(&url).await.expect("connect");
        sqlx::query(&format!("DROP TABLE `{table}`, {index}"))
            .execute(&pool)
            .await
            .expect("drop the test table");
    });
}

#[test]
fn a_database_this_build_cannot_open_is_refused_plainly() {
    sessionkit()
        .args(["migrate", "--db", "oracle://db/app"])
        .assert()
        .code(1)
        .stderr(contains("not supported"));
}

//! The db engine on a real PostgreSQL: the conformance suite, Django's DDL
//! and index names, a Django-made table used as it is, Django's rows from the
//! vectors, `timestamptz` values as Django writes them, two processes racing
//! over HTTP, and a server that goes away and comes back.
//!
//! Every test works in a table (or a schema) of its own and drops it at the end.
#![cfg(all(feature = "postgres", feature = "conformance", feature = "axum"))]

mod common;

use std::sync::Arc;

use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::db::{DbOptions, DbPool, DbStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore, Version};
use sqlx::PgPool;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use common::db::{s, Vectors};
use common::proxy::Proxy;
use common::services::{available, postgres_url, unique};
use common::{codec, data};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// A plain pool on the test database, for the test's own SQL.
async fn admin() -> PgPool {
    PgPool::connect(&postgres_url())
        .await
        .expect("connect to the test PostgreSQL")
}

/// A store on a fresh table of its own.
async fn fresh_store(table: &str) -> DbStore {
    DbOptions::new()
        .table(table)
        .open(&postgres_url())
        .await
        .expect("open a PostgreSQL store")
        .with_codec(codec())
}

async fn drop_table(pool: &PgPool, table: &str) {
    sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\""))
        .execute(pool)
        .await
        .expect("drop the test table");
}

/// `url` with `search_path` set to `schema`: Django's default table name in
/// a schema no other test uses.
fn url_in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

async fn create_schema(pool: &PgPool) -> String {
    let schema = unique("sk_test");
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(pool)
        .await
        .expect("create a test schema");
    schema
}

async fn drop_schema(pool: &PgPool, schema: &str) {
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(pool)
        .await
        .expect("drop the test schema");
}

/// Columns as `information_schema` describes them.
async fn columns(
    pool: &PgPool,
    schema: &str,
    table: &str,
) -> Vec<(String, String, Option<i32>, String)> {
    sqlx::query_as(
        "SELECT column_name::text, data_type::text, character_maximum_length::int, \
         is_nullable::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read information_schema.columns")
}

/// `(indexname, indexdef)` of a table, by name.
async fn indexes(pool: &PgPool, schema: &str, table: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes \
         WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read pg_indexes")
}

/// Django's DDL for `django_session`, as `sqlmigrate sessions 0001` prints it.
const DJANGO_DDL: [&str; 3] = [
    "CREATE TABLE \"django_session\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
     \"session_data\" text NOT NULL, \"expire_date\" timestamp with time zone NOT NULL)",
    "CREATE INDEX \"django_session_session_key_c0390e0f_like\" ON \"django_session\" \
     (\"session_key\" varchar_pattern_ops)",
    "CREATE INDEX \"django_session_expire_date_a5c62663\" ON \"django_session\" (\"expire_date\")",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = fresh_store(&table).await;
    assert_eq!(store.table(), table);
    conformance::run_all(&store, Capabilities::default(), NOW).await;
    drop_table(&admin().await, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_users_pool() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let pool = admin().await;
    let store = DbOptions::new()
        .table(&table)
        .from_pool(pool.clone())
        .await
        .expect("store on the caller's pool")
        .with_codec(codec());
    assert!(matches!(store.pool(), DbPool::Postgres(_)));
    conformance::run_all(&store, Capabilities::default(), NOW).await;
    drop_table(&pool, &table).await;
}

#[tokio::test]
async fn the_ddl_is_djangos() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let pool = admin().await;
    let schema = create_schema(&pool).await;
    let store = DbStore::open(&url_in_schema(&url, &schema))
        .await
        .expect("open with Django's default table")
        .with_codec(codec());
    assert_eq!(store.table(), "django_session");

    assert_eq!(
        columns(&pool, &schema, "django_session").await,
        [
            (
                "session_key".into(),
                "character varying".into(),
                Some(40),
                "NO".into()
            ),
            ("session_data".into(), "text".into(), None, "NO".into()),
            (
                "expire_date".into(),
                "timestamp with time zone".into(),
                None,
                "NO".into()
            ),
        ]
    );
    let t = format!("{schema}.django_session");
    assert_eq!(
        indexes(&pool, &schema, "django_session").await,
        [
            (
                "django_session_expire_date_a5c62663".into(),
                format!("CREATE INDEX django_session_expire_date_a5c62663 ON {t} USING btree (expire_date)"),
            ),
            (
                "django_session_pkey".into(),
                format!("CREATE UNIQUE INDEX django_session_pkey ON {t} USING btree (session_key)"),
            ),
            (
                "django_session_session_key_c0390e0f_like".into(),
                format!(
                    "CREATE INDEX django_session_session_key_c0390e0f_like ON {t} \
                     USING btree (session_key varchar_pattern_ops)"
                ),
            ),
        ]
    );
    drop(store);
    drop_schema(&pool, &schema).await;
}

#[tokio::test]
async fn long_table_names_get_djangos_shortened_index_names() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let pool = admin().await;
    let schema = create_schema(&pool).await;
    // Reference names from Django's `_create_index_name` with PostgreSQL's
    // 63-character limit.
    let table = "a_rather_long_session_table_name_for_testing_x";
    let _store = DbOptions::new()
        .table(table)
        .open(&url_in_schema(&url, &schema))
        .await
        .expect("open with a long table name")
        .with_codec(codec());
    let names: Vec<String> = indexes(&pool, &schema, table)
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        [
            "a_rather_long_session_ta_session_key_3013b3b5_like",
            "a_rather_long_session_tabl_expire_date_8d00ce96",
            "a_rather_long_session_table_name_for_testing_x_pkey",
        ]
    );
    drop_schema(&pool, &schema).await;
}

#[tokio::test]
async fn a_django_made_table_is_reused_untouched() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let pool = admin().await;
    let schema = create_schema(&pool).await;
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query(&format!("SET LOCAL search_path = \"{schema}\""))
        .execute(&mut *tx)
        .await
        .expect("search_path");
    for statement in DJANGO_DDL {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .expect("Django's DDL");
    }
    let django = codec().encode(&data(json!({"from": "django"})), NOW);
    sqlx::query("INSERT INTO django_session VALUES ($1, $2, $3)")
        .bind("djangodjangodjangodjangodjango12")
        .bind(&django)
        .bind(NOW + Duration::days(1))
        .execute(&mut *tx)
        .await
        .expect("Django's row");
    tx.commit().await.expect("commit");
    let before = (
        columns(&pool, &schema, "django_session").await,
        indexes(&pool, &schema, "django_session").await,
    );

    let store = DbStore::open(&url_in_schema(&url, &schema))
        .await
        .expect("open Django's table")
        .with_codec(codec());
    let after = (
        columns(&pool, &schema, "django_session").await,
        indexes(&pool, &schema, "django_session").await,
    );
    assert_eq!(after, before, "the schema changed");
    let loaded = store
        .load("djangodjangodjangodjangodjango12", NOW)
        .await
        .expect("load")
        .expect("Django's row is live");
    assert_eq!(loaded.record.data, data(json!({"from": "django"})));
    assert_eq!(loaded.version, Version::new(django));
    drop(store);
    drop_schema(&pool, &schema).await;
}

#[tokio::test]
async fn a_mixed_case_table_name_is_found_again() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    // Quoted, so PostgreSQL keeps the case; the existence check must quote
    // it too, or the second start would try to create it again.
    let table = unique("Sk_Test");
    let first = fresh_store(&table).await;
    let record = Record::new(data(json!({"case": "kept"})), NOW + Duration::hours(1));
    let created = first.create(&record, NOW).await.expect("create");
    let second = fresh_store(&table).await;
    let loaded = second
        .load(&created.cookie_value, NOW)
        .await
        .expect("load")
        .expect("live");
    assert_eq!(loaded.record, record);
    drop_table(&admin().await, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_together_create_the_table_once() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let table = table.clone();
            tokio::spawn(async move { DbOptions::new().table(table).open(&postgres_url()).await })
        })
        .collect();
    for open in opens {
        open.await.expect("task").expect("every start succeeds");
    }
    let pool = admin().await;
    let (schema,): (String,) = sqlx::query_as("SELECT current_schema()::text")
        .fetch_one(&pool)
        .await
        .expect("current_schema");
    assert_eq!(indexes(&pool, &schema, &table).await.len(), 3);
    drop_table(&pool, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_from_two_processes() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    // Two pools: no in-process lock is shared, as between two processes.
    let a = fresh_store(&table).await;
    let b = fresh_store(&table).await;
    common::http::concurrent_increments([Arc::new(a.clone()), Arc::new(b.clone())]).await;
    common::http::different_keys_survive([Arc::new(a), Arc::new(b)]).await;
    drop_table(&admin().await, &table).await;
}

/// A pool of two connections gives one batch in flight: saves that come
/// meanwhile queue and go together in one statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_saves_each_get_their_own_outcome() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connect to the test PostgreSQL");
    let store = DbOptions::new()
        .table(&table)
        .from_pool(pool)
        .await
        .expect("store on a small pool")
        .with_codec(codec());
    common::db::queued_saves_each_get_their_own_outcome(Arc::new(store), NOW).await;
    drop_table(&admin().await, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_then_recovers() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let proxy = Proxy::start(&common::services::host_port(&url)).await;
    let via_proxy = proxy.through(&url);
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&via_proxy)
        .await
        .expect("open through the proxy")
        .with_codec(codec());
    common::http::store_down_then_recovers(Arc::new(store), &proxy).await;
    drop_table(&admin().await, &table).await;
}

#[tokio::test]
async fn a_dead_server_is_unavailable_within_seconds() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let proxy = Proxy::start(&common::services::host_port(&url)).await;
    let via_proxy = proxy.through(&url);
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&via_proxy)
        .await
        .expect("open through the proxy")
        .with_codec(codec());
    let reopen = DbStore::open(&via_proxy);
    common::db::a_dead_server_is_unavailable_within_seconds(&store, &proxy, NOW, reopen).await;
    drop_table(&admin().await, &table).await;
}

#[tokio::test]
async fn bad_table_names_are_refused() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    for bad in [
        "",
        "1st",
        "a-b",
        "x\"; DROP TABLE y; --",
        "public.sessions",
        &"t".repeat(64),
    ] {
        let result = DbOptions::new().table(bad).open(&url).await;
        assert!(
            matches!(result, Err(StoreError::Config(_))),
            "{bad:?} was accepted"
        );
        let result = DbOptions::new().table(bad).from_pool(admin().await).await;
        assert!(
            matches!(result, Err(StoreError::Config(_))),
            "{bad:?} was accepted"
        );
    }
    let result = DbStore::open("postgres://[bad").await;
    assert!(matches!(result, Err(StoreError::Config(_))));
}

#[tokio::test]
async fn djangos_rows_load_as_django_loads_them() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let v = Vectors::load();
    let table = unique("sk_test");
    let current = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("store")
        .with_codec(v.codec(false));
    let rotated = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("store")
        .with_codec(v.codec(true));
    let pool = admin().await;
    for row in v.sessions() {
        // The raw values, as Django's PostgreSQL backend would hold them: the
        // naive UTC text of the vectors, read as UTC.
        sqlx::query(&format!(
            "INSERT INTO \"{table}\" VALUES ($1, $2, ($3 || '+00')::timestamptz)"
        ))
        .bind(s(row, "session_key"))
        .bind(s(row, "session_data"))
        .bind(s(row, "expire_date_raw"))
        .execute(&pool)
        .await
        .expect("insert Django's row");
    }

    common::db::djangos_rows_load_as_django_loads_them(&current, &rotated, &v).await;
    drop_table(&pool, &table).await;
}

#[tokio::test]
async fn a_saved_row_is_in_djangos_format() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let v = Vectors::load();
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("store")
        .with_codec(v.codec(false));
    let pool = admin().await;
    let read = |key: String| {
        let (pool, table) = (pool.clone(), table.clone());
        async move {
            let row: (String, String, OffsetDateTime) = sqlx::query_as(&format!(
                "SELECT session_data, to_char(expire_date AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD HH24:MI:SS.US'), expire_date FROM \"{table}\" WHERE session_key = $1"
            ))
            .bind(key)
            .fetch_one(&pool)
            .await
            .expect("read back");
            row
        }
    };

    // The seed's session, created at REF_NOW: Django's own bytes.
    let now = v.reference_now;
    let seed = &v.sessions()[0];
    let created = store
        .create(
            &Record::new(data(json!({"visit": 11})), now + Duration::weeks(2)),
            now,
        )
        .await
        .expect("create");
    let (stored, text, at) = read(created.cookie_value.clone()).await;
    assert_eq!(stored, s(seed, "session_data"));
    assert_eq!(text, "2024-06-15 12:00:00.250000");
    assert_eq!(at, now + Duration::weeks(2));

    // Nanoseconds are cut, never rounded; the instant is kept across offsets.
    let expires_at = datetime!(2030-05-17 09:30:00.000123999 +05:30);
    let outcome = store
        .save(
            &created.cookie_value,
            &Record::new(data(json!({"visit": 12})), expires_at),
            &created.version,
            now,
        )
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
    let (stored, text, at) = read(created.cookie_value.clone()).await;
    assert_eq!(text, "2030-05-17 04:00:00.000123");
    assert_eq!(at, datetime!(2030-05-17 04:00:00.000123 UTC));
    let decoded = v
        .codec(false)
        .decode(&stored, None, now)
        .expect("Django's secret verifies it");
    assert_eq!(decoded.data, data(json!({"visit": 12})));
    drop_table(&pool, &table).await;
}

#[tokio::test]
async fn clear_expired_works_in_batches_and_is_strict() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = fresh_store(&table).await;
    let pool = admin().await;
    let signed = codec().encode(&SessionMap::new(), NOW);
    sqlx::query(&format!(
        "INSERT INTO \"{table}\" SELECT 'expired' || lpad(i::text, 8, '0'), $1, \
         $2 - make_interval(secs => i) FROM generate_series(1, 2500) AS i"
    ))
    .bind(&signed)
    .bind(NOW)
    .execute(&pool)
    .await
    .expect("insert expired rows");
    common::db::clear_expired_is_strict(&store, NOW, 2500, || async {
        let (left,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM \"{table}\""))
            .fetch_one(&pool)
            .await
            .expect("count");
        left
    })
    .await;
    drop_table(&pool, &table).await;
}

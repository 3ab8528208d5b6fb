//! The db engine on a real PostgreSQL: the conformance suite, Django's DDL
//! and index names, a Django-made table used as it is, Django's rows from the
//! vectors, `timestamptz` values as Django writes them, two processes racing
//! over HTTP, and a server that goes away and comes back.
//!
//! Every test works in a table (or a schema) of its own and drops it at the end.
#![cfg(all(feature = "postgres", feature = "conformance", feature = "axum"))]

mod common;

use serde_json::json;
use sessionkit::store::db::{DbOptions, DbStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore, Version};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use common::db::postgres::{
    admin, columns, create_schema, drop_schema, drop_table, indexes, url_in_schema, DJANGO_DDL,
};
use common::db::server::Server;
use common::db::{s, shells, Vectors};
use common::services::{available, postgres_url, unique};
use common::{codec, data};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// A store on a fresh table of its own.
async fn fresh_store(table: &str) -> DbStore {
    DbOptions::new()
        .table(table)
        .open(&postgres_url())
        .await
        .expect("open a PostgreSQL store")
        .with_codec(codec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    shells::conformance(Server::Postgres, NOW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_users_pool() {
    shells::conformance_on_a_users_pool(Server::Postgres, NOW).await;
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
    shells::concurrent_increments_from_two_processes(Server::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_saves_each_get_their_own_outcome() {
    shells::queued_saves_each_get_their_own_outcome(Server::Postgres, NOW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_then_recovers() {
    shells::store_down_then_recovers(Server::Postgres).await;
}

#[tokio::test]
async fn a_dead_server_is_unavailable_within_seconds() {
    shells::a_dead_server_is_unavailable_within_seconds(Server::Postgres, NOW).await;
}

#[tokio::test]
async fn bad_table_names_are_refused() {
    shells::bad_table_names_are_refused(Server::Postgres).await;
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

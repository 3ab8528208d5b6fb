//! The db engine on a real MySQL/MariaDB: the conformance suite, Django's
//! columns and index, a Django-made table used as it is, Django's rows from
//! the vectors, naive UTC `datetime(6)` values as Django writes them, MySQL's
//! affected-rows and collation habits under compare-and-set, two processes
//! racing over HTTP, and a server that goes away and comes back.
//!
//! Every test works in a table (or a database) of its own and drops it at the end.
#![cfg(all(feature = "mysql", feature = "conformance", feature = "axum"))]

mod common;

use serde_json::json;
use sessionkit::store::db::{DbOptions, DbStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore, Version};
use sqlx::MySqlPool;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use common::db::mysql::{
    admin, columns, create_database, drop_database, drop_table, indexes, show_create,
    url_for_database, DJANGO_DDL,
};
use common::db::server::Server;
use common::db::{s, shells, Vectors};
use common::services::{available, mysql_url, unique};
use common::{codec, data};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// A store on a fresh table of its own.
async fn fresh_store(table: &str) -> DbStore {
    DbOptions::new()
        .table(table)
        .open(&mysql_url())
        .await
        .expect("open a MySQL store")
        .with_codec(codec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    shells::conformance(Server::MySql, NOW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_users_pool() {
    shells::conformance_on_a_users_pool(Server::MySql, NOW).await;
}

#[tokio::test]
async fn the_table_is_djangos() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let pool = admin().await;
    let ours = create_database(&pool).await;
    let store = DbStore::open(&url_for_database(&url, &ours))
        .await
        .expect("open with Django's default table")
        .with_codec(codec());
    assert_eq!(store.table(), "django_session");
    assert_eq!(
        columns(&pool, &ours, "django_session").await,
        [
            (
                "session_key".into(),
                "varchar(40)".into(),
                "NO".into(),
                "PRI".into()
            ),
            (
                "session_data".into(),
                "longtext".into(),
                "NO".into(),
                "".into()
            ),
            (
                "expire_date".into(),
                "datetime(6)".into(),
                "NO".into(),
                "MUL".into()
            ),
        ]
    );
    assert_eq!(
        indexes(&pool, &ours, "django_session").await,
        [
            ("PRIMARY".into(), "session_key".into(), 0),
            (
                "django_session_expire_date_a5c62663".into(),
                "expire_date".into(),
                1
            ),
        ]
    );

    // Django's own two statements give exactly the same table.
    let djangos = create_database(&pool).await;
    for statement in DJANGO_DDL {
        sqlx::query(
            &statement.replace("`django_session`", &format!("`{djangos}`.`django_session`")),
        )
        .execute(&pool)
        .await
        .expect("Django's DDL");
    }
    assert_eq!(
        show_create(&pool, &ours, "django_session").await,
        show_create(&pool, &djangos, "django_session").await
    );
    drop(store);
    drop_database(&pool, &ours).await;
    drop_database(&pool, &djangos).await;
}

#[tokio::test]
async fn long_table_names_get_djangos_shortened_index_names() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let pool = admin().await;
    let database = create_database(&pool).await;
    // Reference name from Django's `_create_index_name` with MySQL's
    // 64-character limit.
    let table = "a_rather_long_session_table_name_for_testing_x";
    let _store = DbOptions::new()
        .table(table)
        .open(&url_for_database(&url, &database))
        .await
        .expect("open with a long table name")
        .with_codec(codec());
    let names: Vec<String> = indexes(&pool, &database, table)
        .await
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(
        names,
        [
            "PRIMARY",
            "a_rather_long_session_table_expire_date_8d00ce96"
        ]
    );
    drop_database(&pool, &database).await;
}

#[tokio::test]
async fn a_django_made_table_is_reused_untouched() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let pool = admin().await;
    let database = create_database(&pool).await;
    let in_db = url_for_database(&url, &database);
    let django_pool = MySqlPool::connect(&in_db).await.expect("connect");
    for statement in DJANGO_DDL {
        sqlx::query(statement)
            .execute(&django_pool)
            .await
            .expect("Django's DDL");
    }
    let django = codec().encode(&data(json!({"from": "django"})), NOW);
    sqlx::query("INSERT INTO django_session VALUES (?, ?, '2026-03-02 00:00:00.000000')")
        .bind("djangodjangodjangodjangodjango12")
        .bind(&django)
        .execute(&django_pool)
        .await
        .expect("Django's row");
    let before = show_create(&pool, &database, "django_session").await;

    let store = DbStore::open(&in_db)
        .await
        .expect("open Django's table")
        .with_codec(codec());
    assert_eq!(
        show_create(&pool, &database, "django_session").await,
        before,
        "the table changed"
    );
    let loaded = store
        .load("djangodjangodjangodjangodjango12", NOW)
        .await
        .expect("load")
        .expect("Django's row is live");
    assert_eq!(loaded.record.data, data(json!({"from": "django"})));
    assert_eq!(loaded.record.expires_at, datetime!(2026-03-02 0:00 UTC));
    assert_eq!(loaded.version, Version::new(django));
    drop(store);
    django_pool.close().await;
    drop_database(&pool, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_together_create_the_table_once() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let table = table.clone();
            tokio::spawn(async move { DbOptions::new().table(table).open(&mysql_url()).await })
        })
        .collect();
    for open in opens {
        open.await.expect("task").expect("every start succeeds");
    }
    let pool = admin().await;
    let (database,): (String,) = sqlx::query_as("SELECT DATABASE()")
        .fetch_one(&pool)
        .await
        .expect("DATABASE()");
    assert_eq!(indexes(&pool, &database, &table).await.len(), 2);
    drop_table(&pool, &table).await;
}

#[tokio::test]
async fn identical_saves_are_saved_not_conflicts() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = fresh_store(&table).await;
    let record = Record::new(data(json!({"n": 1})), NOW + Duration::hours(1));
    let created = store.create(&record, NOW).await.expect("create");
    // Same data, same second, same expiry: the UPDATE changes nothing.
    for _ in 0..3 {
        let outcome = store
            .save(&created.cookie_value, &record, &created.version, NOW)
            .await
            .expect("save");
        assert_eq!(
            outcome,
            SaveOutcome::Saved(created.clone()),
            "an unchanged row must count as matched (CLIENT_FOUND_ROWS)"
        );
    }
    // What that rests on: sqlx reports rows matched, not rows changed.
    let pool = common::db::mysql_pool(&store);
    let done = sqlx::query(&format!(
        "UPDATE `{table}` SET expire_date = expire_date WHERE session_key = ?"
    ))
    .bind(&created.cookie_value)
    .execute(pool)
    .await
    .expect("no-op update");
    assert_eq!(done.rows_affected(), 1);
    drop_table(pool, &table).await;
}

#[tokio::test]
async fn the_version_is_compared_byte_for_byte() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = fresh_store(&table).await;
    let pool = common::db::mysql_pool(&store).clone();
    let record = Record::new(data(json!({"n": 1})), NOW + Duration::hours(1));
    let created = store.create(&record, NOW).await.expect("create");
    let stored = String::from_utf8(created.version.as_bytes().to_vec()).expect("ASCII");
    // Values the default collation calls equal to the stored one: another
    // case, trailing spaces. None of them is the version we hold.
    for other in [
        stored.to_uppercase(),
        stored.to_lowercase(),
        format!("{stored}   "),
    ] {
        assert_ne!(other, stored);
        sqlx::query(&format!(
            "UPDATE `{table}` SET session_data = ? WHERE session_key = ?"
        ))
        .bind(&other)
        .bind(&created.cookie_value)
        .execute(&pool)
        .await
        .expect("overwrite");
        let outcome = store
            .save(&created.cookie_value, &record, &created.version, NOW)
            .await
            .expect("save");
        assert_eq!(
            outcome,
            SaveOutcome::Conflict,
            "{other:?} matched {stored:?}"
        );
        let loaded = store
            .load(&created.cookie_value, NOW)
            .await
            .expect("load")
            .expect("live");
        assert_eq!(loaded.version.as_bytes(), other.as_bytes());
    }
    drop_table(&pool, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_from_two_processes() {
    shells::concurrent_increments_from_two_processes(Server::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_saves_each_get_their_own_outcome() {
    shells::queued_saves_each_get_their_own_outcome(Server::MySql, NOW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_then_recovers() {
    shells::store_down_then_recovers(Server::MySql).await;
}

#[tokio::test]
async fn a_dead_server_is_unavailable_within_seconds() {
    shells::a_dead_server_is_unavailable_within_seconds(Server::MySql, NOW).await;
}

#[tokio::test]
async fn bad_table_names_are_refused() {
    shells::bad_table_names_are_refused(Server::MySql).await;
}

#[tokio::test]
async fn our_connections_are_on_utc_whatever_the_url_says() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&format!("{url}{sep}timezone=%2B05:00"))
        .await
        .expect("store")
        .with_codec(codec());
    let pool = common::db::mysql_pool(&store);
    let (zone,): (String,) = sqlx::query_as("SELECT CAST(@@session.time_zone AS CHAR)")
        .fetch_one(pool)
        .await
        .expect("time_zone");
    assert_eq!(zone, "+00:00");
    drop_table(pool, &table).await;
}

#[tokio::test]
async fn djangos_rows_load_as_django_loads_them() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
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
        // The raw values: Django's MySQL backend writes the same naive UTC
        // text the vectors hold for SQLite.
        sqlx::query(&format!("INSERT INTO `{table}` VALUES (?, ?, ?)"))
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
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let v = Vectors::load();
    let table = unique("sk_test");
    // A user's pool whose connections are not on UTC: the naive UTC values
    // must not move with it.
    let sep = if url.contains('?') { '&' } else { '?' };
    let user_pool = MySqlPool::connect(&format!("{url}{sep}timezone=%2B05:00"))
        .await
        .expect("a pool on +05:00");
    let store = DbOptions::new()
        .table(&table)
        .from_pool(user_pool)
        .await
        .expect("store")
        .with_codec(v.codec(false));
    let pool = admin().await;
    let read = |key: String| {
        let (pool, table) = (pool.clone(), table.clone());
        async move {
            let row: (String, String) = sqlx::query_as(&format!(
                "SELECT session_data, CAST(expire_date AS CHAR) FROM `{table}` WHERE session_key = ?"
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
    let (stored, text) = read(created.cookie_value.clone()).await;
    assert_eq!(stored, s(seed, "session_data"));
    assert_eq!(text, "2024-06-15 12:00:00.250000");

    // Nanoseconds are cut, never rounded; the value is the UTC wall clock.
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
    let (stored, text) = read(created.cookie_value.clone()).await;
    assert_eq!(text, "2030-05-17 04:00:00.000123");
    let decoded = v
        .codec(false)
        .decode(&stored, None, now)
        .expect("Django's secret verifies it");
    assert_eq!(decoded.data, data(json!({"visit": 12})));
    let loaded = store
        .load(&created.cookie_value, now)
        .await
        .expect("load")
        .expect("live");
    assert_eq!(
        loaded.record.expires_at,
        datetime!(2030-05-17 04:00:00.000123 UTC)
    );
    drop_table(&pool, &table).await;
}

#[tokio::test]
async fn clear_expired_works_in_batches_and_is_strict() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = fresh_store(&table).await;
    let pool = admin().await;
    let signed = codec().encode(&SessionMap::new(), NOW);
    // One multi-row INSERT: the signed value is plain ASCII without quotes.
    let rows: Vec<String> = (1..=2500)
        .map(|i| {
            let at = NOW - Duration::seconds(i);
            format!(
                "('expired{i:08}', '{signed}', '{}')",
                at.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
                ))
                .expect("format")
            )
        })
        .collect();
    sqlx::query(&format!("INSERT INTO `{table}` VALUES {}", rows.join(",")))
        .execute(&pool)
        .await
        .expect("insert expired rows");
    common::db::clear_expired_is_strict(&store, NOW, 2500, || async {
        let (left,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM `{table}`"))
            .fetch_one(&pool)
            .await
            .expect("count");
        left
    })
    .await;
    drop_table(&pool, &table).await;
}

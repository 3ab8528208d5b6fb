//! The db engine on SQLite: the conformance suite on a fresh database file,
//! plus what is specific to SQLite and to Django's table (file creation, WAL,
//! DDL text, a Django-made table, `expire_date` text, corrupt rows).
#![cfg(all(feature = "sqlite", feature = "conformance"))]

mod common;

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::db::{DbOptions, DbPool, DbStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore, Version};
use sqlx::SqlitePool;
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

fn codec() -> Codec {
    let secret = "a-test-secret-for-the-db-engine-0123456789-abcdefghijklmnop";
    Codec::sessions(&Keys::new(SecretKey::new(secret), vec![]).unwrap())
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn data(value: serde_json::Value) -> SessionMap {
    value.as_object().cloned().unwrap_or_default()
}

async fn fresh_store(dir: &TempDir) -> DbStore {
    DbStore::open(&url(&dir.path().join("sessions.sqlite3")))
        .await
        .expect("open a fresh SQLite store")
        .with_codec(codec())
}

fn pool(store: &DbStore) -> &SqlitePool {
    let DbPool::Sqlite(pool) = store.pool() else {
        panic!("{store:?} is not on SQLite");
    };
    pool
}

async fn schema(pool: &SqlitePool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .fetch_all(pool)
        .await
        .expect("read sqlite_master")
}

async fn row(pool: &SqlitePool, table: &str, key: &str) -> (String, String) {
    sqlx::query_as(&format!(
        "SELECT session_data, expire_date FROM \"{table}\" WHERE session_key = ?"
    ))
    .bind(key)
    .fetch_one(pool)
    .await
    .expect("read the session row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_fresh_file() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    conformance::run_all(&store, Capabilities::new(), NOW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_custom_table() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("custom.sqlite3");
    let options = DbOptions::new().table("my_sessions");
    let store = options
        .open(&url(&path))
        .await
        .expect("open with a custom table")
        .with_codec(codec());
    assert_eq!(store.table(), "my_sessions");
    conformance::run_all(&store, Capabilities::new(), NOW).await;

    let names: Vec<String> = schema(pool(&store))
        .await
        .into_iter()
        .map(|(_, n, _)| n)
        .collect();
    assert!(names.contains(&"my_sessions".to_owned()), "{names:?}");
    assert!(
        names.contains(&"my_sessions_expire_date_8a6b8a8d".to_owned()),
        "the index is named as Django would name it: {names:?}"
    );
    assert!(!names.contains(&"django_session".to_owned()), "{names:?}");
}

#[tokio::test]
async fn creates_the_file_when_missing() {
    let dir = TempDir::new().expect("temp dir");
    for (name, suffix) in [("plain.sqlite3", ""), ("rwc.sqlite3", "?mode=rwc")] {
        let path = dir.path().join(name);
        assert!(!path.exists());
        let store = DbStore::open(&format!("{}{suffix}", url(&path)))
            .await
            .expect("open a missing file")
            .with_codec(codec());
        assert!(path.is_file(), "{name} was not created");
        let saved = store
            .create(
                &Record::new(data(json!({"a": 1})), NOW + Duration::hours(1)),
                NOW,
            )
            .await
            .expect("create");
        assert!(store
            .load(&saved.cookie_value, NOW)
            .await
            .expect("load")
            .is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_is_shared_by_the_pool() {
    let store = DbStore::open("sqlite::memory:")
        .await
        .expect("open in memory")
        .with_codec(codec());
    conformance::run_all(&store, Capabilities::new(), NOW).await;
}

#[tokio::test]
async fn an_explicit_mode_is_respected() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("absent.sqlite3");
    let result = DbStore::open(&format!("{}?mode=rw", url(&path))).await;
    assert!(result.is_err(), "mode=rw must not create the file");
    assert!(!path.exists());
}

#[tokio::test]
async fn wal_mode_is_on() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(pool(&store))
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(pool(&store))
        .await
        .expect("synchronous");
    assert_eq!(sync, 1, "synchronous=NORMAL");
}

#[tokio::test]
async fn the_ddl_is_djangos_text() {
    let vectors = common::vectors("sessions.json");
    let expected: Vec<&str> = vectors["sqlite_ddl"]
        .as_array()
        .expect("sqlite_ddl")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(expected.len(), 2);

    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let ours: Vec<String> = schema(pool(&store))
        .await
        .into_iter()
        .filter_map(|(_, _, sql)| sql)
        .collect();
    assert_eq!(
        ours,
        [expected[1], expected[0]],
        "index then table, by type"
    );
}

#[tokio::test]
async fn a_django_made_table_is_reused_untouched() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("django.sqlite3");
    std::fs::copy(common::vectors_dir().join("sessions_sqlite.db"), &path)
        .expect("copy vectors db");
    // A copy of a read-only file is read-only too.
    let mut perms = std::fs::metadata(&path).expect("metadata").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).expect("make the copy writable");

    let before = {
        let pool = SqlitePool::connect(&url(&path))
            .await
            .expect("open the copy");
        let s = schema(&pool).await;
        pool.close().await;
        s
    };
    let store = DbStore::open(&url(&path))
        .await
        .expect("open Django's db")
        .with_codec(codec());
    assert_eq!(schema(pool(&store)).await, before, "the schema changed");
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM django_session")
        .fetch_one(pool(&store))
        .await
        .expect("count");
    assert_eq!(rows, 16);
}

#[tokio::test]
async fn bad_table_names_are_refused() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("names.sqlite3");
    for bad in [
        "",
        "1st",
        "a-b",
        "x\"; DROP TABLE y; --",
        "main.sessions",
        &"t".repeat(64),
    ] {
        let result = DbOptions::new().table(bad).open(&url(&path)).await;
        assert!(
            matches!(result, Err(StoreError::Config(_))),
            "{bad:?} was accepted"
        );
    }
    let pool = SqlitePool::connect(&format!("{}?mode=rwc", url(&path)))
        .await
        .expect("pool");
    let result = DbOptions::new().table("a b").from_pool(pool.clone()).await;
    assert!(matches!(result, Err(StoreError::Config(_))));
    assert!(
        schema(&pool).await.is_empty(),
        "a refused store created something"
    );
}

#[tokio::test]
async fn expire_date_is_djangos_text() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    for (expires_at, text) in [
        (
            datetime!(2024-06-15 12:00:00.25 UTC),
            "2024-06-15 12:00:00.250000",
        ),
        (datetime!(2024-06-15 12:00:00 UTC), "2024-06-15 12:00:00"),
        (
            datetime!(2030-05-17 09:30:00.000123 +05:30),
            "2030-05-17 04:00:00.000123",
        ),
    ] {
        let now = datetime!(2024-06-01 12:00:00 UTC);
        let record = Record::new(data(json!({"x": 1})), expires_at);
        let created = store.create(&record, now).await.expect("create");
        assert_eq!(
            row(pool(&store), "django_session", &created.cookie_value)
                .await
                .1,
            text
        );
        let loaded = store.load(&created.cookie_value, now).await.expect("load");
        assert_eq!(loaded.map(|l| l.record.expires_at), Some(expires_at));

        let saved = store
            .save(&created.cookie_value, &record, &created.version, now)
            .await
            .expect("save");
        assert!(matches!(saved, SaveOutcome::Saved(_)));
        assert_eq!(
            row(pool(&store), "django_session", &created.cookie_value)
                .await
                .1,
            text
        );
    }
}

#[tokio::test]
async fn a_corrupt_row_loads_empty_keeps_its_key_and_is_overwritten() {
    let logs = common::logs::captured_logs();
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let key = key::generate_key();
    let expire = "2099-01-01 00:00:00";
    for stored in ["bad:encoded:value", "", "eyJ4IjoxfQ:1sDNOy:AAAA"] {
        sqlx::query("INSERT OR REPLACE INTO django_session VALUES (?, ?, ?)")
            .bind(&key)
            .bind(stored)
            .bind(expire)
            .execute(pool(&store))
            .await
            .expect("insert a corrupt row");
        let loaded = store
            .load(&key, NOW)
            .await
            .expect("load")
            .expect("the row is live");
        assert!(
            loaded.record.data.is_empty(),
            "{stored:?} did not load empty"
        );
        assert_eq!(loaded.version, Version::new(stored));
    }

    let log = logs.text();
    assert!(log.contains("session data corrupted"), "{log}");
    assert!(log.contains(&key::log_tag(&key)), "{log}");
    assert!(!log.contains(&key), "the key reached a log: {log}");

    let loaded = store.load(&key, NOW).await.expect("load").expect("live");
    let record = Record::new(data(json!({"fresh": true})), NOW + Duration::hours(1));
    let outcome = store
        .save(&key, &record, &loaded.version, NOW)
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(ref s) if s.cookie_value == key));
    let reloaded = store.load(&key, NOW).await.expect("load").expect("live");
    assert_eq!(reloaded.record, record);
}

#[tokio::test]
async fn an_unreadable_expire_date_counts_as_expired() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let signed = codec().encode(&data(json!({"x": 1})), NOW);
    for expire in ["garbage", "2099-01-01T00:00:00Z", "9999-99-99 99:99:99"] {
        let key = key::generate_key();
        sqlx::query("INSERT INTO django_session VALUES (?, ?, ?)")
            .bind(&key)
            .bind(&signed)
            .bind(expire)
            .execute(pool(&store))
            .await
            .expect("insert");
        assert!(
            store.load(&key, NOW).await.expect("load").is_none(),
            "{expire:?} loaded"
        );
    }
}

#[tokio::test]
async fn a_blob_session_data_is_corrupt_not_an_error() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let key = key::generate_key();
    sqlx::query("INSERT INTO django_session VALUES (?, X'FF00FE', '2099-01-01 00:00:00')")
        .bind(&key)
        .execute(pool(&store))
        .await
        .expect("insert");
    let loaded = store.load(&key, NOW).await.expect("load").expect("live");
    assert!(loaded.record.data.is_empty());
    let record = Record::new(data(json!({"ok": 1})), NOW + Duration::hours(1));
    let outcome = store
        .save(&key, &record, &loaded.version, NOW)
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
}

#[tokio::test]
async fn clear_expired_works_in_batches_and_is_strict() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let signed = codec().encode(&SessionMap::new(), NOW);
    let mut tx = pool(&store).begin().await.expect("begin");
    for i in 0..2500 {
        let text = format!("2026-03-01 11:{:02}:{:02}", (i / 60) % 60, i % 60);
        sqlx::query("INSERT INTO django_session VALUES (?, ?, ?)")
            .bind(format!("expired{i:08}"))
            .bind(&signed)
            .bind(text)
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
    let on_the_dot = store
        .create(&Record::new(SessionMap::new(), NOW), NOW)
        .await
        .expect("create");

    assert_eq!(store.clear_expired(NOW).await.expect("clear"), 2500);
    assert_eq!(store.clear_expired(NOW).await.expect("clear"), 0);
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM django_session")
        .fetch_one(pool(&store))
        .await
        .expect("count");
    assert_eq!(left, 1, "the row expiring exactly now stays, as in Django");
    assert!(store
        .load(&on_the_dot.cookie_value, NOW)
        .await
        .expect("load")
        .is_none());
    assert_eq!(
        store
            .clear_expired(NOW + Duration::microseconds(1))
            .await
            .expect("clear"),
        1
    );
}

#[tokio::test]
async fn save_tells_conflict_from_gone() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let record = Record::new(data(json!({"n": 1})), NOW + Duration::hours(1));
    let created = store.create(&record, NOW).await.expect("create");
    let key = &created.cookie_value;

    // Each save in its own second: equal data signed in the same second is
    // the same text, and so the same version.
    let first = store
        .save(key, &record, &created.version, NOW + Duration::seconds(1))
        .await
        .expect("save");
    assert!(matches!(first, SaveOutcome::Saved(_)));
    let later = NOW + Duration::seconds(2);
    let stale = store
        .save(key, &record, &created.version, later)
        .await
        .expect("save");
    assert_eq!(stale, SaveOutcome::Conflict);
    let foreign = Version::new(vec![0xff, 0x00]);
    assert_eq!(
        store
            .save(key, &record, &foreign, later)
            .await
            .expect("save"),
        SaveOutcome::Conflict
    );

    store.delete(key).await.expect("delete");
    assert_eq!(
        store
            .save(key, &record, &created.version, later)
            .await
            .expect("save"),
        SaveOutcome::Gone
    );
    assert!(
        store.load(key, later).await.expect("load").is_none(),
        "a Gone save recreated the row"
    );
}

#[tokio::test]
async fn a_closed_pool_is_unavailable_and_debug_is_quiet() {
    let dir = TempDir::new().expect("temp dir");
    let store = fresh_store(&dir).await;
    let debug = format!("{store:?}");
    assert!(
        debug.contains("sqlite") && debug.contains("django_session"),
        "{debug}"
    );
    assert!(!debug.contains("secret"), "{debug}");

    pool(&store).close().await;
    let key = key::generate_key();
    match store.load(&key, NOW).await {
        Err(e @ StoreError::Unavailable(_)) => {
            let text = e.to_string();
            assert!(!text.contains(&key), "{text}");
            assert!(
                std::error::Error::source(&e).is_some(),
                "the sqlx cause is kept"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_users_pool_keeps_its_settings() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("user.sqlite3");
    let pool = SqlitePool::connect(&format!("{}?mode=rwc", url(&path)))
        .await
        .expect("pool");
    let store = DbStore::from_pool(pool.clone())
        .await
        .expect("store")
        .with_codec(codec());
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .expect("journal_mode");
    assert_eq!(mode, "delete", "the store changed the user's journal mode");
    conformance::round_trip(&store, NOW).await;
}

/// Writes that arrive together are committed together (group commit on the
/// writer connection); each must still get its own outcome: one of many
/// compare-and-sets on the same version wins, the rest conflict, and
/// creates, saves and deletes of other sessions in the same batch all land.
#[tokio::test]
async fn concurrent_writes_each_get_their_own_outcome() {
    let dir = TempDir::new().expect("temp dir");
    let store = Arc::new(fresh_store(&dir).await);
    let expires = NOW + Duration::weeks(2);
    let contested = store
        .create(&Record::new(data(json!({"n": 0})), expires), NOW)
        .await
        .expect("create the contested session");
    let doomed = store
        .create(&Record::new(data(json!({"bye": true})), expires), NOW)
        .await
        .expect("create the session to delete");

    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=32 {
        let (store, key, version) = (
            store.clone(),
            contested.cookie_value.clone(),
            contested.version.clone(),
        );
        tasks.spawn(async move {
            let record = Record::new(data(json!({ "n": i })), expires);
            let outcome = store.save(&key, &record, &version, NOW).await;
            (i, outcome.expect("save runs"))
        });
    }
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        creates.spawn(async move {
            let record = Record::new(data(json!({ "fresh": i })), expires);
            (i, store.create(&record, NOW).await.expect("create runs"))
        });
    }
    let deleting = {
        let (store, key) = (store.clone(), doomed.cookie_value.clone());
        tokio::spawn(async move { store.delete(&key).await })
    };

    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("save task") {
            (i, SaveOutcome::Saved(_)) => winners.push(i),
            (_, SaveOutcome::Conflict) => {}
            (i, SaveOutcome::Gone) => panic!("save {i} found the live session gone"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one compare-and-set wins");
    let stored = store
        .load(&contested.cookie_value, NOW)
        .await
        .expect("load")
        .expect("contested session is live");
    assert_eq!(stored.record.data, data(json!({ "n": winners[0] })));

    let mut keys = std::collections::HashSet::new();
    while let Some(joined) = creates.join_next().await {
        let (i, saved) = joined.expect("create task");
        let loaded = store
            .load(&saved.cookie_value, NOW)
            .await
            .expect("load")
            .expect("created session is live");
        assert_eq!(loaded.record.data, data(json!({ "fresh": i })));
        keys.insert(saved.cookie_value);
    }
    assert_eq!(keys.len(), 16, "every create got its own key");

    deleting.await.expect("delete task").expect("delete runs");
    assert!(store
        .load(&doomed.cookie_value, NOW)
        .await
        .expect("load")
        .is_none());
}

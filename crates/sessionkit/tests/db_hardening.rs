//! The db engine's answers to the security review, on real servers: the
//! compare-and-set `delete_if`, saves whose reply is lost (committed, but the
//! client cannot know: never re-run), a locked row that times a save out
//! without holding up others, and an SQLite file only its owner can read.
//!
//! Every test works in a table of its own and drops it at the end.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]

mod common;

use std::sync::Arc;

use sessionkit::store::db::{DbOptions, DbStore};
use sqlx::{MySqlPool, PgPool};
use time::macros::datetime;
use time::OffsetDateTime;

use common::codec;
use common::proxy::Proxy;
use common::services::{available, host_port, mysql_url, postgres_url, unique};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

async fn pg_admin() -> PgPool {
    PgPool::connect(&postgres_url())
        .await
        .expect("connect to the test PostgreSQL")
}

async fn mysql_admin() -> MySqlPool {
    MySqlPool::connect(&mysql_url())
        .await
        .expect("connect to the test MySQL")
}

async fn pg_drop(table: &str) {
    sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\""))
        .execute(&pg_admin().await)
        .await
        .expect("drop the test table");
}

async fn mysql_drop(table: &str) {
    sqlx::query(&format!("DROP TABLE IF EXISTS `{table}`"))
        .execute(&mysql_admin().await)
        .await
        .expect("drop the test table");
}

#[tokio::test]
async fn delete_if_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let store = DbStore::open(&url).await.expect("open").with_codec(codec());
    common::db::hardening::delete_if_deletes_only_the_expected_version(&store, NOW).await;
}

#[tokio::test]
async fn delete_if_on_postgres() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("open")
        .with_codec(codec());
    common::db::hardening::delete_if_deletes_only_the_expected_version(&store, NOW).await;
    pg_drop(&table).await;
}

#[tokio::test]
async fn delete_if_on_mysql() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("open")
        .with_codec(codec());
    common::db::hardening::delete_if_deletes_only_the_expected_version(&store, NOW).await;
    mysql_drop(&table).await;
}

/// Current-thread: the saves are all queued before the batching task runs.
#[tokio::test]
async fn a_lost_reply_on_postgres_is_unavailable_never_replayed() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let proxy = Proxy::start(&host_port(&url)).await;
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&proxy.through(&url))
        .await
        .expect("open through the proxy")
        .with_codec(codec());
    let admin = pg_admin().await;
    let select = format!("SELECT session_data FROM \"{table}\" WHERE session_key = $1");
    let stored = |key: String| {
        let (admin, select) = (admin.clone(), select.clone());
        async move {
            let (data,): (String,) = sqlx::query_as(&select)
                .bind(key)
                .fetch_one(&admin)
                .await
                .expect("read the row");
            data.into_bytes()
        }
    };
    // The batch's parameters carry the keys: replies stop once it is sent.
    let trigger = |keys: &[String]| keys[0].as_bytes().to_vec();
    common::db::hardening::a_lost_reply_is_unavailable_never_replayed(
        Arc::new(store),
        &proxy,
        trigger,
        stored,
        NOW,
    )
    .await;
    pg_drop(&table).await;
}

/// Current-thread: the saves are all queued before the batching task runs.
#[tokio::test]
async fn a_lost_reply_on_mysql_is_unavailable_never_replayed() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let proxy = Proxy::start(&host_port(&url)).await;
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&proxy.through(&url))
        .await
        .expect("open through the proxy")
        .with_codec(codec());
    let admin = mysql_admin().await;
    let select =
        format!("SELECT CAST(session_data AS BINARY) FROM `{table}` WHERE session_key = ?");
    let stored = |key: String| {
        let (admin, select) = (admin.clone(), select.clone());
        async move {
            let (data,): (Vec<u8>,) = sqlx::query_as(&select)
                .bind(key)
                .fetch_one(&admin)
                .await
                .expect("read the row");
            data
        }
    };
    // Replies stop once the batch's transaction is sent to be committed.
    let trigger = |_: &[String]| b"COMMIT".to_vec();
    common::db::hardening::a_lost_reply_is_unavailable_never_replayed(
        Arc::new(store),
        &proxy,
        trigger,
        stored,
        NOW,
    )
    .await;
    mysql_drop(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_row_on_postgres_times_out_alone() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("open")
        .with_codec(codec());
    let admin = pg_admin().await;
    let lock = |key: String| {
        let (admin, table) = (admin.clone(), table.clone());
        async move {
            let mut tx = admin.begin().await.expect("begin");
            sqlx::query(&format!(
                "SELECT 1 FROM \"{table}\" WHERE session_key = $1 FOR UPDATE"
            ))
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .expect("lock the row");
            tx
        }
    };
    common::db::hardening::a_locked_row_times_out_and_others_still_save(Arc::new(store), lock, NOW)
        .await;
    pg_drop(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_row_on_mysql_times_out_alone() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("open")
        .with_codec(codec());
    let admin = mysql_admin().await;
    let lock = |key: String| {
        let (admin, table) = (admin.clone(), table.clone());
        async move {
            let mut tx = admin.begin().await.expect("begin");
            sqlx::query(&format!(
                "SELECT 1 FROM `{table}` WHERE session_key = ? FOR UPDATE"
            ))
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .expect("lock the row");
            tx
        }
    };
    common::db::hardening::a_locked_row_times_out_and_others_still_save(Arc::new(store), lock, NOW)
        .await;
    mysql_drop(&table).await;
}

/// Sessions are credentials: the database file sessionkit creates, and the
/// WAL files beside it, are readable by their owner only, whatever the umask.
#[cfg(unix)]
#[tokio::test]
async fn a_new_sqlite_database_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sessions.sqlite3");
    let store = DbStore::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open")
        .with_codec(codec());
    let record = sessionkit::store::Record::new(Default::default(), NOW + time::Duration::hours(1));
    sessionkit::store::SessionStore::create(&store, &record, NOW)
        .await
        .expect("create");
    let mut checked = 0;
    for name in [
        "sessions.sqlite3",
        "sessions.sqlite3-wal",
        "sessions.sqlite3-shm",
    ] {
        let Ok(meta) = std::fs::metadata(dir.path().join(name)) else {
            continue;
        };
        let mode = meta.permissions().mode();
        assert_eq!(mode & 0o077, 0, "{name} has mode {mode:o}");
        checked += 1;
    }
    assert!(checked >= 2, "the database and its WAL exist");
}

/// The server stops answering (its replies are dropped from the first save
/// on): the saves beyond the queue's bound fail at once.
#[tokio::test]
async fn a_full_queue_on_postgres_fails_fast() {
    let url = postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let proxy = Proxy::start(&host_port(&url)).await;
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&proxy.through(&url))
        .await
        .expect("open through the proxy")
        .with_codec(codec());
    // Every statement names the table: the first save stalls the server.
    proxy.mute_replies_after(b"session_data");
    common::db::hardening::a_full_queue_fails_fast(Arc::new(store), || proxy.cut(), NOW).await;
    pg_drop(&table).await;
}

#[tokio::test]
async fn a_full_queue_on_mysql_fails_fast() {
    let url = mysql_url();
    if !available("MySQL", &url).await {
        return;
    }
    let proxy = Proxy::start(&host_port(&url)).await;
    let table = unique("sk_test");
    let store = DbOptions::new()
        .table(&table)
        .open(&proxy.through(&url))
        .await
        .expect("open through the proxy")
        .with_codec(codec());
    proxy.mute_replies_after(b"session_data");
    common::db::hardening::a_full_queue_fails_fast(Arc::new(store), || proxy.cut(), NOW).await;
    mysql_drop(&table).await;
}

/// Another connection holds SQLite's write lock: the writer waits on it,
/// and the saves beyond its queue's bound fail at once.
#[tokio::test]
async fn a_full_queue_on_sqlite_fails_fast() {
    use sqlx::{Connection, Executor};

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let store = DbStore::open(&url).await.expect("open").with_codec(codec());
    let mut side = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("a side connection");
    side.execute("BEGIN EXCLUSIVE")
        .await
        .expect("take the lock");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let _ = rx.await;
        side.execute("ROLLBACK").await.expect("release the lock");
    });
    common::db::hardening::a_full_queue_fails_fast(
        Arc::new(store),
        || {
            let _ = tx.send(());
        },
        NOW,
    )
    .await;
    holder.await.expect("lock holder");
}

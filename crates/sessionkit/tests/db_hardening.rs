//! The db engine's answers to the security review, on real servers: the
//! compare-and-set `delete_if`, saves whose reply is lost (committed, but the
//! client cannot know: never re-run), a locked row that times a save out
//! without holding up others, and an SQLite file only its owner can read.
//!
//! Every test works in a table of its own and drops it at the end.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]

mod common;

use std::sync::Arc;

use sessionkit::store::db::DbStore;
use time::macros::datetime;
use time::OffsetDateTime;

use common::codec;
use common::db::hardening;
use common::db::server::Server;
use common::proxy::Proxy;
use common::services::host_port;

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// `delete_if` on `server`, in a table of its own.
async fn delete_if_on(server: Server) {
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let store = server.store(&table).await;
    hardening::delete_if_deletes_only_the_expected_version(&store, NOW).await;
    server.drop_table(&table).await;
}

/// A batch of saves on `server` loses its reply once the proxy sees
/// `trigger` (from the batch's keys) go by.
async fn a_lost_reply_on(server: Server, trigger: impl FnOnce(&[String]) -> Vec<u8>) {
    if !server.available().await {
        return;
    }
    let url = server.url();
    let proxy = Proxy::start(&host_port(&url)).await;
    let table = server.fresh_table();
    let store = server.store_at(&proxy.through(&url), &table).await;
    let stored = |key: String| {
        let table = table.clone();
        async move { server.stored_data(&table, &key).await }
    };
    hardening::a_lost_reply_is_unavailable_never_replayed(
        Arc::new(store),
        &proxy,
        trigger,
        stored,
        NOW,
    )
    .await;
    server.drop_table(&table).await;
}

/// Another transaction holds one row of `server` locked.
async fn a_locked_row_on(server: Server) {
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let store = server.store(&table).await;
    let lock = |key: String| {
        let table = table.clone();
        async move { server.lock_row(&table, &key).await }
    };
    hardening::a_locked_row_times_out_and_others_still_save(Arc::new(store), lock, NOW).await;
    server.drop_table(&table).await;
}

/// `server` stops answering (its replies are dropped from the first save
/// on): the saves beyond the queue's bound fail at once.
async fn a_full_queue_on(server: Server) {
    if !server.available().await {
        return;
    }
    let url = server.url();
    let proxy = Proxy::start(&host_port(&url)).await;
    let table = server.fresh_table();
    let store = server.store_at(&proxy.through(&url), &table).await;
    // Every statement names the table: the first save stalls the server.
    proxy.mute_replies_after(b"session_data");
    hardening::a_full_queue_fails_fast(Arc::new(store), || proxy.cut(), NOW).await;
    server.drop_table(&table).await;
}

#[tokio::test]
async fn delete_if_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let store = DbStore::open(&url).await.expect("open").with_codec(codec());
    hardening::delete_if_deletes_only_the_expected_version(&store, NOW).await;
}

#[tokio::test]
async fn delete_if_on_postgres() {
    delete_if_on(Server::Postgres).await;
}

#[tokio::test]
async fn delete_if_on_mysql() {
    delete_if_on(Server::MySql).await;
}

/// Current-thread: the saves are all queued before the batching task runs.
#[tokio::test]
async fn a_lost_reply_on_postgres_is_unavailable_never_replayed() {
    // The batch's parameters carry the keys: replies stop once it is sent.
    a_lost_reply_on(Server::Postgres, |keys| keys[0].as_bytes().to_vec()).await;
}

/// Current-thread: the saves are all queued before the batching task runs.
#[tokio::test]
async fn a_lost_reply_on_mysql_is_unavailable_never_replayed() {
    // Replies stop once the batch's transaction is sent to be committed.
    a_lost_reply_on(Server::MySql, |_| b"COMMIT".to_vec()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_row_on_postgres_times_out_alone() {
    a_locked_row_on(Server::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_row_on_mysql_times_out_alone() {
    a_locked_row_on(Server::MySql).await;
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

#[tokio::test]
async fn a_full_queue_on_postgres_fails_fast() {
    a_full_queue_on(Server::Postgres).await;
}

#[tokio::test]
async fn a_full_queue_on_mysql_fails_fast() {
    a_full_queue_on(Server::MySql).await;
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
    hardening::a_full_queue_fails_fast(
        Arc::new(store),
        || {
            let _ = tx.send(());
        },
        NOW,
    )
    .await;
    holder.await.expect("lock holder");
}

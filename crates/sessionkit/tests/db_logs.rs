//! Session keys and signed session data never reach the logs through the db
//! engine, even with every sqlx log on: sqlx logs each statement's SQL text
//! (DEBUG, and WARN when slow), so the values must be bound parameters, never
//! part of that text. The pools sessionkit builds log no statements at all.
//!
//! A binary of its own: it installs a global subscriber at TRACE.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]

mod common;

use std::sync::{Arc, OnceLock};

use serde_json::json;
use sessionkit::store::db::{DbOptions, DbStore};
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use common::db::server::Server;
use common::logs::Captured;
use common::services::unique;
use common::{codec, data};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// Everything logged by this binary, at every level.
fn all_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

/// Creates sessions, saves them all at once (so they queue and go as a
/// batch), then once more alone, and loads them; returns every key and
/// every `session_data` written.
async fn save_a_batch(store: Arc<DbStore>) -> Vec<String> {
    // Data of this test's own: tests share the logs.
    let tag = store.table().to_owned();
    let expires = NOW + Duration::hours(1);
    let mut secrets = Vec::new();
    let mut sessions = Vec::new();
    for i in 0..12 {
        let record = Record::new(data(json!({ "user": i, "tag": tag })), expires);
        let saved = store.create(&record, NOW).await.expect("create");
        secrets.push(saved.cookie_value.clone());
        secrets.push(String::from_utf8(saved.version.as_bytes().to_vec()).expect("text"));
        sessions.push(saved);
    }
    let mut saves = tokio::task::JoinSet::new();
    for (i, saved) in sessions.iter().enumerate() {
        let (store, key, version) = (
            store.clone(),
            saved.cookie_value.clone(),
            saved.version.clone(),
        );
        let tag = tag.clone();
        saves.spawn(async move {
            let record = Record::new(
                data(json!({ "user": i, "tag": tag, "seen": true })),
                expires,
            );
            store
                .save(&key, &record, &version, NOW)
                .await
                .expect("save")
        });
    }
    while let Some(outcome) = saves.join_next().await {
        match outcome.expect("save task") {
            SaveOutcome::Saved(saved) => {
                secrets.push(String::from_utf8(saved.version.as_bytes().to_vec()).expect("text"));
            }
            other => panic!("save: {other:?}"),
        }
    }
    for saved in &sessions {
        store
            .load(&saved.cookie_value, NOW)
            .await
            .expect("load")
            .expect("live");
    }
    secrets
}

/// None of `secrets` (nor the signed payload of a `session_data`) is in the
/// logs.
fn assert_not_logged(secrets: &[String]) {
    let logs = all_logs().text();
    for secret in secrets {
        let payload = secret.split(':').next().unwrap_or(secret);
        assert!(
            !logs.contains(secret.as_str()) && !logs.contains(payload),
            "a session key or session_data reached the logs"
        );
    }
}

/// Whether any logged statement touched `table`.
fn statements_logged_for(table: &str) -> bool {
    all_logs().text().contains(table)
}

/// A store on a pool as users build them (statement logging on): sqlx logs
/// each statement, never a key or data. `batch` is logged when the saves
/// went as a batch, on servers whose batch statement can be told apart.
async fn a_users_pool_on(server: Server, batch: Option<&str>) {
    all_logs();
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let store = DbOptions::new()
        .table(&table)
        .from_pool(server.pool(10).await)
        .await
        .expect("open")
        .with_codec(codec());
    let secrets = save_a_batch(Arc::new(store)).await;
    assert!(
        statements_logged_for(&table),
        "sqlx statement logs are captured"
    );
    if let Some(batch) = batch {
        assert!(
            all_logs().text().contains(batch),
            "the saves went as a batch"
        );
    }
    assert_not_logged(&secrets);
    server.drop_table(&table).await;
}

/// A store with a pool of its own logs no statement at all.
async fn our_pool_on(server: Server) {
    all_logs();
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let store = server.store(&table).await;
    let secrets = save_a_batch(Arc::new(store)).await;
    assert!(!statements_logged_for(&table), "statement logging is off");
    assert_not_logged(&secrets);
    server.drop_table(&table).await;
}

#[tokio::test]
async fn a_mysql_users_pool_logs_statements_without_keys_or_data() {
    a_users_pool_on(Server::MySql, Some("EXECUTE sk_cas USING")).await;
}

#[tokio::test]
async fn a_postgres_users_pool_logs_statements_without_keys_or_data() {
    a_users_pool_on(Server::Postgres, None).await;
}

#[tokio::test]
async fn our_mysql_pool_logs_no_statements() {
    our_pool_on(Server::MySql).await;
}

#[tokio::test]
async fn our_postgres_pool_logs_no_statements() {
    our_pool_on(Server::Postgres).await;
}

#[tokio::test]
async fn our_sqlite_pool_logs_no_statements() {
    all_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let table = unique("sk_test");
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let store = DbOptions::new()
        .table(&table)
        .open(&url)
        .await
        .expect("open")
        .with_codec(codec());
    let secrets = save_a_batch(Arc::new(store)).await;
    assert!(!statements_logged_for(&table), "statement logging is off");
    assert_not_logged(&secrets);
}

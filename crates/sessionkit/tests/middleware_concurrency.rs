//! Concurrent requests of one session over HTTP, on the default engines: no
//! lost update, ever (the suites are in `common::http`).
#![cfg(all(feature = "sqlite", feature = "memory", feature = "axum"))]

mod common;

use std::sync::Arc;

use common::http;
use sessionkit::store::db::DbStore;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{SessionConfig, SessionStore};

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn SessionStore> {
    let url = format!("sqlite://{}", dir.path().join("c.sqlite3").display());
    let config = SessionConfig::new(common::SECRET).unwrap();
    Arc::new(
        DbStore::open(&url)
            .await
            .unwrap()
            .with_codec(config.codec()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_increments_one_process() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    http::concurrent_increments([store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_increments_two_processes() {
    // Clones share the cache but each layer has its own locks.
    let store = MemoryStore::new();
    http::concurrent_increments([Arc::new(store.clone()), Arc::new(store)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_increments_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    http::concurrent_increments([store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_increments_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    http::concurrent_increments([sqlite_store(&dir).await, sqlite_store(&dir).await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_different_keys_both_survive() {
    let store = MemoryStore::new();
    http::different_keys_survive([Arc::new(store.clone()), Arc::new(store)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_different_keys_both_survive() {
    let dir = tempfile::tempdir().unwrap();
    http::different_keys_survive([sqlite_store(&dir).await, sqlite_store(&dir).await]).await;
}

//! Concurrent requests of one session over HTTP, on the default engines and
//! every adapter: no lost update, ever (the suites are in `common::http`).
#![cfg(all(feature = "sqlite", feature = "memory"))]

mod common;

use std::sync::Arc;

use common::app::{adapter_tests, config, stores, Adapter};
use common::http;
use sessionkit::store::memory::MemoryStore;
use sessionkit::SessionStore;

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn SessionStore> {
    stores::sqlite(&dir.path().join("c.sqlite3"), &config()).await
}

async fn memory_increments_one_process(adapter: Adapter) {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    http::concurrent_increments_on(adapter, [store.clone(), store]).await;
}

async fn memory_increments_two_processes(adapter: Adapter) {
    // Clones share the cache but each app has its own locks.
    let store = MemoryStore::new();
    http::concurrent_increments_on(adapter, [Arc::new(store.clone()), Arc::new(store)]).await;
}

async fn sqlite_increments_one_process(adapter: Adapter) {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    http::concurrent_increments_on(adapter, [store.clone(), store]).await;
}

async fn sqlite_increments_two_processes(adapter: Adapter) {
    let dir = tempfile::tempdir().unwrap();
    let stores = [sqlite_store(&dir).await, sqlite_store(&dir).await];
    http::concurrent_increments_on(adapter, stores).await;
}

async fn memory_different_keys_both_survive(adapter: Adapter) {
    let store = MemoryStore::new();
    http::different_keys_survive_on(adapter, [Arc::new(store.clone()), Arc::new(store)]).await;
}

async fn sqlite_different_keys_both_survive(adapter: Adapter) {
    let dir = tempfile::tempdir().unwrap();
    let stores = [sqlite_store(&dir).await, sqlite_store(&dir).await];
    http::different_keys_survive_on(adapter, stores).await;
}

adapter_tests! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] memory_increments_one_process;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] memory_increments_two_processes;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] sqlite_increments_one_process;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] sqlite_increments_two_processes;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] memory_different_keys_both_survive;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] sqlite_different_keys_both_survive;
}

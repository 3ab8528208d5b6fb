//! Whole tests that read the same on PostgreSQL and MySQL, written once over
//! a [`Server`]: each test file calls them in a `#[tokio::test]` of its own,
//! so `cargo test conformance` still finds both. Each works in a table of its
//! own and drops it at the end.

use std::sync::Arc;

use sessionkit::error::StoreError;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::db::{DbOptions, DbStore};
use time::OffsetDateTime;

use super::super::codec;
use super::super::proxy::Proxy;
use super::super::services::host_port;
use super::server::Server;

/// The conformance suite on a store with a pool of its own.
pub(crate) async fn conformance(server: Server, now: OffsetDateTime) {
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let store = server.store(&table).await;
    assert_eq!(store.table(), table);
    conformance::run_all(&store, Capabilities::default(), now).await;
    server.drop_table(&table).await;
}

/// The conformance suite on a store given the caller's pool, which it keeps.
pub(crate) async fn conformance_on_a_users_pool(server: Server, now: OffsetDateTime) {
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let pool = server.pool(10).await;
    let store = DbOptions::new()
        .table(&table)
        .from_pool(pool.clone())
        .await
        .expect("store on the caller's pool")
        .with_codec(codec());
    assert_eq!(
        std::mem::discriminant(store.pool()),
        std::mem::discriminant(&pool),
        "the store keeps the caller's pool"
    );
    conformance::run_all(&store, Capabilities::default(), now).await;
    server.drop_table(&table).await;
}

/// Two stores with pools of their own (no in-process lock shared, as between
/// two processes) serve one app's increments over HTTP.
pub(crate) async fn concurrent_increments_from_two_processes(server: Server) {
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let a = server.store(&table).await;
    let b = server.store(&table).await;
    super::super::http::concurrent_increments([Arc::new(a.clone()), Arc::new(b.clone())]).await;
    super::super::http::different_keys_survive([Arc::new(a), Arc::new(b)]).await;
    server.drop_table(&table).await;
}

/// A pool of two connections gives one batch in flight: saves that come
/// meanwhile queue and go to the server together.
pub(crate) async fn queued_saves_each_get_their_own_outcome(server: Server, now: OffsetDateTime) {
    if !server.available().await {
        return;
    }
    let table = server.fresh_table();
    let store = DbOptions::new()
        .table(&table)
        .from_pool(server.pool(2).await)
        .await
        .expect("store on a small pool")
        .with_codec(codec());
    super::queued_saves_each_get_their_own_outcome(Arc::new(store), now).await;
    server.drop_table(&table).await;
}

/// The server goes away behind a proxy and comes back: requests fail as
/// unavailable meanwhile and succeed again after.
pub(crate) async fn store_down_then_recovers(server: Server) {
    if !server.available().await {
        return;
    }
    let url = server.url();
    let proxy = Proxy::start(&host_port(&url)).await;
    let table = server.fresh_table();
    let store = server.store_at(&proxy.through(&url), &table).await;
    super::super::http::store_down_then_recovers(Arc::new(store), &proxy).await;
    server.drop_table(&table).await;
}

/// Once the proxy in front of the server is cut, a load and a new store
/// both fail as unavailable within seconds.
pub(crate) async fn a_dead_server_is_unavailable_within_seconds(
    server: Server,
    now: OffsetDateTime,
) {
    if !server.available().await {
        return;
    }
    let url = server.url();
    let proxy = Proxy::start(&host_port(&url)).await;
    let via_proxy = proxy.through(&url);
    let table = server.fresh_table();
    let store = server.store_at(&via_proxy, &table).await;
    let reopen = DbStore::open(&via_proxy);
    super::a_dead_server_is_unavailable_within_seconds(&store, &proxy, now, reopen).await;
    server.drop_table(&table).await;
}

/// Table names that are not plain identifiers (one trying to close the
/// server's quoting) are refused before any SQL, whether the store opens
/// its own pool or is given one; so is a URL that does not parse.
pub(crate) async fn bad_table_names_are_refused(server: Server) {
    if !server.available().await {
        return;
    }
    let url = server.url();
    let quote = server.quote("");
    let injection = format!("x{}; DROP TABLE y; --", &quote[..1]);
    for bad in [
        "",
        "1st",
        "a-b",
        &injection,
        "test.sessions",
        &"t".repeat(64),
    ] {
        let result = DbOptions::new().table(bad).open(&url).await;
        assert!(
            matches!(result, Err(StoreError::Config(_))),
            "{bad:?} was accepted"
        );
        let result = DbOptions::new()
            .table(bad)
            .from_pool(server.pool(1).await)
            .await;
        assert!(
            matches!(result, Err(StoreError::Config(_))),
            "{bad:?} was accepted"
        );
    }
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    let result = DbStore::open(&format!("{scheme}://[bad")).await;
    assert!(matches!(result, Err(StoreError::Config(_))), "{result:?}");
}

//! sessionkit on a real actix-web `HttpServer` (127.0.0.1:0, two workers,
//! each its own single-threaded tokio runtime), with stores opened on the
//! main runtime as an app's `main` would: the visit counter counts over real
//! HTTP, sequentially and under concurrent requests of one session spread
//! over both workers, on SQLite and on Redis.
#![cfg(all(feature = "actix", feature = "sqlite"))]

mod common;
#[path = "common/actix.rs"]
mod serve;

use std::sync::Arc;

use sessionkit::actix::SessionMiddleware;
use sessionkit::{SessionConfig, SessionStore, StoreConfig};

/// Concurrent requests of one session.
const CONCURRENT: usize = 24;

async fn open(vars: &[(&str, String)]) -> (Arc<dyn SessionStore>, SessionConfig) {
    let config = SessionConfig::new(common::SECRET).unwrap();
    let store_config = StoreConfig::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let store = sessionkit::store::open(&store_config, &config)
        .await
        .unwrap_or_else(|e| panic!("open {store_config:?}: {e}"));
    (store, config)
}

/// Two clients count 1..=5 each, then one session takes `CONCURRENT`
/// concurrent visits: every one counted, none twice.
async fn counts_visits(store: Arc<dyn SessionStore>, config: SessionConfig) {
    let (addr, server) = serve::serve(SessionMiddleware::from_arc(store, config), 2);

    let mut cookies = Vec::new();
    for _client in 0..2 {
        let first = serve::get(addr, "/visit/", None).await;
        assert_eq!((first.status, first.body.as_str()), (200, "Visit count:1"));
        assert_eq!(first.all("vary"), ["Cookie"]);
        let cookie = first
            .session_cookie()
            .expect("a new session sets its cookie");
        for n in 2..=5 {
            let reply = serve::get(addr, "/visit/", Some(&cookie)).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            assert_eq!(reply.body, format!("Visit count:{n}"));
        }
        cookies.push(cookie);
    }
    assert_ne!(cookies[0], cookies[1]);
    // A read saves nothing and sends no cookie.
    let read = serve::get(addr, "/read", Some(&cookies[0])).await;
    assert_eq!((read.status, read.body.as_str()), (200, "5"));
    assert!(read.all("set-cookie").is_empty(), "{read:?}");

    let cookie = &cookies[1];
    let mut visits = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT {
        let cookie = cookie.clone();
        visits.spawn(async move { serve::get(addr, "/visit/", Some(&cookie)).await });
    }
    while let Some(reply) = visits.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let read = serve::get(addr, "/read", Some(cookie)).await;
    assert_eq!(
        read.body,
        format!("{}", 5 + CONCURRENT),
        "a visit was lost or doubled"
    );

    server.stop(true).await;
}

#[actix_web::test]
async fn sqlite_counts_visits_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("actix.sqlite3").display());
    let (store, config) = open(&[("SESSION_ENGINE", "db".into()), ("SESSION_DB_URL", url)]).await;
    counts_visits(store, config).await;
}

#[cfg(feature = "redis")]
#[actix_web::test]
async fn redis_counts_visits_over_http() {
    let url = common::services::redis_url();
    if !common::services::available("redis", &url).await {
        return;
    }
    let (store, config) = open(&[
        ("SESSION_ENGINE", "cache".into()),
        ("SESSION_CACHE_URL", url),
        ("SESSION_CACHE_KEY_PREFIX", "sessionkit-actix-test:".into()),
    ])
    .await;
    counts_visits(store, config).await;
}

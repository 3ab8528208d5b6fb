//! The per-user session index through the real middleware, on every engine
//! and index backend this machine serves: login records, listing, revoking
//! (the next request finds no session), key cycling, logout, last-seen
//! throttling, the per-user maximum, and `django_session` rows untouched.
#![cfg(all(feature = "sqlite", feature = "memory", feature = "axum"))]

mod common;
#[path = "user_sessions/lifecycle.rs"]
mod lifecycle;
#[path = "user_sessions/rig.rs"]
mod rig;

use std::sync::Arc;

use sessionkit::store::cached_db::{CachedDbStore, MemoryCache};
use sessionkit::store::db::{DbOptions, DbPool, DbStore};
use sessionkit::store::memory::MemoryStore;
use sessionkit::user_sessions::{MemoryIndex, SessionIndex, SqlIndex};
use sessionkit::SessionStore;

use common::services::{available, unique};
use rig::{clock, Browser, Rig};

async fn sqlite(dir: &tempfile::TempDir) -> DbStore {
    let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
    DbStore::open(&url).await.expect("open SQLite")
}

#[tokio::test]
async fn memory_engine_with_a_memory_index() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let rig = Rig::new(store, Arc::new(MemoryIndex::new()), clock(), None);
    lifecycle::lifecycle(&rig, true).await;
    lifecycle::last_seen_is_throttled(&rig).await;
}

#[tokio::test]
async fn sqlite_engine_with_a_sql_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let index: Arc<dyn SessionIndex> = Arc::new(SqlIndex::for_store(&db).await.unwrap());
    let rig = Rig::new(Arc::new(db), index, clock(), None);
    lifecycle::lifecycle(&rig, true).await;
    lifecycle::last_seen_is_throttled(&rig).await;
}

#[tokio::test]
async fn cached_db_revocation_clears_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let index: Arc<dyn SessionIndex> = Arc::new(SqlIndex::for_store(&db).await.unwrap());
    // Entries served from the cache for an hour: a revocation that only
    // reached the database would leave the session alive.
    let store = CachedDbStore::new(Arc::new(MemoryCache::new()), Arc::new(db))
        .with_max_entry_age(std::time::Duration::from_secs(3600));
    let rig = Rig::new(Arc::new(store), index, clock(), None);
    lifecycle::lifecycle(&rig, true).await;
}

#[tokio::test]
async fn signed_cookies_with_a_memory_index() {
    let clock = clock();
    let store = common::app::stores::signed_cookies(&rig::config(&clock)).await;
    let rig = Rig::new(store, Arc::new(MemoryIndex::new()), clock, None);
    lifecycle::lifecycle(&rig, false).await;
    lifecycle::last_seen_is_throttled(&rig).await;
}

#[tokio::test]
async fn signed_cookies_with_a_sql_index() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("index.sqlite3").display());
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    let index: Arc<dyn SessionIndex> = Arc::new(SqlIndex::new(pool).await.unwrap());
    let clock = clock();
    let store = common::app::stores::signed_cookies(&rig::config(&clock)).await;
    let rig = Rig::new(store, index, clock, None);
    lifecycle::lifecycle(&rig, false).await;
}

#[tokio::test]
async fn at_most_n_sessions_per_user() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let rig = Rig::new(store, Arc::new(MemoryIndex::new()), clock(), Some(2));
    lifecycle::max_sessions(&rig).await;
}

#[tokio::test]
async fn at_most_n_signed_cookie_sessions_per_user() {
    let clock = clock();
    let store = common::app::stores::signed_cookies(&rig::config(&clock)).await;
    let rig = Rig::new(store, Arc::new(MemoryIndex::new()), clock, Some(2));
    lifecycle::max_sessions(&rig).await;
}

#[tokio::test]
async fn expired_entries_are_not_listed_and_are_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let index: Arc<dyn SessionIndex> = Arc::new(SqlIndex::for_store(&db).await.unwrap());
    let rig = Rig::new(Arc::new(db), index, clock(), None);
    let mut b = Browser::new("Firefox");
    rig.get(&mut b, "/login?7").await;
    assert_eq!(rig.list("7").await.len(), 1);
    // Past the session's expiry and the index's grace of 5 minutes.
    rig.clock
        .advance(time::Duration::seconds(rig.config.cookie_age) + time::Duration::minutes(6));
    assert_eq!(rig.list("7").await, vec![]);
    assert_eq!(rig.sessions.clear_expired().await.unwrap(), 1);
    assert_eq!(rig.sessions.clear_expired().await.unwrap(), 0);
}

/// The `django_session` row of a login is the same with and without the
/// index: the same table definition, the same decoded dict in the same
/// order; the index lives in a table of its own.
#[tokio::test]
async fn django_session_rows_are_untouched() {
    let mut dicts = Vec::new();
    let mut schemas = Vec::new();
    for with_index in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(&dir).await;
        let clock = clock();
        let config = rig::config(&clock);
        let store: Arc<dyn SessionStore> = Arc::new(db.clone());
        let app = if with_index {
            let index = SqlIndex::for_store(&db).await.unwrap();
            let sessions = sessionkit::user_sessions::UserSessions::new(store.clone(), index);
            rig::views(config.clone(), Some(sessions.clone())).layer(
                sessionkit::SessionLayer::from_arc(store.clone(), config.clone())
                    .with_user_sessions(sessions),
            )
        } else {
            rig::views(config.clone(), None).layer(sessionkit::SessionLayer::from_arc(
                store.clone(),
                config.clone(),
            ))
        };
        let mut b = Browser::new("Firefox");
        rig::send(&app, &mut b, "/login?7").await;
        rig::send(&app, &mut b, "/whoami").await;
        let key = b.cookie.clone().unwrap();
        let loaded = store
            .load(&key, config.now())
            .await
            .unwrap()
            .expect("stored");
        let json = serde_json::to_string(&loaded.record.data).unwrap();
        dicts.push(json);
        let sessionkit::store::db::DbPool::Sqlite(pool) = db.pool() else {
            unreachable!("a SQLite store")
        };
        let schema: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'django_session' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let index_tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sessionkit_user_session'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(index_tables, i64::from(with_index));
        schemas.push(schema);
    }
    assert_eq!(dicts[0], dicts[1]);
    assert!(!dicts[1].contains("sessionkit"), "{}", dicts[1]);
    assert_eq!(schemas[0], schemas[1]);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_engine_with_a_sql_index() {
    let url = common::services::postgres_url();
    if !available("PostgreSQL", &url).await {
        return;
    }
    let (sessions_table, index_table) = (unique("uidx_sessions"), unique("uidx_index"));
    let db = DbOptions::new()
        .table(sessions_table.clone())
        .open(&url)
        .await
        .unwrap();
    let sessionkit::store::db::DbPool::Postgres(pool) = db.pool().clone() else {
        unreachable!("a PostgreSQL store")
    };
    let index = SqlIndex::with_table(pool.clone(), &index_table)
        .await
        .unwrap();
    // Created idempotently.
    SqlIndex::with_table(pool.clone(), &index_table)
        .await
        .unwrap();
    let rig = Rig::new(Arc::new(db), Arc::new(index), clock(), Some(3));
    lifecycle::lifecycle(&rig, true).await;
    lifecycle::last_seen_is_throttled(&rig).await;
    for t in [&sessions_table, &index_table] {
        common::db::postgres::drop_table(&pool, t).await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_engine_with_a_sql_index() {
    let url = common::services::mysql_url();
    if !available("MariaDB", &url).await {
        return;
    }
    let (sessions_table, index_table) = (unique("uidx_sessions"), unique("uidx_index"));
    let db = DbOptions::new()
        .table(sessions_table.clone())
        .open(&url)
        .await
        .unwrap();
    let sessionkit::store::db::DbPool::MySql(pool) = db.pool().clone() else {
        unreachable!("a MySQL store")
    };
    let index = SqlIndex::with_table(pool.clone(), &index_table)
        .await
        .unwrap();
    // Created idempotently.
    SqlIndex::with_table(pool.clone(), &index_table)
        .await
        .unwrap();
    let rig = Rig::new(Arc::new(db), Arc::new(index), clock(), Some(3));
    lifecycle::lifecycle(&rig, true).await;
    lifecycle::last_seen_is_throttled(&rig).await;
    for t in [&sessions_table, &index_table] {
        common::db::mysql::drop_table(&pool, t).await;
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_engine_with_a_redis_index() {
    use sessionkit::user_sessions::RedisIndex;
    let url = common::services::redis_url();
    if !available("Redis", &url).await {
        return;
    }
    let prefix = format!("{}:", unique("uidx"));
    let store = common::redis::for_layer(&url, &prefix).await;
    let index = RedisIndex::for_store(&store, prefix.clone());
    let rig = Rig::new(Arc::new(store), Arc::new(index), clock(), None);
    lifecycle::lifecycle(&rig, true).await;
    lifecycle::last_seen_is_throttled(&rig).await;
    // Every key of the index expires with its sessions.
    let mut b = Browser::new("Firefox");
    rig.get(&mut b, "/login?7").await;
    let keys = common::redis::keys_under(&format!("{prefix}sessionkit.user:")).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for k in &keys {
        let ttl = common::redis::send(common::redis::Mode::Node, redis::cmd("PTTL").arg(k)).await;
        assert!(
            matches!(ttl, redis::Value::Int(ms) if ms > 0),
            "{k}: {ttl:?}"
        );
    }
    common::redis::purge(&prefix).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_cluster_index() {
    use sessionkit::user_sessions::RedisIndex;
    let url = common::services::redis_cluster_url();
    if !available("Redis Cluster", &url).await {
        return;
    }
    let prefix = format!("{}:", unique("uidx"));
    let store = common::redis::for_layer(&url, &prefix).await;
    let index = RedisIndex::for_store(&store, prefix.clone());
    let rig = Rig::new(Arc::new(store), Arc::new(index), clock(), None);
    lifecycle::lifecycle(&rig, true).await;
    common::redis::purge_on(common::redis::Mode::Cluster, &prefix).await;
}

/// The actix-web middleware records logins too, with the connection's peer
/// address when no proxy header is configured; a revoked session finds
/// nothing there either.
#[cfg(feature = "actix")]
#[actix_web::test]
async fn actix_records_the_peer_and_revokes() {
    use actix_web::{test, web, App};
    use sessionkit::actix::SessionMiddleware;
    use sessionkit::{auth, Session};

    let config = rig::config(&clock());
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let sessions = sessionkit::user_sessions::UserSessions::new(store.clone(), MemoryIndex::new());
    let login_config = config.clone();
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::from_arc(store, config).with_user_sessions(sessions.clone()))
            .route(
                "/login",
                web::get().to(move |s: Session| {
                    auth::login(&s, &login_config, "7", auth::MODEL_BACKEND, "pw");
                    std::future::ready("ok")
                }),
            )
            .route(
                "/whoami",
                web::get().to(|s: Session| async move {
                    auth::auth_user(&s).map_or("anonymous".to_owned(), |u| u.id)
                }),
            ),
    )
    .await;
    let peer: std::net::SocketAddr = "192.0.2.7:50000".parse().unwrap();
    let req = test::TestRequest::get()
        .uri("/login")
        .peer_addr(peer)
        .insert_header(("user-agent", "Actix Browser"))
        // Not trusted: no proxy header is configured.
        .insert_header(("x-forwarded-for", "203.0.113.66"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert!(res.status().is_success());
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    let cookie = set_cookie
        .split(';')
        .next()
        .and_then(|p| p.strip_prefix("sessionid="))
        .expect("the session cookie")
        .to_owned();
    let listed = sessions.list("7").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(listed[0].user_agent.as_deref(), Some("Actix Browser"));

    let whoami = || {
        test::TestRequest::get()
            .uri("/whoami")
            .insert_header(("cookie", format!("sessionid={cookie}")))
            .to_request()
    };
    let body = test::call_and_read_body(&app, whoami()).await;
    assert_eq!(body, "7");
    assert!(sessions.revoke("7", &listed[0].id).await.unwrap());
    let body = test::call_and_read_body(&app, whoami()).await;
    assert_eq!(body, "anonymous");
}

/// A signed-cookie session cannot be trusted without its index check: with
/// the index down, its request answers 503 (no silent logout, no pass).
#[tokio::test]
async fn signed_cookies_with_the_index_down_are_unavailable() {
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("index.sqlite3").display());
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    let index: Arc<dyn SessionIndex> = Arc::new(SqlIndex::new(pool.clone()).await.unwrap());
    let clock = clock();
    let store = common::app::stores::signed_cookies(&rig::config(&clock)).await;
    let rig = Rig::new(store, index, clock, None);
    let mut b = Browser::new("Firefox");
    rig.get(&mut b, "/login?7").await;
    assert_eq!(rig.get(&mut b, "/whoami").await, "7");
    pool.close().await;
    let req = axum::http::Request::get("/whoami")
        .header("cookie", format!("sessionid={}", b.cookie.clone().unwrap()))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = rig.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "the cookie is left alone"
    );
}

/// The index's sweeper removes entries gone by the layer's clock.
#[tokio::test]
async fn the_sweeper_clears_expired_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let index = SqlIndex::for_store(&db).await.unwrap();
    let DbPool::Sqlite(pool) = db.pool().clone() else {
        unreachable!("a SQLite store")
    };
    let rig = Rig::new(Arc::new(db), Arc::new(index), clock(), None);
    let mut b = Browser::new("Firefox");
    rig.get(&mut b, "/login?7").await;
    let rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sessionkit_user_session")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(rows().await, 1);
    let sweeper = rig
        .sessions
        .spawn_sweeper(std::time::Duration::from_secs(1));
    rig.clock
        .advance(time::Duration::seconds(rig.config.cookie_age) + time::Duration::minutes(6));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rows().await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sweeper.stop().await;
}

/// `auth::get_user` across a secret rotation cycles the key of a session
/// whose hash was made with a fallback: its entry moves to the new key.
#[tokio::test]
async fn a_fallback_hash_cycle_moves_the_entry() {
    const OLD: &str = "old-secret-key-b6f0c7a1e2d94f3a8c5b7e9d1f2a3c4b5d6e7f8091a2b3c4d5e6";
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let index: Arc<dyn SessionIndex> = Arc::new(MemoryIndex::new());
    let clock = clock();
    let old = sessionkit::SessionConfig::new(OLD)
        .unwrap()
        .with_clock(clock.clone());
    let before = Rig::with_config(store.clone(), index.clone(), clock.clone(), None, old);
    let mut b = Browser::new("Firefox");
    before.get(&mut b, "/login?7").await;
    let entry = before.entry_of("7", &b).await;

    let rotated = rig::config(&clock).with_fallbacks([OLD]);
    let after = Rig::with_config(store, index, clock, None, rotated);
    let old_cookie = b.clone();
    assert_eq!(after.get(&mut b, "/verify").await, "7");
    assert_ne!(b.cookie, old_cookie.cookie, "the key was cycled");
    let listed = after.list("7").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_ne!(listed[0].id, entry.id);
    assert_eq!(listed[0].created, entry.created);
    assert_eq!(listed[0].user_agent.as_deref(), Some("Firefox"));
    assert_eq!(
        after.get(&mut b, "/list").await,
        format!("{} true\n", listed[0].id)
    );
    let mut old_cookie = old_cookie;
    assert_eq!(after.get(&mut old_cookie, "/verify").await, "anonymous");
}

//! Behaviour every server engine must show over HTTP, written once: exact
//! concurrent increments, concurrent writers of different keys, and a store
//! that goes down and comes back. Each engine's test file calls these with its
//! own stores; each suite runs on every adapter (axum, actix-web).

use std::sync::Arc;

use axum::http::StatusCode;
use sessionkit::{SessionConfig, SessionStore};
use tokio::sync::Barrier;

use super::app::{Adapter, App, Reply, View};
use super::proxy::Proxy;

/// Concurrent requests of one session in the increment tests.
pub(crate) const N: usize = 50;

/// The test app on the first adapter: `/inc`, `/set?<key>`, `/read`, with a
/// barrier of `parties`.
pub(crate) fn app(store: Arc<dyn SessionStore>, parties: usize) -> App {
    app_on(Adapter::ALL[0], store, parties)
}

/// [`app`] on `adapter`.
pub(crate) fn app_on(adapter: Adapter, store: Arc<dyn SessionStore>, parties: usize) -> App {
    app_with_on(
        adapter,
        store,
        Arc::new(Barrier::new(parties)),
        super::app::config(),
    )
}

/// The test app on the first adapter with its barrier and config.
pub(crate) fn app_with(
    store: Arc<dyn SessionStore>,
    barrier: Arc<Barrier>,
    config: SessionConfig,
) -> App {
    app_with_on(Adapter::ALL[0], store, barrier, config)
}

/// [`app_with`] on `adapter`.
pub(crate) fn app_with_on(
    adapter: Adapter,
    store: Arc<dyn SessionStore>,
    barrier: Arc<Barrier>,
    config: SessionConfig,
) -> App {
    let inc = {
        let barrier = barrier.clone();
        View::new(move |session| {
            let barrier = barrier.clone();
            async move {
                // Every request has loaded the same version before any saves.
                barrier.wait().await;
                Ok(Reply::text(session.increment("visit", 1)?))
            }
        })
    };
    let set = View::with_query(move |session, query| {
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            session.insert(query.unwrap_or_else(|| "none".to_owned()), &true)?;
            Ok(Reply::text("ok"))
        }
    });
    let read = View::sync(|session| {
        Ok(Reply::text(
            serde_json::to_string(&session.to_map()).unwrap(),
        ))
    });
    App::serve(
        adapter,
        store,
        config,
        vec![("/inc", inc), ("/set", set), ("/read", read)],
    )
}

/// GET `uri` with `sessionid=<cookie>`: (status, new cookie value, body).
pub(crate) async fn get_with(
    app: &App,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let answer = app.get_key(uri, cookie).await;
    (answer.status, answer.key(), answer.body)
}

async fn read_map(app: &App, key: &str) -> serde_json::Value {
    let (status, _, body) = get_with(app, "/read", Some(key)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `N` concurrent increments of one session end at exactly 1 + the number of
/// 2xx answers (all of them, unless retries ran out). `stores` are handles to
/// one backend that share nothing in-process (like separate processes); pass
/// the same store twice for the one-process case.
pub(crate) async fn concurrent_increments(stores: [Arc<dyn SessionStore>; 2]) {
    for &adapter in Adapter::ALL {
        concurrent_increments_on(adapter, stores.clone()).await;
    }
}

/// [`concurrent_increments`] on one adapter.
pub(crate) async fn concurrent_increments_on(adapter: Adapter, stores: [Arc<dyn SessionStore>; 2]) {
    let one = app_on(adapter, stores[0].clone(), 1);
    let (status, cookie, body) = get_with(&one, "/inc", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let key = cookie.expect("a new session cookie");

    let barrier = Arc::new(Barrier::new(N));
    let config = SessionConfig::new(super::SECRET).unwrap();
    let racing = [
        app_with_on(adapter, stores[0].clone(), barrier.clone(), config.clone()),
        app_with_on(adapter, stores[1].clone(), barrier, config),
    ];
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let (app, key) = (racing[i % 2].clone(), key.clone());
            tokio::spawn(async move { get_with(&app, "/inc", Some(&key)).await.0 })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        if status.is_success() {
            ok += 1;
        } else {
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{adapter:?}: only retries running out may fail"
            );
        }
    }
    let map = read_map(&one, &key).await;
    assert_eq!(
        map["visit"].as_i64().unwrap(),
        1 + ok as i64,
        "{adapter:?}: final count = successful increments"
    );
    assert!(
        ok * 10 >= N * 9,
        "{adapter:?}: at most a tenth may run out of retries, {ok} of {N} succeeded"
    );
}

/// Two requests that loaded the same version and set different keys both keep
/// their key.
pub(crate) async fn different_keys_survive(stores: [Arc<dyn SessionStore>; 2]) {
    for &adapter in Adapter::ALL {
        different_keys_survive_on(adapter, stores.clone()).await;
    }
}

/// [`different_keys_survive`] on one adapter.
pub(crate) async fn different_keys_survive_on(
    adapter: Adapter,
    stores: [Arc<dyn SessionStore>; 2],
) {
    let one = app_on(adapter, stores[0].clone(), 1);
    let (_, cookie, _) = get_with(&one, "/inc", None).await;
    let key = cookie.unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let config = SessionConfig::new(super::SECRET).unwrap();
    let (a, b) = (
        app_with_on(adapter, stores[0].clone(), barrier.clone(), config.clone()),
        app_with_on(adapter, stores[1].clone(), barrier, config),
    );
    let ta = tokio::spawn({
        let key = key.clone();
        async move { get_with(&a, "/set?a", Some(&key)).await.0 }
    });
    let tb = tokio::spawn({
        let key = key.clone();
        async move { get_with(&b, "/set?b", Some(&key)).await.0 }
    });
    assert_eq!(ta.await.unwrap(), 200);
    assert_eq!(tb.await.unwrap(), 200);
    let map = read_map(&one, &key).await;
    assert_eq!(
        map,
        serde_json::json!({"visit": 1, "a": true, "b": true}),
        "{adapter:?}: both writers' keys survive"
    );
}

/// `store` reaches its server through `proxy`. Cutting the proxy gives the
/// configured error status (503), no Set-Cookie, no new session and no
/// half-written record; restoring it, requests succeed again without a restart.
pub(crate) async fn store_down_then_recovers(store: Arc<dyn SessionStore>, proxy: &Proxy) {
    for &adapter in Adapter::ALL {
        store_down_then_recovers_on(adapter, store.clone(), proxy).await;
    }
}

/// [`store_down_then_recovers`] on one adapter.
pub(crate) async fn store_down_then_recovers_on(
    adapter: Adapter,
    store: Arc<dyn SessionStore>,
    proxy: &Proxy,
) {
    let app = app_on(adapter, store, 1);
    let (_, cookie, body) = get_with(&app, "/inc", None).await;
    assert_eq!(body, "1");
    let key = cookie.unwrap();
    assert_eq!(get_with(&app, "/inc", Some(&key)).await.2, "2");

    proxy.cut();
    for uri in ["/inc", "/read"] {
        let (status, cookie, _) = get_with(&app, uri, Some(&key)).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{adapter:?}: {uri} while the store is down"
        );
        assert!(cookie.is_none(), "no Set-Cookie while the store is down");
    }
    let (status, cookie, _) = get_with(&app, "/inc", None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a new session cannot be saved either"
    );
    assert!(cookie.is_none());

    proxy.restore();
    let mut last = None;
    for _ in 0..50 {
        // Pools notice a dead connection on first use; give them a few tries.
        let answer = get_with(&app, "/inc", Some(&key)).await;
        if answer.0.is_success() {
            last = Some(answer);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, cookie, body) = last.expect("the app recovers by itself when the store returns");
    assert_eq!(body, "3", "the stored session was intact");
    assert!(cookie.is_some());
}

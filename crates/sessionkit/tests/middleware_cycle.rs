//! `cycle_key` (login) racing another request of the same session (L7): a
//! save that landed on the old key after this request copied it survives
//! into the new key, and a failed create never costs the old session.
#![cfg(all(
    feature = "memory",
    feature = "sqlite",
    any(feature = "axum", feature = "actix")
))]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::app::{adapter_tests, config, stores, Adapter, App, Reply, View};
use common::faulty::{Fault, Faulty, Op};
use common::http::get_with;
use common::interleave::{Before, Interleave};
use serde_json::{json, Value};
use sessionkit::store::memory::MemoryStore;
use sessionkit::SessionStore;

fn app(adapter: Adapter, store: Arc<dyn SessionStore>) -> App {
    let put = View::sync(|s| {
        s.insert("anonymous_cart", "1 book")?;
        Ok(Reply::text("ok"))
    });
    // Django's `login`: cycle the key, then write the user.
    let login = View::sync(|s| {
        s.cycle_key();
        s.insert("_auth_user_id", "42")?;
        Ok(Reply::text("logged in"))
    });
    // A login that fails after cycling: nothing is saved (a 5xx).
    let broken_login = View::sync(|s| {
        s.cycle_key();
        Ok(Reply::text("").status(500))
    });
    let read = View::sync(|s| Ok(Reply::text(serde_json::to_string(&s.to_map()).unwrap())));
    let routes = vec![
        ("/put", put),
        ("/login", login),
        ("/broken-login", broken_login),
        ("/read", read),
    ];
    App::serve(adapter, store, config(), routes)
}

async fn read_map(app: &App, key: &str) -> Value {
    let (status, _, body) = get_with(app, "/read", Some(key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Another request's save lands on the old key between this request's copy
/// of it and its delete.
async fn concurrent_save_survives_login(adapter: Adapter, engine: Arc<dyn SessionStore>) {
    let store = Interleave::new(engine);
    let app = app(adapter, store.clone());
    let (_, old, _) = get_with(&app, "/put", None).await;
    let old = old.expect("a session");

    store.once(Before::Delete, &old, "theme", json!("dark"));
    let (status, new, body) = get_with(&app, "/login", Some(&old)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = new.expect("a new key");
    assert_ne!(new, old);

    assert_eq!(
        read_map(&app, &new).await,
        json!({"anonymous_cart": "1 book", "theme": "dark", "_auth_user_id": "42"}),
        "the save that answered 2xx on the old key was lost"
    );
    assert_eq!(
        read_map(&app, &old).await,
        json!({}),
        "the old key still loads"
    );
}

async fn concurrent_save_to_the_old_key_survives_cycle_key_memory(adapter: Adapter) {
    concurrent_save_survives_login(adapter, Arc::new(MemoryStore::new())).await;
}

async fn concurrent_save_to_the_old_key_survives_cycle_key_sqlite(adapter: Adapter) {
    let dir = tempfile::tempdir().unwrap();
    let engine = stores::sqlite(&dir.path().join("sessions.sqlite3"), &config()).await;
    concurrent_save_survives_login(adapter, engine).await;
}

async fn failed_create_keeps_the_old_session(adapter: Adapter) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(adapter, store.clone());
    let (_, old, _) = get_with(&app, "/put", None).await;
    let old = old.expect("a session");

    store.set_fault(Op::Create, Some(Fault::Fail));
    let (status, cookie, _) = get_with(&app, "/login", Some(&old)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cookie, None);
    store.set_fault(Op::Create, None);

    assert_eq!(
        read_map(&app, &old).await,
        json!({"anonymous_cart": "1 book"})
    );
}

/// On a 5xx nothing is saved and the cycled-away key is deleted, as Django's
/// `cycle_key` has deleted it by then; but with compare-and-set, so a save
/// another request made to it meanwhile is not thrown away.
async fn cycle_key_on_a_5xx_deletes_the_old_key_unless_saved_meanwhile(adapter: Adapter) {
    let store = Interleave::new(Arc::new(MemoryStore::new()));
    let app = app(adapter, store.clone());
    let (_, old, _) = get_with(&app, "/put", None).await;
    let old = old.expect("a session");
    store.once(Before::Delete, &old, "theme", json!("dark"));
    let (status, cookie, _) = get_with(&app, "/broken-login", Some(&old)).await;
    assert_eq!((status, cookie), (StatusCode::INTERNAL_SERVER_ERROR, None));
    assert_eq!(
        read_map(&app, &old).await,
        json!({"anonymous_cart": "1 book", "theme": "dark"}),
        "a concurrent 2xx save was deleted"
    );

    let (status, _, _) = get_with(&app, "/broken-login", Some(&old)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        read_map(&app, &old).await,
        json!({}),
        "the old key survived"
    );
}

adapter_tests! {
    #[tokio::test] concurrent_save_to_the_old_key_survives_cycle_key_memory;
    #[tokio::test] concurrent_save_to_the_old_key_survives_cycle_key_sqlite;
    #[tokio::test] failed_create_keeps_the_old_session;
    #[tokio::test] cycle_key_on_a_5xx_deletes_the_old_key_unless_saved_meanwhile;
}

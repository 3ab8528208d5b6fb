//! A logout whose delete fails must not look like a logout (M5): the answer
//! is an error the user can retry, the cookie is kept, and the retry works.
#![cfg(all(feature = "memory", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::app::{adapter_tests, config, Adapter, App, Reply, View};
use common::faulty::{Fault, Faulty, Op};
use common::http::get_with;
use sessionkit::auth;
use sessionkit::store::memory::MemoryStore;

fn app(adapter: Adapter, store: Arc<Faulty>) -> App {
    let login = View::sync(|s| {
        s.insert("_auth_user_id", "42")?;
        Ok(Reply::text("in"))
    });
    let logout = View::sync(|s| {
        auth::logout(s);
        Ok(Reply::text("out"))
    });
    let cycle = View::sync(|s| {
        s.cycle_key();
        Ok(Reply::text("cycled"))
    });
    let whoami = View::sync(|s| {
        let who = s.get::<String>("_auth_user_id")?;
        Ok(Reply::text(who.unwrap_or_else(|| "anonymous".to_owned())))
    });
    let routes = vec![
        ("/login", login),
        ("/logout", logout),
        ("/whoami", whoami),
        ("/cycle", cycle),
    ];
    App::serve(adapter, store, config(), routes)
}

async fn failed_logout_is_an_error_keeps_the_cookie_and_can_be_retried(adapter: Adapter) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(adapter, store.clone());
    let (_, key, _) = get_with(&app, "/login", None).await;
    let key = key.expect("a session");

    store.set_fault(Op::Delete, Some(Fault::Fail));
    let (status, cookie, _) = get_with(&app, "/logout", Some(&key)).await;
    assert!(
        !status.is_success(),
        "a logout that deleted nothing answered {status}"
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        cookie, None,
        "the cookie must not be deleted: the session lives on"
    );
    // The session really does live on: the error told the truth.
    store.set_fault(Op::Delete, None);
    let (_, _, who) = get_with(&app, "/whoami", Some(&key)).await;
    assert_eq!(who, "42");

    // With the store back, the retry logs out for real.
    let (status, cookie, _) = get_with(&app, "/logout", Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cookie.as_deref(), Some("\"\""), "the cookie is deleted");
    let (_, _, who) = get_with(&app, "/whoami", Some(&key)).await;
    assert_eq!(who, "anonymous");
}

async fn a_login_whose_old_key_cannot_be_retired_fails_and_keeps_the_old_session(adapter: Adapter) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(adapter, store.clone());
    let (_, key, _) = get_with(&app, "/login", None).await;
    let key = key.expect("a session");
    store.set_fault(Op::Delete, Some(Fault::Fail));
    // An old key left alive could take a concurrent request's save that the
    // new key never sees: the cycle fails instead, and the client keeps the
    // old cookie, which holds everything.
    let (status, cookie, _) = get_with(&app, "/cycle", Some(&key)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cookie, None, "no new key is sent when the old one lives on");
    store.set_fault(Op::Delete, None);
    let (_, _, who) = get_with(&app, "/whoami", Some(&key)).await;
    assert_eq!(who, "42");

    // With the store back, the retry moves the session to a new key.
    let (status, new_key, _) = get_with(&app, "/cycle", Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    let new_key = new_key.expect("a new key");
    assert_ne!(new_key, key);
    let (_, _, who) = get_with(&app, "/whoami", Some(&new_key)).await;
    assert_eq!(who, "42");
    let (_, _, who) = get_with(&app, "/whoami", Some(&key)).await;
    assert_eq!(who, "anonymous", "the old key is gone");
}

adapter_tests! {
    #[tokio::test] failed_logout_is_an_error_keeps_the_cookie_and_can_be_retried;
    #[tokio::test] a_login_whose_old_key_cannot_be_retired_fails_and_keeps_the_old_session;
}

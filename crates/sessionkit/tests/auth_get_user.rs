//! Django's login verification (`auth.get_user`) over HTTP, across a secret
//! rotation: a session whose auth hash was made with a key that is now only a
//! fallback stays logged in, gets a new key (the old one is deleted) and has
//! its hash re-made with the current secret, as Django 5.1+ does; a hash no
//! key makes (the password changed) ends the session.
#![cfg(all(feature = "sqlite", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;

use common::app::{adapter_tests, stores, Adapter, App, Reply, View};
use sessionkit::auth::{self, session_auth_hash, HASH_SESSION_KEY};
use sessionkit::signing::SecretKey;
use sessionkit::{Session, SessionConfig, SessionStore};
use time::OffsetDateTime;

const OLD: &str = "old-secret-key-b6f0c7a1e2d94f3a8c5b7e9d1f2a3c4b5d6e7f8091a2b3c4d5e6";
const NEW: &str = "new-secret-key-41c9e8d7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5";
const BACKEND: &str = "django.contrib.auth.backends.ModelBackend";
const PASSWORD: &str = "pbkdf2_sha256$1000000$salt$c2Vzc2lvbmtpdA==";

/// `/login` logs user 42 in; `/whoami` answers who `get_user` says is logged
/// in, given the user's current password hash.
fn app(
    adapter: Adapter,
    store: Arc<dyn SessionStore>,
    config: SessionConfig,
    password: &str,
) -> App {
    let serve_config = config.clone();
    let login_config = config.clone();
    let login = View::sync(move |s: &Session| {
        auth::login(s, &login_config, "42", BACKEND, PASSWORD);
        Ok(Reply::text("in"))
    });
    let password = password.to_owned();
    let whoami = View::sync(move |s: &Session| {
        let user = auth::get_user(s, &config, &[BACKEND], |id| {
            (id == "42").then(|| password.clone())
        });
        Ok(Reply::text(user.unwrap_or_else(|| "anonymous".into())))
    });
    App::serve(
        adapter,
        store,
        serve_config,
        vec![("/login", login), ("/whoami", whoami)],
    )
}

fn old_config() -> SessionConfig {
    SessionConfig::new(OLD).expect("a valid config")
}

fn rotated_config() -> SessionConfig {
    SessionConfig::new(NEW)
        .expect("a valid config")
        .with_fallbacks([OLD])
}

/// An app on one SQLite file with `config` (signing the rows it writes).
async fn rig(
    adapter: Adapter,
    path: &std::path::Path,
    config: SessionConfig,
    password: &str,
) -> (App, Arc<dyn SessionStore>) {
    let store = stores::sqlite(path, &config).await;
    (app(adapter, store.clone(), config, password), store)
}

async fn stored_hash(store: &dyn SessionStore, key: &str) -> Option<String> {
    let loaded = store
        .load(key, OffsetDateTime::now_utc())
        .await
        .expect("the store answers")?;
    loaded
        .record
        .data
        .get(HASH_SESSION_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// Logged in under the old secret, verified after the rotation: still user
/// 42, on a new key, with the hash re-made by the current secret; the next
/// request finds nothing left to cycle.
async fn fallback_hash_cycles_the_key(adapter: Adapter) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("sessions.sqlite3");
    let (before, old_store) = rig(adapter, &db, old_config(), PASSWORD).await;
    let key = before
        .get("/login", None)
        .await
        .key()
        .expect("login sets the cookie");
    let old_hash = session_auth_hash(PASSWORD, &SecretKey::new(OLD));
    assert_eq!(stored_hash(&*old_store, &key).await, Some(old_hash));

    let (after, store) = rig(adapter, &db, rotated_config(), PASSWORD).await;
    let first = after.get_key("/whoami", Some(&key)).await;
    assert_eq!(
        first.body, "42",
        "a fallback-key hash still logs the user in"
    );
    let cycled = first.key().expect("the key is cycled, so a cookie is sent");
    assert_ne!(cycled, key, "a new session key");
    assert_eq!(
        stored_hash(&*store, &cycled).await,
        Some(session_auth_hash(PASSWORD, &SecretKey::new(NEW))),
        "the hash is re-made with the current secret"
    );
    assert_eq!(
        stored_hash(&*store, &key).await,
        None,
        "the old key is gone"
    );

    let second = after.get_key("/whoami", Some(&cycled)).await;
    assert_eq!(second.body, "42");
    assert!(
        second.set_cookie().is_empty(),
        "nothing left to cycle or save"
    );
}

/// A hash that no key makes from the user's password (it changed since the
/// login) logs the user out: the session is deleted and its cookie removed.
async fn changed_password_ends_the_session(adapter: Adapter) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("sessions.sqlite3");
    let (before, _) = rig(adapter, &db, old_config(), PASSWORD).await;
    let key = before
        .get("/login", None)
        .await
        .key()
        .expect("login sets the cookie");

    let changed = "pbkdf2_sha256$1000000$salt$Y2hhbmdlZA==";
    let (after, store) = rig(adapter, &db, rotated_config(), changed).await;
    let answer = after.get_key("/whoami", Some(&key)).await;
    assert_eq!(answer.body, "anonymous");
    let cookie = answer.set_cookie().remove(0);
    assert!(
        cookie.contains("Max-Age=0"),
        "the cookie is removed: {cookie}"
    );
    assert!(store
        .load(&key, OffsetDateTime::now_utc())
        .await
        .expect("the store answers")
        .is_none());
}

/// Once the old secret is dropped from the fallbacks, its hashes (and its
/// signed rows) no longer count: the user is anonymous.
async fn dropped_fallback_is_anonymous(adapter: Adapter) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("sessions.sqlite3");
    let (before, _) = rig(adapter, &db, old_config(), PASSWORD).await;
    let key = before
        .get("/login", None)
        .await
        .key()
        .expect("login sets the cookie");

    let without_old = SessionConfig::new(NEW).expect("a valid config");
    let (after, _) = rig(adapter, &db, without_old, PASSWORD).await;
    assert_eq!(after.get_key("/whoami", Some(&key)).await.body, "anonymous");
}

adapter_tests! {
    #[tokio::test]
    fallback_hash_cycles_the_key;
    #[tokio::test]
    changed_password_ends_the_session;
    #[tokio::test]
    dropped_fallback_is_anonymous;
}

//! Where a db store's signing keys come from: the session layer it serves
//! (so the secret is given once, to the layer), or `with_codec` for a store
//! used on its own; a store with neither says how to fix it, and never
//! panics. Also what `DbStore::open` does with a URL it cannot serve.
#![cfg(all(feature = "sqlite", feature = "axum"))]

mod common;

use std::sync::Arc;

use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::signing::Codec;
use sessionkit::store::db::{DbPool, DbStore};
use sessionkit::store::{Record, SessionStore};
use sessionkit::SessionConfig;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use common::http::get_with;
use common::{codec, data};

/// A store on a new SQLite file in `dir`, without keys.
async fn keyless_store(dir: &TempDir) -> DbStore {
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    DbStore::open(&url).await.expect("open SQLite")
}

/// The `session_data` stored for `key`, as text.
async fn stored_data(store: &DbStore, key: &str) -> String {
    let DbPool::Sqlite(pool) = store.pool() else {
        panic!("{store:?} is not on SQLite");
    };
    let (stored,): (String,) =
        sqlx::query_as("SELECT session_data FROM django_session WHERE session_key = ?1")
            .bind(key)
            .fetch_one(pool)
            .await
            .expect("read the row");
    stored
}

/// Whether `codec` verifies `stored`.
fn verifies(codec: &Codec, stored: &str) -> bool {
    codec
        .decode(stored, None, OffsetDateTime::now_utc())
        .is_ok()
}

/// A codec with a secret other than the tests' own.
fn other_codec() -> Codec {
    SessionConfig::new("another-secret-for-the-key-tests-0123456789-abcdefghijklmnop")
        .expect("a valid config")
        .codec()
}

#[tokio::test]
async fn a_store_given_to_a_layer_signs_with_the_layers_secret() {
    let dir = TempDir::new().expect("temp dir");
    let store = keyless_store(&dir).await;
    // `app` builds its layer with `SessionConfig::new(common::SECRET)`.
    let app = common::http::app(Arc::new(store.clone()), 1);
    let (status, cookie, body) = get_with(&app, "/inc", None).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "1"));
    let key = cookie.expect("a new session sets the cookie");

    let stored = stored_data(&store, &key).await;
    assert!(
        verifies(&codec(), &stored),
        "signed with the layer's secret"
    );
    let (status, _, body) = get_with(&app, "/inc", Some(&key)).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "2"));
}

#[tokio::test]
async fn keys_given_with_with_codec_stay_when_a_layer_attaches() {
    let dir = TempDir::new().expect("temp dir");
    let store = keyless_store(&dir).await.with_codec(other_codec());
    store.attach(&SessionConfig::new(common::SECRET).expect("a valid config"));
    let now = OffsetDateTime::now_utc();
    let record = Record::new(data(json!({"n": 1})), now + Duration::hours(1));
    let saved = store.create(&record, now).await.expect("create");

    let stored = stored_data(&store, &saved.cookie_value).await;
    assert!(verifies(&other_codec(), &stored), "the store's own keys");
    assert!(!verifies(&codec(), &stored), "not the layer's");
}

#[tokio::test]
async fn a_store_without_keys_says_how_to_fix_it() {
    let dir = TempDir::new().expect("temp dir");
    let store = keyless_store(&dir).await;
    let now = OffsetDateTime::now_utc();
    let record = Record::new(data(json!({"n": 1})), now + Duration::hours(1));

    let created = store.create(&record, now).await;
    let Err(StoreError::Config(message)) = created else {
        panic!("create without keys: {created:?}");
    };
    assert!(
        message.contains("SessionLayer") && message.contains("with_codec"),
        "{message}"
    );
    let key = sessionkit::key::generate_key();
    assert!(matches!(
        store.load(&key, now).await,
        Err(StoreError::Config(_))
    ));
    // What needs no signing still works: nothing is half-done.
    assert_eq!(store.clear_expired(now).await.expect("clear"), 0);
    store.delete(&key).await.expect("delete");
    assert!(!store
        .touch(&key, now + Duration::hours(1), now)
        .await
        .expect("touch"));
}

#[tokio::test]
async fn a_url_this_build_cannot_serve_is_a_config_error() {
    for url in [
        "redis://127.0.0.1:6379",
        "sessions.sqlite3",
        "",
        "oracle://db/app",
    ] {
        let result = DbStore::open(url).await;
        let Err(StoreError::Config(message)) = result else {
            panic!("{url:?}: {result:?}");
        };
        assert!(message.contains("not supported"), "{message}");
        assert!(
            message.contains("sqlite"),
            "names what is enabled: {message}"
        );
    }
}

#[tokio::test]
async fn debug_output_names_the_store_never_its_keys() {
    let dir = TempDir::new().expect("temp dir");
    let store = keyless_store(&dir).await.with_codec(codec());
    let shown = format!("{store:?}");
    assert!(
        shown.contains("sqlite") && shown.contains("django_session"),
        "{shown}"
    );
    assert!(!shown.contains(common::SECRET), "{shown}");
}

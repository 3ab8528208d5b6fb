//! `cycle_key` (login) racing another request of the same session (L7): a
//! save that landed on the old key after this request copied it survives
//! into the new key, and a failed create never costs the old session.
#![cfg(all(feature = "memory", feature = "sqlite", feature = "axum"))]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use common::faulty::{Fault, Faulty, Op};
use common::http::get_with;
use serde_json::{json, Value};
use sessionkit::store::db::DbStore;
use sessionkit::store::memory::MemoryStore;
use sessionkit::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};
use sessionkit::{Session, SessionConfig, SessionLayer, StoreError};
use time::OffsetDateTime;

/// Forwards to a real engine; the first delete of the armed key is preceded
/// by another request's save to that key (`key = value`), landing exactly
/// between this request's copy of the old session and its delete.
#[derive(Debug)]
struct SaveBeforeDelete {
    inner: Arc<dyn SessionStore>,
    armed: Mutex<Option<(String, String, Value)>>,
}

impl SaveBeforeDelete {
    fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            armed: Mutex::new(None),
        })
    }
    fn arm(&self, session: &str, key: &str, value: Value) {
        *self.armed.lock().unwrap() = Some((session.to_owned(), key.to_owned(), value));
    }
    /// The concurrent request: load, change one key, compare-and-set save.
    async fn interleave(&self, session: &str) {
        let armed = {
            let mut armed = self.armed.lock().unwrap();
            match armed.as_ref() {
                Some((s, _, _)) if s == session => armed.take(),
                _ => None,
            }
        };
        let Some((session, key, value)) = armed else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        let loaded = self.inner.load(&session, now).await.unwrap().unwrap();
        let mut data = loaded.record.data;
        data.insert(key, value);
        let record = Record::new(data, loaded.record.expires_at);
        let outcome = self
            .inner
            .save(&session, &record, &loaded.version, now)
            .await
            .unwrap();
        assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
    }
}

#[async_trait]
impl SessionStore for SaveBeforeDelete {
    fn accepts(&self, cookie_value: &str) -> bool {
        self.inner.accepts(cookie_value)
    }
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        self.inner.load(key, now).await
    }
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.inner.create(record, now).await
    }
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.inner.save(key, record, expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.interleave(key).await;
        self.inner.delete(key).await
    }
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.interleave(key).await;
        self.inner.delete_if(key, expected, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.clear_expired(now).await
    }
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.touch(key, expires_at, now).await
    }
    fn attach(&self, config: &sessionkit::SessionConfig) {
        self.inner.attach(config)
    }
}

async fn put(session: Session) -> &'static str {
    session.insert("anonymous_cart", "1 book").unwrap();
    "ok"
}

/// Django's `login`: cycle the key, then write the user.
async fn login(session: Session) -> &'static str {
    session.cycle_key();
    session.insert("_auth_user_id", "42").unwrap();
    "logged in"
}

/// A login that fails after cycling: nothing is saved (a 5xx).
async fn broken_login(session: Session) -> StatusCode {
    session.cycle_key();
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn read(session: Session) -> String {
    serde_json::to_string(&session.to_map()).unwrap()
}

fn app(store: Arc<dyn SessionStore>) -> Router {
    Router::new()
        .route("/put", get(put))
        .route("/login", get(login))
        .route("/broken-login", get(broken_login))
        .route("/read", get(read))
        .layer(SessionLayer::from_arc(
            store,
            SessionConfig::new(common::SECRET).unwrap(),
        ))
}

async fn read_map(app: &Router, key: &str) -> Value {
    let (status, _, body) = get_with(app, "/read", Some(key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn concurrent_save_survives_login(engine: Arc<dyn SessionStore>) {
    let store = SaveBeforeDelete::new(engine);
    let app = app(store.clone());
    let (_, old, _) = get_with(&app, "/put", None).await;
    let old = old.expect("a session");

    store.arm(&old, "theme", json!("dark"));
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

#[tokio::test]
async fn concurrent_save_to_the_old_key_survives_cycle_key_memory() {
    concurrent_save_survives_login(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn concurrent_save_to_the_old_key_survives_cycle_key_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
    let engine = DbStore::sqlite(&url, common::codec()).await.unwrap();
    concurrent_save_survives_login(Arc::new(engine)).await;
}

#[tokio::test]
async fn failed_create_keeps_the_old_session() {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let app = app(store.clone());
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
#[tokio::test]
async fn cycle_key_on_a_5xx_deletes_the_old_key_unless_saved_meanwhile() {
    let store = SaveBeforeDelete::new(Arc::new(MemoryStore::new()));
    let app = app(store.clone());
    let (_, old, _) = get_with(&app, "/put", None).await;
    let old = old.expect("a session");
    store.arm(&old, "theme", json!("dark"));
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

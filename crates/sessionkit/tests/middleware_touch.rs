//! Rolling expiry with a touch threshold (`SESSION_TOUCH_THRESHOLD`) over
//! HTTP, driven by the injectable clock: with `SESSION_SAVE_EVERY_REQUEST`, a
//! request that changes nothing writes nothing until less than the threshold
//! of the session's age remains, then moves the expiry with a touch (the
//! stored data is not rewritten) and re-sends the cookie.
#![cfg(all(
    feature = "sqlite",
    feature = "memory",
    any(feature = "axum", feature = "actix")
))]

mod common;

use std::sync::Arc;

use common::app::{adapter_tests, config, stores, Adapter, App, Reply, View};
use sessionkit::clock::{Clock, ManualClock};
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Session, SessionConfig, SessionError, SessionStore};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2024-06-01 12:00:00.25 UTC);
const AGE: Duration = Duration::weeks(2);

fn touching(clock: &ManualClock, threshold: Option<f64>) -> SessionConfig {
    let mut config = config().with_clock(clock.clone());
    config.save_every_request = true;
    config.touch_threshold = threshold;
    config
}

fn app(adapter: Adapter, store: Arc<dyn SessionStore>, config: SessionConfig) -> App {
    let count = View::sync(|s: &Session| {
        let n = s.increment("visit", 1)?;
        Ok::<_, SessionError>(Reply::text(n))
    });
    let read = View::sync(|s: &Session| {
        let visit = s.get::<i64>("visit")?.unwrap_or(0);
        Ok(Reply::text(visit))
    });
    App::serve(
        adapter,
        store,
        config,
        vec![("/count", count), ("/read", read)],
    )
}

/// What the store holds for `key` at `now`: its version bytes and expiry.
async fn stored(
    store: &dyn SessionStore,
    key: &str,
    now: OffsetDateTime,
) -> (Vec<u8>, OffsetDateTime) {
    let loaded = store
        .load(key, now)
        .await
        .expect("the store answers")
        .expect("the session is stored");
    (loaded.version.as_bytes().to_vec(), loaded.record.expires_at)
}

/// The rules on a server-side engine: no write while enough age remains, a
/// touch (same stored data, new expiry, fresh cookie) once it does not, and
/// a full save whenever the request changed something.
async fn threshold_on(adapter: Adapter, store: Arc<dyn SessionStore>) {
    let clock = ManualClock::new(T0);
    let app = app(adapter, store.clone(), touching(&clock, Some(0.5)));

    let first = app.get("/count", None).await;
    assert_eq!(first.body, "1");
    let key = first.key().expect("a new session sets its cookie");
    let (version, expires) = stored(&*store, &key, T0).await;
    assert_eq!(expires, T0 + AGE);

    // A day on, 13 of 14 days remain: nothing written, no cookie, still Vary.
    clock.advance(Duration::days(1));
    let read = app.get_key("/read", Some(&key)).await;
    assert_eq!(read.body, "1");
    assert!(
        read.set_cookie().is_empty(),
        "no cookie while more than half the age remains: {:?}",
        read.set_cookie()
    );
    assert_eq!(read.header("vary").as_deref(), Some("Cookie"));
    assert_eq!(
        stored(&*store, &key, clock.now()).await,
        (version.clone(), T0 + AGE),
        "nothing written"
    );

    // Eight days on, 6 of 14 remain: a touch moves the expiry, the data stays.
    clock.set(T0 + Duration::days(8));
    let read = app.get_key("/read", Some(&key)).await;
    assert_eq!(read.body, "1");
    assert_eq!(read.key().as_deref(), Some(key.as_str()), "same key");
    let cookie = read.set_cookie().remove(0);
    assert!(
        cookie.contains("Max-Age=1209600"),
        "a fresh cookie: {cookie}"
    );
    assert_eq!(read.header("vary").as_deref(), Some("Cookie"));
    let (after, moved) = stored(&*store, &key, clock.now()).await;
    assert_eq!(moved, clock.now() + AGE, "the expiry rolled");
    assert_eq!(after, version, "a touch does not rewrite the stored data");

    // Right after the touch, the full age remains again: nothing written.
    clock.advance(Duration::hours(1));
    assert!(app
        .get_key("/read", Some(&key))
        .await
        .set_cookie()
        .is_empty());

    // A change is always saved, whatever remains.
    let count = app.get_key("/count", Some(&key)).await;
    assert_eq!(count.body, "2");
    assert!(
        !count.set_cookie().is_empty(),
        "a modified session is saved"
    );
    let (saved, expires) = stored(&*store, &key, clock.now()).await;
    assert_ne!(saved, version, "the change was written");
    assert_eq!(expires, clock.now() + AGE);

    // Past the old expiry the session lives on: the touch really rolled it.
    clock.set(T0 + AGE + Duration::days(1));
    assert_eq!(app.get_key("/read", Some(&key)).await.body, "2");
}

async fn threshold_on_sqlite(adapter: Adapter) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = config();
    let store = stores::sqlite(&dir.path().join("touch.sqlite3"), &config).await;
    threshold_on(adapter, store).await;
}

async fn threshold_on_memory(adapter: Adapter) {
    threshold_on(adapter, Arc::new(MemoryStore::new())).await;
}

/// Without a threshold, Django's behaviour: a save and a cookie every request.
async fn no_threshold_saves_every_request(adapter: Adapter) {
    let clock = ManualClock::new(T0);
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let app = app(adapter, store, touching(&clock, None));
    let key = app.get("/count", None).await.key().expect("a cookie");
    clock.advance(Duration::minutes(1));
    let read = app.get_key("/read", Some(&key)).await;
    assert_eq!(read.key().as_deref(), Some(key.as_str()));
}

/// The threshold only changes SESSION_SAVE_EVERY_REQUEST: without it, an
/// unmodified session is never written, as in Django.
async fn threshold_without_save_every_request_changes_nothing(adapter: Adapter) {
    let clock = ManualClock::new(T0);
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let mut config = touching(&clock, Some(0.5));
    config.save_every_request = false;
    let app = app(adapter, store, config);
    let key = app.get("/count", None).await.key().expect("a cookie");
    clock.advance(Duration::days(10));
    assert!(app
        .get_key("/read", Some(&key))
        .await
        .set_cookie()
        .is_empty());
    assert_eq!(app.get_key("/count", Some(&key)).await.key(), Some(key));
}

/// Signed cookies keep their expiry in the signature: when due, the cookie
/// is signed again (a new value); before, none is sent.
async fn signed_cookies_are_re_signed_when_due(adapter: Adapter) {
    let clock = ManualClock::new(T0);
    let config = touching(&clock, Some(0.5));
    let store = stores::signed_cookies(&config).await;
    let app = app(adapter, store, config);
    let first = app.get("/count", None).await;
    let cookie = first.cookie().expect("a cookie");

    clock.advance(Duration::days(1));
    let read = app.get("/read", Some(&cookie)).await;
    assert_eq!(read.body, "1");
    assert!(read.set_cookie().is_empty(), "{:?}", read.set_cookie());

    clock.set(T0 + Duration::days(8));
    let read = app.get("/read", Some(&cookie)).await;
    assert_eq!(read.body, "1");
    let renewed = read.cookie().expect("a re-signed cookie when due");
    assert_ne!(renewed, cookie, "signed with the new timestamp");
    clock.set(T0 + AGE + Duration::days(1));
    assert_eq!(app.get("/read", Some(&renewed)).await.body, "1");
    assert_eq!(
        app.get("/read", Some(&cookie)).await.body,
        "0",
        "the old cookie expired"
    );
}

adapter_tests! {
    #[tokio::test] threshold_on_sqlite;
    #[tokio::test] threshold_on_memory;
    #[tokio::test] no_threshold_saves_every_request;
    #[tokio::test] threshold_without_save_every_request_changes_nothing;
    #[tokio::test] signed_cookies_are_re_signed_when_due;
}

#[test]
fn the_threshold_is_read_from_the_environment() {
    let env = |threshold: &'static str| {
        SessionConfig::from_lookup(move |name| match name {
            "SECRET_KEY" => Some(common::SECRET.to_owned()),
            "SESSION_TOUCH_THRESHOLD" => Some(threshold.to_owned()),
            _ => None,
        })
    };
    assert_eq!(env("0.25").expect("valid").touch_threshold, Some(0.25));
    for bad in ["0", "1.5", "-1", "half"] {
        let err = env(bad).expect_err("refused").to_string();
        assert!(err.contains("SESSION_TOUCH_THRESHOLD"), "{bad}: {err}");
    }
}

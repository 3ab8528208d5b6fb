//! Expiry over HTTP, driven by the injectable clock (no sleeps): Django's default
//! age, a custom `set_expiry` kept in the record, browser-close cookies.
#![cfg(all(
    feature = "sqlite",
    feature = "memory",
    any(feature = "axum", feature = "actix")
))]

mod common;

use std::sync::Arc;

use common::app::{adapter_tests, config, stores, Adapter, App, Reply, View};
use sessionkit::clock::ManualClock;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Expiry, Session, SessionError, SessionStore};
use time::macros::datetime;
use time::Duration;

/// Counts a visit, then sets `expiry` when one is given.
fn count(expiry: Option<Expiry>) -> View {
    View::sync(move |s: &Session| {
        let n = s.increment("visit", 1)?;
        if let Some(e) = expiry {
            s.set_expiry(e);
        }
        Ok::<_, SessionError>(Reply::text(n))
    })
}

fn app(adapter: Adapter, store: Arc<dyn SessionStore>, clock: &ManualClock) -> App {
    let config = config().with_clock(clock.clone());
    let read = View::sync(|s| {
        let visit = s.get::<i64>("visit")?.unwrap_or(0);
        Ok(Reply::text(format!("{visit} {}", s.expiry_age())))
    });
    let routes = vec![
        ("/count", count(None)),
        ("/short", count(Some(Expiry::Seconds(300)))),
        ("/browser", count(Some(Expiry::BrowserClose))),
        ("/read", read),
    ];
    App::serve(adapter, store, config, routes)
}

async fn call(app: &App, uri: &str, cookie: &mut Option<String>) -> (String, Option<String>) {
    let res = app.get(uri, cookie.as_deref()).await;
    assert!(res.status.is_success(), "{uri}: {}", res.status);
    if let Some(c) = res.cookie() {
        *cookie = Some(c);
    }
    (res.body.clone(), res.set_cookie().into_iter().next())
}

async fn expiry_rules(adapter: Adapter, store: Arc<dyn SessionStore>) {
    let clock = ManualClock::new(datetime!(2024-06-01 12:00:00.25 UTC));
    let app = app(adapter, store, &clock);

    // Default age: two weeks, then gone.
    let mut c = None;
    assert_eq!(call(&app, "/count", &mut c).await.0, "1");
    clock.advance(Duration::weeks(2) - Duration::seconds(1));
    assert_eq!(call(&app, "/read", &mut c).await.0, "1 1209600");
    clock.advance(Duration::seconds(2));
    assert_eq!(
        call(&app, "/read", &mut c).await.0,
        "0 1209600",
        "expired after two weeks"
    );

    // set_expiry(300) is kept in the record and slides with every save.
    let mut c = None;
    let (body, set) = call(&app, "/short", &mut c).await;
    assert_eq!(body, "1");
    assert!(set.unwrap().contains("Max-Age=300"));
    clock.advance(Duration::seconds(200));
    let (body, set) = call(&app, "/count", &mut c).await;
    assert_eq!(body, "2");
    assert!(
        set.unwrap().contains("Max-Age=300"),
        "the custom expiry survives the next request"
    );
    clock.advance(Duration::seconds(200));
    assert_eq!(
        call(&app, "/read", &mut c).await.0,
        "2 300",
        "slid from the last save"
    );
    clock.advance(Duration::seconds(101));
    assert_eq!(
        call(&app, "/read", &mut c).await.0,
        "0 1209600",
        "expired 300 s after the last save"
    );

    // Browser close: no Max-Age/expires in the cookie, two weeks on the server.
    let mut c = None;
    let (_, set) = call(&app, "/browser", &mut c).await;
    let set = set.unwrap();
    assert!(
        !set.contains("Max-Age") && !set.contains("expires"),
        "{set}"
    );
    clock.advance(Duration::days(13));
    assert_eq!(call(&app, "/count", &mut c).await.0, "2");
}

async fn memory_expiry(adapter: Adapter) {
    expiry_rules(adapter, Arc::new(MemoryStore::new())).await;
}

async fn sqlite_expiry(adapter: Adapter) {
    let dir = tempfile::tempdir().unwrap();
    let store = stores::sqlite(&dir.path().join("e.sqlite3"), &config()).await;
    expiry_rules(adapter, store).await;
}

adapter_tests! {
    #[tokio::test] memory_expiry;
    #[tokio::test] sqlite_expiry;
}

//! The engines that never wait (in-process, signed cookies) finish a request
//! without a future (`ImmediateStore`); every other engine takes the async
//! path. Both must answer alike: the same script runs against the engine
//! as it is and behind a decorator that hides its synchronous calls, and
//! every answer (status, body, `Set-Cookie` attributes, `Vary`) must match,
//! the session values aside.
#![cfg(all(feature = "memory", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;

use common::app::{adapter_tests, config, stores, Adapter, Answer, App, Reply, Routes, View};
use common::faulty::Faulty;
use sessionkit::store::memory::MemoryStore;
use sessionkit::SessionStore;

fn routes() -> Routes {
    let inc = View::sync(|s| Ok(Reply::text(s.increment("visit", 1)?)));
    let read = View::sync(|s| Ok(Reply::text(serde_json::to_string(&s.to_map()).unwrap())));
    let cycle = View::sync(|s| {
        s.cycle_key();
        Ok(Reply::text("cycled"))
    });
    let logout = View::sync(|s| {
        s.flush();
        Ok(Reply::text("bye"))
    });
    let boom = View::sync(|s| {
        s.increment("visit", 100)?;
        Ok(Reply::text("failed").status(500))
    });
    vec![
        ("/inc", inc),
        ("/read", read),
        ("/cycle", cycle),
        ("/logout", logout),
        ("/boom", boom),
    ]
}

/// An answer with the session values taken out: what must not differ.
fn shape(res: &Answer) -> (u16, String, Vec<String>, Vec<String>) {
    let cookies = res
        .set_cookie()
        .iter()
        .map(|c| match c.split_once(';') {
            Some((pair, attrs)) => {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let value = if value.is_empty() { "" } else { "VALUE" };
                // `expires` moves with the clock between the two runs.
                let attrs: Vec<&str> = attrs
                    .split(';')
                    .filter(|a| !a.trim_start().starts_with("expires=") || value.is_empty())
                    .collect();
                format!("{name}={value};{}", attrs.join(";"))
            }
            None => c.clone(),
        })
        .collect();
    (
        res.status.as_u16(),
        res.body.clone(),
        cookies,
        res.all("vary"),
    )
}

/// Runs the script on `app`, returning each answer's shape.
async fn script(app: &App) -> Vec<(u16, String, Vec<String>, Vec<String>)> {
    let mut shapes = Vec::new();
    let mut cookie = None::<String>;
    for uri in [
        "/inc", "/inc", "/read", "/boom", "/read", "/cycle", "/inc", "/logout", "/read", "/inc",
    ] {
        let res = app.get(uri, cookie.as_deref()).await;
        if let Some(c) = res.cookie() {
            cookie = (!c.ends_with('=')).then_some(c);
        }
        shapes.push(shape(&res));
    }
    // A cookie the store never issued: a fresh session, as Django does.
    let stranger = app.get("/inc", Some("sessionid=abcdefgh12345678")).await;
    shapes.push(shape(&stranger));
    shapes
}

async fn alike(adapter: Adapter, store: impl Fn() -> Arc<dyn SessionStore>) {
    let immediate = store();
    assert!(
        immediate.immediate().is_some(),
        "the engine answers at once"
    );
    let waiting: Arc<dyn SessionStore> = Faulty::new(store());
    assert!(waiting.immediate().is_none(), "the decorator hides it");
    let fast = script(&App::serve(adapter, immediate, config(), routes())).await;
    let slow = script(&App::serve(adapter, waiting, config(), routes())).await;
    assert_eq!(fast, slow);
    // The script did what it says: a count, a logout, a fresh start.
    assert_eq!(fast[1].1, "2");
    assert!(fast[3].2.is_empty(), "a 5xx is never saved: {:?}", fast[3]);
    assert_eq!(fast[6].1, "3", "cycle_key kept the data");
    assert_eq!(fast[9].1, "1", "the flushed session started over");
}

async fn the_in_process_engine_answers_as_the_async_path_does(adapter: Adapter) {
    alike(adapter, || Arc::new(MemoryStore::new())).await;
}

async fn signed_cookies_answer_as_the_async_path_does(adapter: Adapter) {
    let store = stores::signed_cookies(&config()).await;
    alike(adapter, || store.clone()).await;
}

adapter_tests! {
    #[tokio::test] the_in_process_engine_answers_as_the_async_path_does;
    #[tokio::test] signed_cookies_answer_as_the_async_path_does;
}

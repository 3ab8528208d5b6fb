//! The signed-cookies engine: Django's vectors at every listed time, Django's
//! middleware scenarios byte for byte, the conformance suite for a store with no
//! server copy, and the 4096-byte limit.
#![cfg(all(feature = "conformance", feature = "axum"))]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use sessionkit::clock::ManualClock;
use sessionkit::store::conformance::{run_all, Capabilities};
use sessionkit::store::signed_cookies::SignedCookieStore;
use sessionkit::store::{Record, SessionStore};
use sessionkit::{Session, SessionConfig, SessionLayer, StoreError};
use time::OffsetDateTime;
use tower::ServiceExt;

/// Letters from a xorshift generator: zlib cannot shrink them much.
fn incompressible(len: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

fn at(epoch: f64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos((epoch * 1e9).round() as i128).unwrap()
}

fn config(vectors: &Value, fallbacks: &[Value]) -> SessionConfig {
    SessionConfig::new(vectors["secret_key"].as_str().unwrap())
        .unwrap()
        .with_fallbacks(fallbacks.iter().map(|v| v.as_str().unwrap().to_owned()))
}

#[tokio::test]
async fn django_cookies_load_as_django_says_at_every_time() {
    let v = common::vectors("signed_cookies.json");
    let mut checks = 0;
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let cookie = case["cookie_value"].as_str().unwrap();
        for check in case["load_checks"].as_array().unwrap() {
            let label = check["label"].as_str().unwrap();
            let store = SignedCookieStore::new()
                .with_config(&config(&v, check["fallback_keys"].as_array().unwrap()));
            assert!(store.accepts(cookie), "{name}");
            let loaded = store
                .load(cookie, at(check["now"].as_f64().unwrap()))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                Value::Object(loaded.record.data),
                check["expected_load"],
                "{name}/{label}"
            );
            assert_eq!(
                loaded.version.must_rewrite(),
                check["modified_after_load"].as_bool().unwrap(),
                "{name}/{label}: re-issued as Django does"
            );
            checks += 1;
        }
    }
    assert_eq!(checks, 40);
    let tampered = &v["tampered"];
    let store = SignedCookieStore::new().with_config(&config(&v, &[]));
    let loaded = store
        .load(
            tampered["cookie_value"].as_str().unwrap(),
            at(v["reference_epoch"].as_f64().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(loaded.record.data.is_empty() && loaded.version.must_rewrite());
}

#[tokio::test]
async fn our_cookies_are_djangos_bytes() {
    let v = common::vectors("signed_cookies.json");
    let store = SignedCookieStore::new().with_config(&config(&v, &[]));
    let now = at(v["reference_epoch"].as_f64().unwrap());
    for case in v["cases"].as_array().unwrap() {
        if case["name"] == "signed_with_old_secret" {
            continue; // signed with the old key: we sign with the current one
        }
        let data = case["expected_decoded"].as_object().unwrap().clone();
        let saved = store.create(&Record::new(data, now), now).await.unwrap();
        assert_eq!(
            saved.cookie_value,
            case["cookie_value"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
}

#[tokio::test]
async fn conformance() {
    let store = SignedCookieStore::new().with_config(&SessionConfig::new(common::SECRET).unwrap());
    // No server copy: keys, CAS, delete and touch do not apply; the expiry is
    // the signature's timestamp plus the cookie age, not the record's.
    let caps = Capabilities::new().server_side(false).exact_expiry(false);
    run_all(&store, caps, OffsetDateTime::now_utc()).await;
}

#[tokio::test]
async fn oversized_session_is_refused_not_truncated() {
    let store = SignedCookieStore::new().with_config(&SessionConfig::new(common::SECRET).unwrap());
    let now = OffsetDateTime::now_utc();
    // Random-looking data does not compress below the limit.
    let blob = incompressible(6000);
    let mut data = sessionkit::store::SessionMap::new();
    data.insert("blob".into(), Value::String(blob));
    let err = store
        .create(&Record::new(data, now), now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::TooLarge { limit, .. } if limit == 4096 - "sessionid=".len()),
        "{err}"
    );
}

fn case_app(name: &'static str, config: SessionConfig) -> Router {
    async fn view(session: Session, name: &'static str) -> Response {
        match name {
            "signed_cookies_new_session" => session.insert("hello", "world").unwrap(),
            "signed_cookies_flush" => session.flush(),
            "big" => session.insert("blob", &"x".repeat(10)).unwrap(),
            _ => {
                session.get_value("visit");
            }
        }
        "ok".into_response()
    }
    // The layer gives the store its settings.
    Router::new()
        .route("/", get(move |s: Session| view(s, name)))
        .layer(SessionLayer::new(SignedCookieStore::new(), config))
}

#[tokio::test]
async fn django_middleware_scenarios() {
    let v = common::vectors("cookies.json");
    let secret = common::vectors("signed_cookies.json")["secret_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let reference = common::iso(v["reference_now"].as_str().unwrap());
    let mut n = 0;
    for case in v["cases"].as_array().unwrap() {
        if case["settings"]["SESSION_ENGINE"] != "django.contrib.sessions.backends.signed_cookies" {
            continue;
        }
        let name: &'static str =
            Box::leak(case["name"].as_str().unwrap().to_owned().into_boxed_str());
        let config = SessionConfig::new(secret.clone())
            .unwrap()
            .with_clock(ManualClock::new(reference));
        let mut req = Request::get("/");
        if let Some(c) = case["request_cookie_header"].as_str() {
            req = req.header("cookie", c);
        }
        let res = case_app(name, config)
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
        let got: Vec<&str> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|h| h.to_str().unwrap())
            .collect();
        let expected: Vec<&str> = case["set_cookie"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(got, expected, "{name}: Set-Cookie byte for byte");
        assert_eq!(
            res.headers().get("vary").map(|h| h.to_str().unwrap()),
            case["vary"].as_str(),
            "{name}"
        );
        n += 1;
    }
    assert_eq!(n, 4);
}

#[tokio::test]
async fn too_large_over_http_keeps_the_previous_cookie() {
    async fn grow(session: Session) -> &'static str {
        let blob = incompressible(6000);
        session.insert("blob", &blob).unwrap();
        "ok"
    }
    let config = SessionConfig::new(common::SECRET).unwrap();
    let app = Router::new()
        .route("/", get(grow))
        .layer(SessionLayer::new(SignedCookieStore::new(), config));
    let res = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "never a half-set cookie"
    );
}

/// `SESSION_COOKIE_AGE` is a public field: a value the config check would
/// refuse can still reach the store. Neither a forged cookie nor a valid one
/// may then panic the request (review L2a); a forged one is a fresh session.
#[tokio::test]
async fn absurd_cookie_age_never_panics() {
    let now = OffsetDateTime::now_utc();
    let mut data = sessionkit::store::SessionMap::new();
    data.insert("visits".into(), Value::from(3));
    for age in [i64::MAX, i64::MIN, 400_000_000_000, -400_000_000_000] {
        let mut config = SessionConfig::new(common::SECRET).unwrap();
        config.cookie_age = age;
        let store = SignedCookieStore::new().with_config(&config);

        let forged = "eyJ2aXNpdHMiOjN9:1sDCZ0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(store.accepts(forged));
        let loaded = store.load(forged, now).await.unwrap().unwrap();
        assert!(loaded.record.data.is_empty(), "age {age}");
        assert!(loaded.version.must_rewrite(), "age {age}");

        let saved = store
            .create(&Record::new(data.clone(), now), now)
            .await
            .unwrap();
        let loaded = store.load(&saved.cookie_value, now).await.unwrap().unwrap();
        if age > 0 {
            assert_eq!(loaded.record.data, data, "age {age}");
            assert!(loaded.record.expires_at > now, "age {age}");
        } else {
            // Negative: every cookie is expired, as in Django.
            assert!(loaded.record.data.is_empty(), "age {age}");
        }
    }
}

/// Without settings (no layer, no `with_config`) the store answers a
/// configuration error naming the fix, never a panic or an unsigned cookie.
#[tokio::test]
async fn a_store_without_settings_says_so() {
    let store = SignedCookieStore::new();
    let now = OffsetDateTime::now_utc();
    let record = Record::new(sessionkit::store::SessionMap::new(), now);
    let err = store.create(&record, now).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Config(m) if m.contains("with_config")),
        "{err:?}"
    );
    let cookie = "eyJ2aXNpdHMiOjN9:1sDCZ0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert!(matches!(
        store.load(cookie, now).await,
        Err(StoreError::Config(_))
    ));

    // Settings come once: a clone shares them, a second config does not
    // replace them.
    let clone = store.clone();
    let config = SessionConfig::new(common::SECRET).unwrap();
    store.attach(&config);
    let mut other = SessionConfig::new(common::SECRET).unwrap();
    other.cookie_name = "x".repeat(4000);
    clone.attach(&other);
    let saved = clone
        .create(&record, now)
        .await
        .expect("settings from the first attach");
    assert!(clone
        .load(&saved.cookie_value, now)
        .await
        .unwrap()
        .is_some());
}

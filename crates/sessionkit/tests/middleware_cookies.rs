//! Django's middleware scenarios (`cookies.json`) replayed over HTTP against the
//! SQLite engine: the same Set-Cookie headers, the same Vary, the same saved row.
#![cfg(all(feature = "sqlite", feature = "axum"))]

mod common;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use sessionkit::clock::ManualClock;
use sessionkit::config::SameSite;
use sessionkit::store::db::DbStore;
use sessionkit::{Expiry, Session, SessionConfig, SessionLayer};
use sqlx::SqlitePool;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const EXISTING_DATA: &str = "eyJ2aXNpdCI6MX0:1sDNOy:1qks7VcbWn0IzZ9RRc13Nd0l-Hmaay4TyaTF5dNBWLE";

fn secret() -> String {
    common::vectors("sessions.json")["secret_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn config_for(settings: &serde_json::Map<String, Value>, clock: &ManualClock) -> SessionConfig {
    let mut c = SessionConfig::new(secret())
        .unwrap()
        .with_clock(clock.clone());
    for (k, v) in settings {
        match k.as_str() {
            "SESSION_COOKIE_SECURE" => c.cookie_secure = v.as_bool().unwrap(),
            "SESSION_COOKIE_HTTPONLY" => c.cookie_httponly = v.as_bool().unwrap(),
            "SESSION_COOKIE_DOMAIN" => c.cookie_domain = v.as_str().map(str::to_owned),
            "SESSION_COOKIE_PATH" => c.cookie_path = v.as_str().unwrap().to_owned(),
            "SESSION_COOKIE_NAME" => c.cookie_name = v.as_str().unwrap().to_owned(),
            "SESSION_COOKIE_AGE" => c.cookie_age = v.as_i64().unwrap(),
            "SESSION_SAVE_EVERY_REQUEST" => c.save_every_request = v.as_bool().unwrap(),
            "SESSION_EXPIRE_AT_BROWSER_CLOSE" => c.expire_at_browser_close = v.as_bool().unwrap(),
            "SESSION_COOKIE_SAMESITE" => {
                c.cookie_samesite = match v.as_str() {
                    Some("Lax") => Some(SameSite::Lax),
                    Some("Strict") => Some(SameSite::Strict),
                    Some("None") => Some(SameSite::None),
                    _ => None,
                }
            }
            other => panic!("unmapped setting {other}"),
        }
    }
    c
}

#[derive(Clone)]
struct App {
    case: String,
    pool: SqlitePool,
}

/// The views of gen.py's `part_cookies`, chosen by scenario name.
async fn view(State(app): State<App>, session: Session) -> Response {
    let set = || session.insert("hello", "world").unwrap();
    match app.case.as_str() {
        "set_expiry_0" | "set_expiry_300" | "set_expiry_timedelta_1h" | "set_expiry_negative" => {
            set();
            session.set_expiry(match app.case.as_str() {
                "set_expiry_0" => Expiry::BrowserClose,
                "set_expiry_300" => Expiry::Seconds(300),
                "set_expiry_timedelta_1h" => Expiry::After(Duration::hours(1)),
                _ => Expiry::Seconds(-10),
            });
        }
        c if c.starts_with("flush") => session.flush(),
        "read_only_existing" | "duplicate_cookie_last_wins" => {
            session.get_value("visit");
        }
        "no_access"
        | "short_cookie_value_deleted"
        | "save_every_request_not_accessed"
        | "save_every_request_unknown_cookie"
        | "save_every_request_no_cookie" => {}
        "status_500_modified" => {
            set();
            return (StatusCode::INTERNAL_SERVER_ERROR, "err").into_response();
        }
        "cycle_key" => {
            set();
            session.cycle_key();
        }
        "existing_vary_header" => {
            set();
            let mut h = HeaderMap::new();
            h.insert("vary", "Accept-Encoding".parse().unwrap());
            return (h, "ok").into_response();
        }
        "emptied_not_flushed" => {
            session.remove("visit");
        }
        "session_deleted_concurrently" => {
            session.get_value("visit");
            // "another request" logs out meanwhile
            sqlx::query("DELETE FROM django_session")
                .execute(&app.pool)
                .await
                .unwrap();
            session.insert("visit", &2).unwrap();
        }
        _ => set(),
    }
    "ok".into_response()
}

async fn row(pool: &SqlitePool, key: &str) -> Option<(String, String)> {
    sqlx::query_as("SELECT session_data, expire_date FROM django_session WHERE session_key = ?")
        .bind(key)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Django's ISO `expire_date` as our SQLite column text.
fn sqlite_text(iso: &str) -> String {
    let t = common::iso(iso);
    let base = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    match t.microsecond() {
        0 => base,
        us => format!("{base}.{us:06}"),
    }
}

#[tokio::test]
async fn every_db_scenario_matches_django() {
    let vectors = common::vectors("cookies.json");
    let reference: OffsetDateTime = common::iso(vectors["reference_now"].as_str().unwrap());
    let existing = vectors["existing_session_key"].as_str().unwrap();
    let mut checked = 0;
    for case in vectors["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let settings = case["settings"].as_object().unwrap();
        if settings.contains_key("SESSION_ENGINE") {
            continue; // signed_cookies scenarios belong to that engine's tests
        }
        let clock = ManualClock::new(reference);
        let config = config_for(settings, &clock);
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
        let store = DbStore::open(&url)
            .await
            .unwrap()
            .with_codec(config.codec());
        let pool = SqlitePool::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO django_session VALUES (?, ?, ?)")
            .bind(existing)
            .bind(EXISTING_DATA)
            .bind("2024-06-15 12:00:00.250000")
            .execute(&pool)
            .await
            .unwrap();
        let app = Router::new()
            .route("/", get(view))
            .with_state(App {
                case: name.to_owned(),
                pool: pool.clone(),
            })
            .layer(SessionLayer::new(store, config));
        let mut req = Request::get("/");
        if let Some(c) = case["request_cookie_header"].as_str() {
            req = req.header("cookie", c);
        }
        let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();

        if case.get("raises").is_some() {
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{name}");
            assert!(
                res.headers().get("set-cookie").is_none(),
                "{name}: no cookie on 400"
            );
            let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(body, case["raises_message"].as_str().unwrap(), "{name}");
            assert!(
                row(&pool, existing).await.is_none(),
                "{name}: never resurrected"
            );
            checked += 1;
            continue;
        }

        assert_eq!(
            res.status().as_u16() as i64,
            case["response_status"].as_i64().unwrap(),
            "{name}"
        );
        let vary = res
            .headers()
            .get("vary")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(vary.as_deref(), case["vary"].as_str(), "{name}: Vary");
        let got: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let expected: Vec<&str> = case["set_cookie"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(got.len(), expected.len(), "{name}: {got:?}");
        // Keys are random: Django's key in the expected header stands for ours.
        let our_key = match case["session_key_after"].as_str() {
            Some(k) if k == existing => Some(existing.to_owned()),
            Some(_) => {
                let header = got.first().unwrap_or_else(|| panic!("{name}: no cookie"));
                let value = header.split(';').next().unwrap().split_once('=').unwrap().1;
                assert!(sessionkit::key::is_valid_key(value), "{name}");
                assert_ne!(value, existing, "{name}: a new key");
                Some(value.to_owned())
            }
            None => None,
        };
        for (g, e) in got.iter().zip(&expected) {
            let e = match (&our_key, case["session_key_after"].as_str()) {
                (Some(ours), Some(theirs)) => e.replace(theirs, ours),
                _ => (*e).to_owned(),
            };
            assert_eq!(g, &e, "{name}: Set-Cookie");
        }
        if let (Some(key), Some(expected_row)) = (&our_key, case["db_row_after"].as_object()) {
            let (data, expire) = row(&pool, key)
                .await
                .unwrap_or_else(|| panic!("{name}: row missing"));
            assert_eq!(
                data,
                expected_row["session_data"].as_str().unwrap(),
                "{name}: session_data"
            );
            assert_eq!(
                expire,
                sqlite_text(expected_row["expire_date"].as_str().unwrap()),
                "{name}: expire_date"
            );
        }
        if case["session_key_after"].is_null() {
            let rows: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM django_session WHERE session_key != ?")
                    .bind(existing)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(rows, 0, "{name}: no new row");
        }
        let present = row(&pool, existing).await.is_some();
        assert_eq!(
            present,
            case["existing_row_still_present"].as_bool().unwrap(),
            "{name}: existing row"
        );
        checked += 1;
    }
    assert_eq!(checked, 27, "every db scenario was replayed");
}

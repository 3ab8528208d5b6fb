//! Django's middleware scenarios (`cookies.json`) replayed over HTTP against the
//! SQLite engine (and the signed-cookies engine for its four), each its own
//! test on each adapter: the same Set-Cookie headers, the same Vary, the same
//! saved row. What each scenario's view does is data ([`Act`]), the view of
//! gen.py's `part_cookies` for it.
#![cfg(all(feature = "sqlite", any(feature = "axum", feature = "actix")))]

mod common;

use common::app::{adapter_tests, stores, Adapter, Answer, App, Reply, View};
use serde_json::Value;
use sessionkit::clock::ManualClock;
use sessionkit::config::SameSite;
use sessionkit::{Expiry, SessionConfig, SessionError};
use sqlx::SqlitePool;
use time::Duration;

const EXISTING_DATA: &str = "eyJ2aXNpdCI6MX0:1sDNOy:1qks7VcbWn0IzZ9RRc13Nd0l-Hmaay4TyaTF5dNBWLE";

/// What a scenario's view does with the session.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// `session["hello"] = "world"`.
    Set,
    /// [`Act::Set`], then `set_expiry`.
    SetExpiry(Expiry),
    /// `session.flush()`.
    Flush,
    /// Reads `visit` only.
    Read,
    /// Does not touch the session.
    Nothing,
    /// [`Act::Set`], then answers 500.
    SetThen500,
    /// [`Act::Set`], then `cycle_key()`.
    SetThenCycle,
    /// [`Act::Set`] and answers with this `Vary` of its own.
    SetWithVary(&'static str),
    /// Removes `visit`, leaving the session empty but not flushed.
    Remove,
    /// Reads, "another request" deletes every row (a logout), then writes.
    DeletedMeanwhile,
}

/// One test per scenario and adapter, and the list of scenarios covered.
macro_rules! scenarios {
    ($($name:ident: $act:expr;)*) => {
        $(
            async fn $name(adapter: Adapter) {
                scenario(adapter, stringify!($name), $act).await
            }
        )*
        const SCENARIOS: &[&str] = &[$(stringify!($name)),*];
        adapter_tests! { $( #[tokio::test] $name; )* }
    };
}

scenarios! {
    new_session_default_settings: Act::Set;
    secure_domain_samesite_strict: Act::Set;
    expire_at_browser_close: Act::Set;
    set_expiry_0: Act::SetExpiry(Expiry::BrowserClose);
    set_expiry_300: Act::SetExpiry(Expiry::Seconds(300));
    set_expiry_timedelta_1h: Act::SetExpiry(Expiry::After(Duration::hours(1)));
    set_expiry_negative: Act::SetExpiry(Expiry::Seconds(-10));
    samesite_none: Act::Set;
    samesite_false_httponly_false: Act::Set;
    custom_name_path_age: Act::Set;
    flush_with_cookie_delete: Act::Flush;
    flush_with_cookie_delete_custom_domain_path: Act::Flush;
    flush_with_cookie_delete_samesite_none: Act::Flush;
    flush_without_cookie: Act::Flush;
    read_only_existing: Act::Read;
    no_access: Act::Nothing;
    save_every_request_not_accessed: Act::Nothing;
    save_every_request_unknown_cookie: Act::Nothing;
    save_every_request_no_cookie: Act::Nothing;
    status_500_modified: Act::SetThen500;
    unknown_key_then_set: Act::Set;
    short_cookie_value_deleted: Act::Nothing;
    cycle_key: Act::SetThenCycle;
    existing_vary_header: Act::SetWithVary("Accept-Encoding");
    emptied_not_flushed: Act::Remove;
    duplicate_cookie_last_wins: Act::Read;
    session_deleted_concurrently: Act::DeletedMeanwhile;
    signed_cookies_new_session: Act::Set;
    signed_cookies_tampered: Act::Read;
    signed_cookies_flush: Act::Flush;
    signed_cookies_read_valid: Act::Read;
}

/// Every scenario of the vectors has its test above: the 27 of the
/// database engine and the 4 of the signed-cookies engine.
#[test]
fn every_scenario_has_a_test() {
    let vectors = common::vectors("cookies.json");
    let cases = vectors["cases"].as_array().unwrap();
    let mut names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    let mut ours = SCENARIOS.to_vec();
    ours.sort_unstable();
    assert_eq!(ours, names);
    let signed = cases.iter().filter(|c| signed(c)).count();
    assert_eq!((ours.len() - signed, signed), (27, 4));
}

/// Whether a scenario runs on the signed-cookies engine.
fn signed(case: &Value) -> bool {
    case["settings"]["SESSION_ENGINE"] == "django.contrib.sessions.backends.signed_cookies"
}

/// The scenario's view; `pool` is the database "another request" writes to.
fn view(act: Act, pool: Option<SqlitePool>) -> View {
    View::new(move |session| {
        let pool = pool.clone();
        async move {
            let set = || session.insert("hello", "world");
            let mut reply = Reply::text("ok");
            match act {
                Act::Set => set()?,
                Act::SetExpiry(expiry) => {
                    set()?;
                    session.set_expiry(expiry);
                }
                Act::Flush => session.flush(),
                Act::Read => {
                    session.get_value("visit");
                }
                Act::Nothing => {}
                Act::SetThen500 => {
                    set()?;
                    reply = Reply::text("err").status(500);
                }
                Act::SetThenCycle => {
                    set()?;
                    session.cycle_key();
                }
                Act::SetWithVary(vary) => {
                    set()?;
                    reply = reply.header("vary", vary);
                }
                Act::Remove => {
                    session.remove("visit");
                }
                Act::DeletedMeanwhile => {
                    session.get_value("visit");
                    let pool = pool.expect("a database to log out in");
                    sqlx::query("DELETE FROM django_session")
                        .execute(&pool)
                        .await
                        .unwrap();
                    session.insert("visit", &2)?;
                }
            }
            Ok::<_, SessionError>(reply)
        }
    })
}

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
            "SESSION_ENGINE" => {} // the store, chosen by the caller
            other => panic!("unmapped setting {other}"),
        }
    }
    c
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

/// Replays the scenario `name` with its view doing `act`, and checks the
/// answer and the table against Django's.
async fn scenario(adapter: Adapter, name: &str, act: Act) {
    let vectors = common::vectors("cookies.json");
    let case = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no scenario {name} in cookies.json"));
    let existing = vectors["existing_session_key"].as_str().unwrap();
    let clock = ManualClock::new(common::iso(vectors["reference_now"].as_str().unwrap()));
    let config = config_for(case["settings"].as_object().unwrap(), &clock);
    if signed(case) {
        return signed_scenario(adapter, name, case, act, config).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let store = stores::sqlite(&path, &config).await;
    let pool = SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO django_session VALUES (?, ?, ?)")
        .bind(existing)
        .bind(EXISTING_DATA)
        .bind("2024-06-15 12:00:00.250000")
        .execute(&pool)
        .await
        .unwrap();
    let app = App::serve(
        adapter,
        store,
        config,
        vec![("/", view(act, Some(pool.clone())))],
    );
    let res = app.get("/", case["request_cookie_header"].as_str()).await;

    if case.get("raises").is_some() {
        assert_eq!(res.status, 400, "{name}");
        assert!(res.set_cookie().is_empty(), "{name}: no cookie on 400");
        assert_eq!(res.body, case["raises_message"].as_str().unwrap(), "{name}");
        assert!(
            row(&pool, existing).await.is_none(),
            "{name}: never resurrected"
        );
        return;
    }
    assert_eq!(
        i64::from(res.status.as_u16()),
        case["response_status"].as_i64().unwrap(),
        "{name}"
    );
    let vary: Vec<String> = case["vary"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    assert_eq!(res.all("vary"), vary, "{name}: Vary");
    let our_key = check_set_cookie(name, case, &res, existing);
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
    assert_eq!(
        row(&pool, existing).await.is_some(),
        case["existing_row_still_present"].as_bool().unwrap(),
        "{name}: existing row"
    );
}

/// A scenario of the signed-cookies engine: no server state, so the answer
/// is all there is to check, and every byte of it is deterministic.
async fn signed_scenario(
    adapter: Adapter,
    name: &str,
    case: &Value,
    act: Act,
    config: SessionConfig,
) {
    let store = stores::signed_cookies(&config).await;
    let app = App::serve(adapter, store, config, vec![("/", view(act, None))]);
    let res = app.get("/", case["request_cookie_header"].as_str()).await;
    assert_eq!(
        i64::from(res.status.as_u16()),
        case["response_status"].as_i64().unwrap(),
        "{name}"
    );
    let vary: Vec<String> = case["vary"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    assert_eq!(res.all("vary"), vary, "{name}: Vary");
    let expected: Vec<&str> = case["set_cookie"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        res.set_cookie(),
        expected,
        "{name}: Set-Cookie byte for byte"
    );
}

/// The Set-Cookie headers byte for byte, Django's random key standing for
/// ours; returns our session key after the request.
fn check_set_cookie(name: &str, case: &Value, res: &Answer, existing: &str) -> Option<String> {
    let got = res.set_cookie();
    let expected: Vec<&str> = case["set_cookie"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got.len(), expected.len(), "{name}: {got:?}");
    let theirs = case["session_key_after"].as_str();
    let ours = match theirs {
        Some(k) if k == existing => Some(existing.to_owned()),
        Some(_) => {
            let value = res.key().unwrap_or_else(|| panic!("{name}: no cookie"));
            assert!(sessionkit::key::is_valid_key(&value), "{name}");
            assert_ne!(value, existing, "{name}: a new key");
            Some(value)
        }
        None => None,
    };
    for (g, e) in got.iter().zip(&expected) {
        let e = match (&ours, theirs) {
            (Some(ours), Some(theirs)) => e.replace(theirs, ours),
            _ => (*e).to_owned(),
        };
        assert_eq!(g, &e, "{name}: Set-Cookie");
    }
    ours
}

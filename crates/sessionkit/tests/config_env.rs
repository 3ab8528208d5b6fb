//! Settings from the environment: Django's names and defaults, strict parsing
//! that names the bad variable, and secrets that never leak into messages.

mod common;

use http::StatusCode;
use serde_json::{Map, Value};
use sessionkit::clock::ManualClock;
use sessionkit::config::{
    secret_warnings, ConfigError, Engine, SameSite, SessionConfig, StoreConfig,
};
use time::macros::datetime;

const SECRET: &str = "s3cr3t-Value-that-is-long-enough-to-pass-W009-0123456789";
const OLD_SECRET: &str = "older-Secret-also-long-enough-to-pass-django-W009-check-42";

fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn session(pairs: &[(&str, &str)]) -> Result<SessionConfig, ConfigError> {
    let mut all = vec![("SECRET_KEY", SECRET)];
    all.extend_from_slice(pairs);
    SessionConfig::from_lookup(lookup(&all))
}

fn invalid_variable(err: &ConfigError) -> &str {
    match err {
        ConfigError::Invalid { variable, .. } => variable,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn defaults_are_djangos() {
    let config = session(&[]).expect("valid");
    assert_eq!(config.cookie_name, "sessionid");
    assert_eq!(config.cookie_age, 1_209_600);
    assert_eq!(config.cookie_domain, None);
    assert!(!config.cookie_secure);
    assert_eq!(config.cookie_path, "/");
    assert!(config.cookie_httponly);
    assert_eq!(config.cookie_samesite, Some(SameSite::Lax));
    assert!(!config.save_every_request);
    assert!(!config.expire_at_browser_close);
    assert_eq!(config.load_error_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(config.max_save_retries, 16);
    assert_eq!(config.keys().current().expose(), SECRET);
    assert!(config.keys().fallbacks().is_empty());

    let store = StoreConfig::from_lookup(|_| None).expect("valid");
    assert_eq!(store.engine, Engine::Db);
    assert_eq!(store.db_url, "sqlite://sessions.sqlite3");
    assert_eq!(store.cache_url, "memory://");
    assert_eq!(store.file_path, None);
    assert_eq!(store.key_prefix, "");
    assert_eq!(store.table, "django_session");
    let default = StoreConfig::default();
    assert_eq!(default, store);
}

#[test]
fn blank_values_keep_defaults() {
    let config =
        session(&[("SESSION_COOKIE_AGE", ""), ("SESSION_COOKIE_SECURE", "  ")]).expect("valid");
    assert_eq!(config.cookie_age, 1_209_600);
    assert!(!config.cookie_secure);
}

#[test]
fn every_session_variable_is_read() {
    let config = session(&[
        (
            "SECRET_KEY_FALLBACKS",
            &format!(" {OLD_SECRET} ,, second-{OLD_SECRET},"),
        ),
        ("SESSION_COOKIE_NAME", "my_sess"),
        ("SESSION_COOKIE_AGE", "3600"),
        ("SESSION_COOKIE_DOMAIN", ".example.com"),
        ("SESSION_COOKIE_SECURE", "TRUE"),
        ("SESSION_COOKIE_PATH", "/app/"),
        ("SESSION_COOKIE_HTTPONLY", "0"),
        ("SESSION_COOKIE_SAMESITE", "strict"),
        ("SESSION_SAVE_EVERY_REQUEST", "1"),
        ("SESSION_EXPIRE_AT_BROWSER_CLOSE", "True"),
        ("SESSION_LOAD_ERROR_STATUS", "500"),
        ("SESSION_MAX_SAVE_RETRIES", "3"),
    ])
    .expect("valid");
    let fallbacks: Vec<&str> = config
        .keys()
        .fallbacks()
        .iter()
        .map(|k| k.expose())
        .collect();
    assert_eq!(
        fallbacks,
        [OLD_SECRET.to_owned(), format!("second-{OLD_SECRET}")]
    );
    assert_eq!(config.cookie_name, "my_sess");
    assert_eq!(config.cookie_age, 3600);
    assert_eq!(config.cookie_domain.as_deref(), Some(".example.com"));
    assert!(config.cookie_secure);
    assert_eq!(config.cookie_path, "/app/");
    assert!(!config.cookie_httponly);
    assert_eq!(config.cookie_samesite, Some(SameSite::Strict));
    assert!(config.save_every_request);
    assert!(config.expire_at_browser_close);
    assert_eq!(config.load_error_status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(config.max_save_retries, 3);
}

#[test]
fn samesite_values() {
    for (text, expected) in [
        ("Lax", Some(SameSite::Lax)),
        ("LAX", Some(SameSite::Lax)),
        ("Strict", Some(SameSite::Strict)),
        ("None", Some(SameSite::None)),
        ("none", Some(SameSite::None)),
        ("False", None),
        ("false", None),
    ] {
        let config = session(&[("SESSION_COOKIE_SAMESITE", text)]).expect(text);
        assert_eq!(config.cookie_samesite, expected, "{text}");
    }
    assert_eq!(SameSite::None.to_string(), "None");
}

#[test]
fn every_store_variable_is_read() {
    let pairs = [
        ("SESSION_ENGINE", "cached_db"),
        ("SESSION_DB_URL", "postgres://user:pw@db/app"),
        ("SESSION_CACHE_URL", "redis://cache:6379/0"),
        ("SESSION_FILE_PATH", "/var/lib/sessions"),
        ("SESSION_CACHE_KEY_PREFIX", "myapp:"),
        ("SESSION_DB_TABLE", "app_sessions"),
    ];
    let store = StoreConfig::from_lookup(lookup(&pairs)).expect("valid");
    assert_eq!(store.engine, Engine::CachedDb);
    assert_eq!(store.db_url, "postgres://user:pw@db/app");
    assert_eq!(store.cache_url, "redis://cache:6379/0");
    assert_eq!(
        store.file_path.as_deref(),
        Some(std::path::Path::new("/var/lib/sessions"))
    );
    assert_eq!(store.key_prefix, "myapp:");
    assert_eq!(store.table, "app_sessions");
}

#[test]
fn django_engine_names() {
    for (text, engine) in [
        ("django.contrib.sessions.backends.db", Engine::Db),
        ("django.contrib.sessions.backends.cache", Engine::Cache),
        ("django.contrib.sessions.backends.file", Engine::File),
        (
            "django.contrib.sessions.backends.cached_db",
            Engine::CachedDb,
        ),
        (
            "django.contrib.sessions.backends.signed_cookies",
            Engine::SignedCookies,
        ),
        ("db", Engine::Db),
        ("signed_cookies", Engine::SignedCookies),
        ("signed-cookies", Engine::SignedCookies),
    ] {
        let pairs = [("SESSION_ENGINE", text)];
        let store = StoreConfig::from_lookup(lookup(&pairs)).expect(text);
        assert_eq!(store.engine, engine, "{text}");
    }
    assert_eq!(
        Engine::CachedDb.django_path(),
        "django.contrib.sessions.backends.cached_db"
    );
}

#[test]
fn bad_session_values_name_the_variable() {
    let cases = [
        ("SESSION_COOKIE_AGE", "two weeks"),
        ("SESSION_COOKIE_AGE", "1.5"),
        ("SESSION_COOKIE_SECURE", "yes"),
        ("SESSION_COOKIE_HTTPONLY", "maybe"),
        ("SESSION_SAVE_EVERY_REQUEST", "2"),
        ("SESSION_EXPIRE_AT_BROWSER_CLOSE", "on"),
        ("SESSION_COOKIE_SAMESITE", "sometimes"),
        ("SESSION_COOKIE_NAME", "has space"),
        ("SESSION_COOKIE_NAME", "semi;colon"),
        ("SESSION_COOKIE_NAME", "Path"),
        ("SESSION_COOKIE_DOMAIN", "a.com; Secure"),
        ("SESSION_COOKIE_PATH", "/\r\nX-Injected: 1"),
        ("SESSION_LOAD_ERROR_STATUS", "200"),
        ("SESSION_LOAD_ERROR_STATUS", "99999"),
        ("SESSION_MAX_SAVE_RETRIES", "-1"),
    ];
    for (variable, value) in cases {
        let err = session(&[(variable, value)]).expect_err(value);
        assert_eq!(invalid_variable(&err), variable, "{value}");
        assert!(err.to_string().contains(variable), "{err}");
        assert!(!err.to_string().contains(SECRET), "{err}");
    }
}

#[test]
fn bad_store_values_name_the_variable() {
    let cases = [
        ("SESSION_ENGINE", "django.contrib.sessions.backends.mongo"),
        ("SESSION_DB_TABLE", "sessions; DROP TABLE users"),
        ("SESSION_DB_TABLE", "1table"),
        ("SESSION_CACHE_KEY_PREFIX", "has space"),
    ];
    for (variable, value) in cases {
        let pairs = [(variable, value)];
        let err = StoreConfig::from_lookup(lookup(&pairs)).expect_err(value);
        assert_eq!(invalid_variable(&err), variable, "{value}");
        assert!(err.to_string().contains(variable), "{err}");
    }
}

#[test]
fn empty_or_missing_secret_is_refused() {
    assert!(matches!(
        SessionConfig::new(""),
        Err(ConfigError::EmptySecret)
    ));
    let empty = [("SECRET_KEY", "")];
    assert!(matches!(
        SessionConfig::from_lookup(lookup(&empty)),
        Err(ConfigError::EmptySecret)
    ));
    assert!(matches!(
        SessionConfig::from_lookup(|_| None),
        Err(ConfigError::MissingSecret)
    ));
    assert!(ConfigError::MissingSecret
        .to_string()
        .contains("SECRET_KEY"));
}

#[test]
fn secrets_never_show() {
    let config = session(&[("SECRET_KEY_FALLBACKS", OLD_SECRET)]).expect("valid");
    let debug = format!("{config:?} {:?}", config.keys());
    assert!(
        !debug.contains(SECRET) && !debug.contains(OLD_SECRET),
        "{debug}"
    );
    assert!(debug.contains("cookie_name"), "{debug}");
}

#[test]
fn fallbacks_verify_old_signatures() {
    let old = SessionConfig::new(OLD_SECRET).expect("valid");
    let now = datetime!(2024-06-01 12:00:00 UTC);
    let mut data = Map::new();
    data.insert("visit".into(), Value::from(1));
    let signed = old.codec().encode(&data, now);

    let current = SessionConfig::new(SECRET).expect("valid");
    assert!(current.codec().decode(&signed, None, now).is_err());
    let rotated = current.with_fallbacks(["", OLD_SECRET]);
    assert_eq!(
        rotated.keys().fallbacks().len(),
        1,
        "empty fallbacks are dropped"
    );
    let decoded = rotated
        .codec()
        .decode(&signed, None, now)
        .expect("verifies");
    assert!(decoded.fallback);
    assert_eq!(decoded.data, data);
    // The signed_cookies engine signs with another salt.
    assert!(rotated
        .signed_cookies_codec()
        .decode(&signed, None, now)
        .is_err());
}

#[test]
fn the_clock_is_injectable() {
    let at = datetime!(2024-06-01 12:00:00.25 UTC);
    let clock = ManualClock::new(at);
    let config = SessionConfig::new(SECRET)
        .expect("valid")
        .with_clock(clock.clone());
    assert_eq!(config.now(), at);
    clock.advance(time::Duration::seconds(5));
    assert_eq!(config.clone().now(), at + time::Duration::seconds(5));
    assert_eq!(config.clock().now(), at + time::Duration::seconds(5));
}

#[test]
fn weak_secret_reasons_are_djangos() {
    assert!(secret_warnings(SECRET).is_empty());
    assert_eq!(
        secret_warnings("short-but-varied"),
        ["shorter than 50 characters"]
    );
    assert_eq!(
        secret_warnings(&"ab".repeat(30)),
        ["fewer than 5 distinct characters"]
    );
    let insecure = format!("django-insecure-{SECRET}");
    assert_eq!(
        secret_warnings(&insecure),
        ["starts with \"django-insecure-\""]
    );
    assert_eq!(secret_warnings("aaaa").len(), 2);
}

#[test]
fn weak_secrets_are_logged_without_the_secret() {
    let captured = common::logs::Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let weak = "django-insecure-tiny";
    let weak_fallback = "zzzzzzzzzz";
    tracing::subscriber::with_default(subscriber, || {
        let strong = SessionConfig::new(SECRET).expect("valid");
        assert!(captured.text().is_empty(), "strong key: no warning");
        drop(strong);
        let _config = SessionConfig::new(weak)
            .expect("weak keys still work")
            .with_fallbacks([weak_fallback]);
    });
    let log = captured.text();
    assert!(log.contains("W009"), "{log}");
    assert!(log.contains("W025"), "{log}");
    assert!(log.contains("shorter than 50 characters"), "{log}");
    assert!(!log.contains(weak) && !log.contains(weak_fallback), "{log}");
}

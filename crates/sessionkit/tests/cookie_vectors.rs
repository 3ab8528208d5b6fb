//! The cookie wire format against values produced by real Django 5.2
//! (`django-vectors/cookies.json`): `parse_cookie`, `http_date`, and every
//! `Set-Cookie` the middleware emitted, byte for byte.

mod common;

use std::collections::HashMap;

use http::header::{COOKIE, VARY};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use sessionkit::config::SessionConfig;
use sessionkit::cookie::{
    cookie_value, delete_cookie, http_date, parse_cookie, patch_vary, set_cookie,
};
use time::OffsetDateTime;

/// What the middleware did in each vector case that set a cookie.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A session cookie with `SESSION_COOKIE_AGE` as its age.
    DefaultAge,
    /// A session cookie with an explicit age from `set_expiry`.
    Age(i64),
    /// A browser-session cookie (no `expires`, no `Max-Age`).
    BrowserClose,
    /// `delete_cookie`.
    Delete,
}

/// Case name → what produced its `Set-Cookie`. A case missing here fails the
/// test, so new vectors cannot slip by unchecked.
const EXPECTED: &[(&str, Expect)] = &[
    ("new_session_default_settings", Expect::DefaultAge),
    ("secure_domain_samesite_strict", Expect::DefaultAge),
    ("expire_at_browser_close", Expect::BrowserClose),
    ("set_expiry_0", Expect::BrowserClose),
    ("set_expiry_300", Expect::Age(300)),
    ("set_expiry_timedelta_1h", Expect::Age(3600)),
    ("set_expiry_negative", Expect::Age(-10)),
    ("samesite_none", Expect::DefaultAge),
    ("samesite_false_httponly_false", Expect::DefaultAge),
    ("custom_name_path_age", Expect::DefaultAge),
    ("flush_with_cookie_delete", Expect::Delete),
    (
        "flush_with_cookie_delete_custom_domain_path",
        Expect::Delete,
    ),
    ("flush_with_cookie_delete_samesite_none", Expect::Delete),
    ("save_every_request_not_accessed", Expect::DefaultAge),
    ("save_every_request_unknown_cookie", Expect::DefaultAge),
    ("unknown_key_then_set", Expect::DefaultAge),
    ("short_cookie_value_deleted", Expect::Delete),
    ("cycle_key", Expect::DefaultAge),
    ("existing_vary_header", Expect::DefaultAge),
    ("emptied_not_flushed", Expect::DefaultAge),
    ("signed_cookies_new_session", Expect::DefaultAge),
    ("signed_cookies_tampered", Expect::DefaultAge),
    ("signed_cookies_flush", Expect::Delete),
];

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
}

/// The reference instant, 2024-06-01T12:00:00.25Z, from the vectors.
fn reference_now(vectors: &Value) -> OffsetDateTime {
    common::iso(str_of(vectors, "reference_now"))
}

/// A config from a case's Django settings, through the same parser as the
/// environment: every setting value rendered as its environment text.
fn config_for(settings: &Value) -> SessionConfig {
    let settings = settings.as_object().expect("settings is an object");
    let mut env: HashMap<String, String> = settings
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => panic!("unexpected setting {name} = {other}"),
            };
            (name.clone(), text)
        })
        .collect();
    env.insert("SECRET_KEY".into(), "x".repeat(50));
    SessionConfig::from_lookup(|name| env.get(name).cloned())
        .unwrap_or_else(|e| panic!("settings {settings:?}: {e}"))
}

#[test]
fn parse_cookie_matches_django() {
    let vectors = common::vectors("cookies.json");
    let cases = vectors["parse_cookie_cases"].as_array().expect("array");
    assert!(!cases.is_empty());
    for case in cases {
        let header = str_of(case, "cookie_header");
        // Django returns a dict: the last duplicate wins.
        let got: HashMap<String, String> = parse_cookie(header).into_iter().collect();
        let expected: HashMap<String, String> = case["parsed"]
            .as_object()
            .expect("parsed is an object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_owned()))
            .collect();
        assert_eq!(got, expected, "Cookie: {header}");

        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(header).expect("ascii header"));
        for (name, value) in &expected {
            assert_eq!(
                cookie_value(&headers, name).as_ref(),
                Some(value),
                "{header}"
            );
        }
    }
}

#[test]
fn duplicate_session_cookie_last_wins() {
    let vectors = common::vectors("cookies.json");
    let case = vectors["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == "duplicate_cookie_last_wins")
        .expect("case present");
    let mut headers = HeaderMap::new();
    let header = str_of(case, "request_cookie_header");
    headers.insert(COOKIE, HeaderValue::from_str(header).expect("ascii"));
    assert_eq!(
        cookie_value(&headers, "sessionid").as_deref(),
        Some(str_of(case, "session_key_after"))
    );
}

#[test]
fn http_date_matches_django() {
    let vectors = common::vectors("cookies.json");
    let examples = vectors["http_date_examples"].as_array().expect("array");
    assert!(!examples.is_empty());
    for example in examples {
        let epoch = example["epoch"].as_f64().expect("number").floor() as i64;
        assert_eq!(http_date(epoch), str_of(example, "http_date"), "{example}");
    }
}

#[test]
fn set_cookie_matches_django_byte_for_byte() {
    let vectors = common::vectors("cookies.json");
    let now = reference_now(&vectors);
    let expected: HashMap<&str, Expect> = EXPECTED.iter().copied().collect();
    let mut checked = 0;
    for case in vectors["cases"].as_array().expect("cases") {
        let name = str_of(case, "name");
        let Some(headers) = case["set_cookie"].as_array().filter(|h| !h.is_empty()) else {
            continue;
        };
        let expect = *expected
            .get(name)
            .unwrap_or_else(|| panic!("case {name} sets a cookie: add it to EXPECTED"));
        let config = config_for(&case["settings"]);
        let got = match expect {
            Expect::Delete => delete_cookie(&config),
            other => {
                let value = str_of(case, "session_key_after");
                let max_age = match other {
                    Expect::DefaultAge => Some(config.cookie_age),
                    Expect::Age(age) => Some(age),
                    _ => None,
                };
                set_cookie(&config, value, max_age, now)
            }
        };
        assert_eq!(headers.len(), 1, "{name}");
        assert_eq!(got, headers[0].as_str().expect("string"), "{name}");
        checked += 1;
    }
    assert_eq!(
        checked,
        EXPECTED.len(),
        "every case in EXPECTED was checked"
    );
}

fn vary_after(existing: &[&'static str]) -> Vec<String> {
    let mut headers = HeaderMap::new();
    for value in existing {
        headers.append(VARY, HeaderValue::from_static(value));
    }
    patch_vary(&mut headers);
    headers
        .get_all(VARY)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

#[test]
fn vary_is_patched_like_django() {
    assert_eq!(vary_after(&[]), ["Cookie"]);
    assert_eq!(
        vary_after(&["Accept-Encoding"]),
        ["Accept-Encoding, Cookie"]
    );
    assert_eq!(vary_after(&["*"]), ["*"]);
    assert_eq!(vary_after(&["cookie"]), ["cookie"]);
    assert_eq!(
        vary_after(&["Accept-Encoding, cookie"]),
        ["Accept-Encoding, cookie"]
    );
}

#[test]
fn vary_vector_case() {
    let vectors = common::vectors("cookies.json");
    let case = vectors["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == "existing_vary_header")
        .expect("case present");
    assert_eq!(vary_after(&["Accept-Encoding"]), [str_of(case, "vary")]);
}

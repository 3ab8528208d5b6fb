//! Both directions at rest: one side writes with its own API, the other
//! reads the store directly (Django's `interop` management command, or
//! sessionkit's `SessionStore::load`).

use serde_json::{json, Value};
use sessionkit::expiry::parse_isoformat;
use time::OffsetDateTime;

use super::{date, django_found, raw_value, str_of, COOKIE, COOKIE_AGE, SLACK_SECONDS};
use crate::client::Client;
use crate::harness::{Backend, Harness, TableOrder, OLD_SECRET, SECRET};
use crate::payloads::{cases, Case};

/// Checks that Django's and sessionkit's reads of one stored session agree
/// with each other and with what was written.
fn check_agree(ctx: &str, h: &Harness, case: &Case, key: &str, django: &Value, rust: &Value) {
    let ctx = format!("{ctx}, case {}", case.name);
    // signed_cookies ignores set_expiry server-side (Django #19201).
    let expect_found = !case.expired || h.backend == Backend::SignedCookies;
    assert_eq!(
        django_found(django),
        expect_found,
        "{ctx}: Django found? {django}"
    );
    assert_eq!(
        rust["found"],
        json!(expect_found),
        "{ctx}: sessionkit found? {rust}"
    );
    if !expect_found {
        return;
    }
    let expected = case.expected_data();
    let order: Vec<&String> = expected
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    for (side, read) in [("Django", django), ("sessionkit", rust)] {
        assert_eq!(read["data"], expected, "{ctx}: {side} read other data");
        assert_eq!(
            read["keys"],
            json!(order),
            "{ctx}: {side} read the keys in another order"
        );
    }
    assert_eq!(
        django["browser_close"], rust["browser_close"],
        "{ctx}: browser_close"
    );
    assert_eq!(
        django["browser_close"],
        json!(case.stored_expiry == Some(json!(0))),
        "{ctx}: browser_close"
    );
    let (d_age, r_age) = (django["expiry_age"].as_i64(), rust["expiry_age"].as_i64());
    let (d_date, r_date) = (
        date(&django["expiry_date"], &ctx),
        date(&rust["expiry_date"], &ctx),
    );
    match &case.stored_expiry {
        // An absolute expiry: the same instant on both sides, exactly.
        Some(Value::String(at)) => {
            let at = parse_isoformat(at).expect("a case's ISO date");
            assert_eq!((d_date, r_date), (at, at), "{ctx}: expiry_date");
            let (d, r) = (d_age.unwrap_or(0), r_age.unwrap_or(0));
            assert!(
                (d - r).abs() <= SLACK_SECONDS,
                "{ctx}: expiry_age {d} vs {r}"
            );
        }
        // A number (or none): Django returns it (or the cookie age) as is.
        other => {
            let n = other
                .as_ref()
                .and_then(Value::as_i64)
                .filter(|&n| n != 0)
                .unwrap_or(COOKIE_AGE);
            assert_eq!((d_age, r_age), (Some(n), Some(n)), "{ctx}: expiry_age");
            let gap = (d_date - r_date).whole_seconds().abs();
            assert!(
                gap <= SLACK_SECONDS,
                "{ctx}: expiry_date {d_date} vs {r_date}"
            );
        }
    }
    match h.backend {
        // Both read the same row's expire_date: equal to the microsecond.
        Backend::DbSqlite | Backend::DbPostgres | Backend::DbMysql => {
            let stored = date(&django["stored"]["expire_date"], &ctx);
            let record = date(&rust["expires_at"], &ctx);
            assert_eq!(
                stored, record,
                "{ctx}: the row's expire_date as Django and sessionkit read it"
            );
        }
        Backend::File => {
            assert_eq!(
                django["stored"]["mode"],
                json!(0o600),
                "{ctx}: session file mode"
            );
        }
        Backend::SignedCookies => {}
    }
    if case.name == "compressed" {
        let raw = raw_value(h.backend, key, django);
        assert!(
            raw.starts_with('.'),
            "{ctx}: a large payload is stored compressed: {raw:.40}"
        );
    }
}

/// The read operations for `keys`.
pub(super) fn read_ops(keys: &[String]) -> Vec<Value> {
    keys.iter()
        .map(|k| json!({ "op": "read", "key": k }))
        .collect()
}

/// Both directions at rest, every case; rows signed with a fallback key; and
/// the bytes Django wrote re-made byte for byte by sessionkit's codec. For
/// `db`, sessionkit creates the table and Django runs `migrate --fake-initial`.
pub async fn at_rest(backend: Backend) {
    let Some(h) = Harness::new(backend, TableOrder::SessionkitFirst).await else {
        return;
    };
    let settings = h.settings();
    if backend.is_db() {
        let shown = h
            .django
            .manage(&settings, &["showmigrations", "sessions"], "")
            .await;
        assert!(
            shown.contains("[X] 0001_initial"),
            "migrate --fake-initial recorded sessions.0001: {shown}"
        );
    }
    let cases = cases();

    // Django writes; sessionkit reads (first: Django's file engine deletes
    // an expired file when it reads it); then Django reads, for reference.
    let written = h
        .django_ops(
            &settings,
            &cases.iter().map(Case::write_op).collect::<Vec<_>>(),
        )
        .await;
    let keys: Vec<String> = written
        .iter()
        .map(|w| str_of(&w["key"], "written key").to_owned())
        .collect();
    let mut rust_reads = Vec::new();
    for key in &keys {
        rust_reads.push(h.rust_read(&settings, key).await);
    }
    let django_reads = h.django_ops(&settings, &read_ops(&keys)).await;
    let config = h.session_config(&settings);
    for (((case, key), d), r) in cases.iter().zip(&keys).zip(&django_reads).zip(&rust_reads) {
        check_agree("Django wrote, sessionkit read", &h, case, key, d, r);
        // sessionkit's codec re-makes Django's bytes exactly from the same
        // data and timestamp (JSON bytes, zlib stream, signature).
        let raw = match backend {
            Backend::SignedCookies => key.as_str(),
            Backend::File if case.expired => continue,
            _ => match written[cases.iter().position(|c| c.name == case.name).unwrap_or(0)]
                ["stored"]
            {
                Value::Null => continue,
                ref stored => stored
                    .get("session_data")
                    .or_else(|| stored.get("content"))
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{}: no stored value: {stored}", case.name)),
            },
        };
        let codec = match backend {
            Backend::SignedCookies => config.signed_cookies_codec(),
            _ => config.codec(),
        };
        let decoded = codec
            .decode(raw, None, OffsetDateTime::now_utc())
            .unwrap_or_else(|e| {
                panic!(
                    "{}: sessionkit cannot verify Django's value: {e}",
                    case.name
                )
            });
        let at = OffsetDateTime::from_unix_timestamp(decoded.timestamp).expect("a timestamp");
        assert_eq!(
            codec.encode(&decoded.data, at),
            raw,
            "{}: re-encoded bytes differ from Django's",
            case.name
        );
    }

    // sessionkit writes (through its middleware); Django reads.
    let app = h.rust_app(&settings).await;
    let mut keys = Vec::new();
    for case in &cases {
        let reply = Client::new()
            .post_json(&app.url("/set/"), &case.set_body())
            .await;
        assert_eq!(reply.status, 200, "{}: {}", case.name, reply.body);
        let cookie = reply
            .set_cookie(COOKIE)
            .unwrap_or_else(|| panic!("{}: sessionkit set no cookie", case.name));
        keys.push(cookie.value.clone());
    }
    drop(app);
    let mut rust_reads = Vec::new();
    for key in &keys {
        rust_reads.push(h.rust_read(&settings, key).await);
    }
    let django_reads = h.django_ops(&settings, &read_ops(&keys)).await;
    for (((case, key), d), r) in cases.iter().zip(&keys).zip(&django_reads).zip(&rust_reads) {
        check_agree("sessionkit wrote, Django read", &h, case, key, d, r);
    }

    // A row signed with a key that is now a fallback, both ways.
    let old = settings.clone().with_keys(OLD_SECRET, &[]);
    let rotated = settings.clone().with_keys(SECRET, &[OLD_SECRET]);
    let case = &cases[0];
    let by_django = h.django_ops(&old, &[case.write_op()]).await;
    let key = str_of(&by_django[0]["key"], "written key").to_owned();
    let read = h.rust_read(&rotated, &key).await;
    assert_eq!(
        (&read["found"], &read["data"]),
        (&json!(true), &case.expected_data()),
        "Django signed with a fallback key, sessionkit read"
    );
    assert_eq!(
        h.rust_read(&settings, &key).await["found"],
        json!(false),
        "without the fallback, sessionkit must not read it"
    );

    let app = h.rust_app(&old).await;
    let reply = Client::new()
        .post_json(&app.url("/set/"), &case.set_body())
        .await;
    let key = reply.set_cookie(COOKIE).expect("a cookie").value.clone();
    drop(app);
    let reads = h
        .django_ops(&rotated, &read_ops(std::slice::from_ref(&key)))
        .await;
    assert!(
        django_found(&reads[0]),
        "sessionkit signed with a fallback key, Django read: {}",
        reads[0]
    );
    assert_eq!(reads[0]["data"], case.expected_data());
    let reads = h.django_ops(&settings, &read_ops(&[key])).await;
    assert!(
        !django_found(&reads[0]),
        "without the fallback, Django must not read it: {}",
        reads[0]
    );
}

/// A value Django can hold that JSON-in-Rust might not: Django writes
/// `{"edge": <raw JSON>, "visit": 1}` (SQLite `db`), sessionkit counts a
/// visit on it, and Django must then read exactly `expected_repr` (Python's
/// `repr` of the dict: ints and floats, NaN and surrogates told apart).
pub async fn edge_value(raw: &str, expected_repr: &str) {
    let Some(h) = Harness::new(Backend::DbSqlite, TableOrder::DjangoFirst).await else {
        return;
    };
    let settings = h.settings();
    let ops = format!(r#"[{{"op": "write", "data": {{"edge": {raw}, "visit": 1}}}}]"#);
    let written = h.django.interop_raw(&settings, &ops).await;
    let key = str_of(&written[0]["key"], "written key");
    let app = h.rust_app(&settings).await;
    let client = Client::with_cookie(COOKIE, key);
    let reply = client.get(&app.url("/visit/")).await;
    assert_eq!(
        reply.body, "Visit count:2",
        "sessionkit reads Django's session holding {raw}"
    );
    drop(app);
    let key = client.cookie(COOKIE).expect("the session cookie");
    let read = &h
        .django_ops(&settings, &[json!({"op": "repr", "key": key})])
        .await[0];
    assert_eq!(
        read["repr"],
        json!(expected_repr),
        "Django reads back what it wrote, after sessionkit saved it"
    );
}

//! Values only Python's JSON holds (`NaN`, integers beyond 64 bits, lone
//! surrogates, deep nesting) in sessions Django signed: they decode, and encode
//! back to Django's exact bytes.
//!
//! The signed strings were made by Django 5.2 (`signing.dumps(obj,
//! salt=SESSION_SALT, compress=True)`, `time.time()` frozen at 1717243200.5) with
//! the vectors' secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sessionkit::expiry::{expire_at_browser_close, expiry_age, expiry_date, EXPIRY_KEY};
use sessionkit::signing::json::to_python_json;
use sessionkit::signing::python_json::{
    raw_key_token, raw_token, raw_value, MAX_DEPTH, RAW_JSON_KEY,
};
use sessionkit::signing::{self, Codec, Keys, SecretKey, Signer, SigningError, SESSION_SALT};
use time::{Duration, OffsetDateTime};

const SECRET: &str = "django-insecure-rust-compat-vectors-0123456789-abcdefghijklmnopqrstuvwxyz";
const TS: i64 = 1_717_243_200;

/// (name, Django's signed session, Django's JSON of it or `-` when too long).
const DJANGO: &[(&str, &str, &str)] = &[
    ("non_finite", "eyJlZGdlIjpbTmFOLEluZmluaXR5LC1JbmZpbml0eV0sInZpc2l0IjoxfQ:1sDNOy:CaFy81ltYsAt4USbCCimsh6v5WbYJvQJstOod79ovEA", r#"{"edge":[NaN,Infinity,-Infinity],"visit":1}"#),
    ("big_ints", ".eJx1jEsKwjAURfeSqS28b17iZkKFKIEaBS0I4t5NETKKF-7kfs7bncrFHREDaERPYGiCyMBCMrmaWzn_azcv6bq80n3dHgkbJYh4EwFjg6iKHv3kyr4qdfdvNkciZiNgH1TMNEDssCFFO2X4DpM7r7flmTATNUA-ELVH7QEM9fkCjPw9KQ:1sDNOy:UunNXLA-F9vsfBzEX3x5UTJSqg6moeynIakYR8h1MrA", r#"{"big":1180591620717411303424,"neg":-1180591620717411303424,"u64_max_plus_1":18446744073709551616,"i64_min_minus_1":-9223372036854775809,"u64_max":18446744073709551615,"i64_min":-9223372036854775808,"float_1e22":1e+22,"int_1e22":10000000000000000000000}"#),
    ("lone_surrogates", ".eJyrVipWslKKKU2xMDCoUNIBsZINDLJTK4GiZUB-QWJmEVSBcQqQTDUwAIrmZlakpihZRUPFgSKJQFZaWhrYBAODVEul2FoAy6ka6A:1sDNOy:4JzwUa4JD-Psp9xMYnyOtJb9i_5JE2XOCqhD6_EQ0Bc", r#"{"s":"\ud800x","\udc00key":"v","pair":"\ud83d\ude00","mixed":["\ud83d","a\udfff","\u00e9"]}"#),
    ("nested", ".eJyrVkpUsqpWSlKyiq5WSlay8kv0q9UxNMALYmt1lOKLU4uLM_Pz4lMrCjKLKpWsDI0MLM0MDIAyiaUlGfGlxalF8ZkpSlZKJkZKtQBk8BxZ:1sDNOy:YRr8WOJDWqbjYxInrIIL2Wnl9fW4yuFlYToJGlAxJRU", r#"{"a":{"b":[{"c":NaN},1000000000000000000000000000000]},"_session_expiry":1209600,"_auth_user_id":"42"}"#),
    ("big_expiry", ".eJyrVoovTi0uzszPi0-tKMgsqlSyMjTACnSUyjKLM0uUrIxrAb2eDzc:1sDNOy:y_Th2xL-BzHi8Q4TCNFLk8OzQoFc-LmsrnciAY5D49o", r#"{"_session_expiry":10000000000000000000000,"visit":3}"#),
    ("nan_expiry", "eyJfc2Vzc2lvbl9leHBpcnkiOk5hTiwidmlzaXQiOjN9:1sDNOy:w2_Pc-4-s18edVT5wZW4wc9Ssw44RqsWvU6T_YVAfKI", r#"{"_session_expiry":NaN,"visit":3}"#),
    // {"deep": 200 alternating dicts and lists around {"x": NaN}}: beyond serde_json's 128.
    ("deep", ".eJyrVkpJTS1QsoquVkoZJUdJapPVShVKVn6JfrW1scMEAgCAcwcX:1sDNOy:UlTcXMucErqKMiNX2X8ih0F1fUFiwCt8g88_HAl1GcI", "-"),
];

/// Django's `signing.dumps(float("nan"), salt=SESSION_SALT, compress=True)`.
const DJANGO_TOP_LEVEL_NAN: &str = "TmFO:1sDNOy:L043ICmoVHKuayZREA6AdAQsb90BgrrlQQk6qUidOi4";

fn keys() -> Keys {
    Keys::new(SecretKey::new(SECRET), vec![]).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(TS).expect("in range")
}

fn decode(signed: &str) -> Result<Map<String, Value>, SigningError> {
    Codec::sessions(&keys())
        .decode(signed, None, now())
        .map(|d| d.data)
}

fn django(name: &str) -> Map<String, Value> {
    let Some((_, signed, _)) = DJANGO.iter().find(|(n, _, _)| *n == name) else {
        panic!("no case {name}")
    };
    decode(signed).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn raw(token: &str) -> Value {
    raw_value(token).unwrap_or_else(|| panic!("{token} is a raw token"))
}

/// A payload signed as Django would sign it, for JSON Django never writes.
fn sign_json(text: &str) -> String {
    Signer::new(&keys(), SESSION_SALT).sign(&URL_SAFE_NO_PAD.encode(text), TS)
}

#[test]
fn django_sessions_re_encode_byte_for_byte() {
    let codec = Codec::sessions(&keys());
    for (name, signed, text) in DJANGO {
        let data = decode(signed).unwrap_or_else(|e| panic!("{name}: {e}"));
        if *text != "-" {
            assert_eq!(
                to_python_json(&Value::Object(data.clone())),
                *text,
                "{name}"
            );
        }
        assert_eq!(codec.encode(&data, now()), *signed, "{name}");
        // And through the general `loads`/`dumps`.
        let verified = signing::loads(signed, &keys(), SESSION_SALT, None, now())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.value, Value::Object(data), "{name}");
        let again = signing::dumps(&verified.value, &keys(), SESSION_SALT, true, now());
        assert_eq!(again, *signed, "{name}");
    }
}

#[test]
fn what_the_app_sees() {
    let d = django("non_finite");
    assert_eq!(
        d["edge"],
        json!([raw("NaN"), raw("Infinity"), raw("-Infinity")])
    );
    assert_eq!(d["edge"][0], json!({ RAW_JSON_KEY: "NaN" }));
    assert_eq!(raw_token(&d["edge"][2]), Some("-Infinity"));
    assert_eq!(d["visit"], json!(1));

    let d = django("big_ints");
    assert_eq!(raw_token(&d["big"]), Some("1180591620717411303424"));
    assert_eq!(raw_token(&d["neg"]), Some("-1180591620717411303424"));
    assert_eq!(
        raw_token(&d["u64_max_plus_1"]),
        Some("18446744073709551616")
    );
    assert_eq!(
        raw_token(&d["i64_min_minus_1"]),
        Some("-9223372036854775809")
    );
    assert_eq!(raw_token(&d["int_1e22"]), Some("10000000000000000000000"));
    // What Value holds stays a number: the 64-bit extremes, and a float that large.
    assert_eq!(d["u64_max"], json!(u64::MAX));
    assert_eq!(d["i64_min"], json!(i64::MIN));
    assert_eq!(d["float_1e22"], json!(1e22));

    let d = django("lone_surrogates");
    assert_eq!(raw_token(&d["s"]), Some(r#""\ud800x""#));
    assert_eq!(d["pair"], json!("😀"));
    assert_eq!(
        d["mixed"],
        json!([raw(r#""\ud83d""#), raw(r#""a\udfff""#), "é"])
    );
    let keys: Vec<&str> = d.keys().map(String::as_str).collect();
    let odd_key = format!("{RAW_JSON_KEY}\"\\udc00key\"");
    assert_eq!(keys, ["s", odd_key.as_str(), "pair", "mixed"]);
    assert_eq!(raw_key_token(keys[1]), Some(r#""\udc00key""#));

    let d = django("nested");
    assert_eq!(
        d["a"],
        json!({"b": [{"c": raw("NaN")}, raw("1000000000000000000000000000000")]})
    );
    assert_eq!(d["_auth_user_id"], json!("42"));

    let d = django("deep");
    let mut v = &d["deep"];
    let mut depth = 0;
    while let Some(inner) = v.get("d").or_else(|| v.get(0)) {
        v = inner;
        depth += 1;
    }
    assert_eq!((depth, v), (200, &json!({"x": raw("NaN")})));
}

#[test]
fn an_expiry_only_python_holds_means_the_default_age() {
    let cookie_age = 1_209_600;
    for name in ["big_expiry", "nan_expiry"] {
        let d = django(name);
        let expiry = d.get(EXPIRY_KEY);
        assert!(expiry.and_then(raw_token).is_some(), "{name}");
        assert_eq!(expiry_age(expiry, now(), cookie_age), cookie_age, "{name}");
        assert_eq!(
            expiry_date(expiry, now(), cookie_age),
            now() + Duration::seconds(cookie_age),
            "{name}"
        );
        assert!(!expire_at_browser_close(expiry, false), "{name}");
        assert!(!expire_at_browser_close(expiry, true), "{name}");
    }
}

#[test]
fn a_top_level_value_only_python_holds_is_not_a_session() {
    let verified = signing::loads(DJANGO_TOP_LEVEL_NAN, &keys(), SESSION_SALT, None, now())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(raw_token(&verified.value), Some("NaN"));
    assert_eq!(
        signing::dumps(&verified.value, &keys(), SESSION_SALT, true, now()),
        DJANGO_TOP_LEVEL_NAN
    );
    assert!(matches!(
        decode(DJANGO_TOP_LEVEL_NAN),
        Err(SigningError::NotAnObject)
    ));
    assert!(matches!(
        decode(&sign_json(r#" "\ud800" "#)),
        Err(SigningError::NotAnObject)
    ));
}

#[test]
fn duplicate_keys_keep_the_first_place_and_the_last_value() {
    // Django never writes these, but Python reads them so.
    let d = decode(&sign_json(r#"{"a":1,"b":NaN,"a":Infinity}"#)).unwrap_or_default();
    assert_eq!(
        to_python_json(&Value::Object(d)),
        r#"{"a":Infinity,"b":NaN}"#
    );
}

#[test]
fn markers_made_by_the_app_reach_django_as_tokens() {
    let mut data = Map::new();
    data.insert("score".into(), raw("-Infinity"));
    data.insert("id".into(), raw("340282366920938463463374607431768211456"));
    let signed = Codec::sessions(&keys()).encode(&data, now());
    let json = to_python_json(&Value::Object(data.clone()));
    assert_eq!(
        json,
        r#"{"score":-Infinity,"id":340282366920938463463374607431768211456}"#
    );
    assert_eq!(decode(&signed).ok(), Some(data));
}

#[test]
fn marker_lookalikes_are_plain_data() {
    // Whatever a user puts under the reserved key is written as an object, so
    // raw JSON can never be injected, and it reads back unchanged.
    for fake in [
        json!({ RAW_JSON_KEY: "1,\"is_admin\":true" }),
        json!({ RAW_JSON_KEY: "12" }),
        json!({ RAW_JSON_KEY: "\"plain\"" }),
        json!({ RAW_JSON_KEY: "\"\\ud800\",\"x\":\"\\ud800\"" }),
        json!({ RAW_JSON_KEY: ["NaN"] }),
        json!({ RAW_JSON_KEY: "NaN", "other": 1 }),
    ] {
        let mut data = Map::new();
        data.insert("v".into(), fake.clone());
        data.insert(
            format!("{RAW_JSON_KEY}\"x\",\"is_admin\":true,\"y\""),
            json!(1),
        );
        let signed = Codec::sessions(&keys()).encode(&data, now());
        assert_eq!(decode(&signed).ok(), Some(data), "{fake}");
    }
    // A session map is a dict even when it looks like a marker.
    let mut data = Map::new();
    data.insert(RAW_JSON_KEY.into(), json!("NaN"));
    let signed = Codec::sessions(&keys()).encode(&data, now());
    assert_eq!(decode(&signed).ok(), Some(data));
}

#[test]
fn nesting_beyond_the_limit_is_refused_not_a_crash() {
    let deep = |n: usize| format!("{{\"a\":{}NaN{}}}", "[".repeat(n), "]".repeat(n));
    assert!(decode(&sign_json(&deep(MAX_DEPTH - 1))).is_ok());
    assert!(matches!(
        decode(&sign_json(&deep(MAX_DEPTH))),
        Err(SigningError::Json(_))
    ));
    assert!(matches!(
        decode(&sign_json(&deep(100_000))),
        Err(SigningError::Json(_))
    ));
}

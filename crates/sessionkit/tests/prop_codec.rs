//! Property tests of the byte-level pieces (issue 11, F4/F5/F6/F9): the
//! session codec and Python-JSON writer round-trip any session, markers and
//! NUL-prefixed keys included; base62 round-trips every `i64`;
//! `isoformat`/`parse_isoformat` round-trip every instant; only well-formed
//! keys are accepted. The fuzz targets in `fuzz/` cover the same code with
//! hostile bytes; these run on stable inside `cargo test`.

mod common;

use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use sessionkit::expiry::{isoformat, parse_isoformat};
use sessionkit::key::{generate_key, is_valid_key};
use sessionkit::signing::base62;
use sessionkit::signing::json::to_python_json;
use sessionkit::signing::python_json::{raw_key_token, raw_token, RAW_JSON_KEY};
use time::{OffsetDateTime, UtcOffset};

/// Raw tokens Python writes that `Value` cannot hold.
const TOKENS: [&str; 6] = [
    "NaN",
    "Infinity",
    "-Infinity",
    "100000000000000000000000",
    "-18446744073709551617",
    "\"\\ud800\"",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,8}",
        1 => Just(RAW_JSON_KEY.to_owned()),
        1 => Just(format!("{RAW_JSON_KEY}\"\\udc00\"")),
        1 => "\\PC{0,4}".prop_map(|s| format!("{RAW_JSON_KEY}{s}")),
        1 => "\\PC{0,4}".prop_map(|s| format!("\u{0}{s}")),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        "[\\x00-\\x1f\"\\\\\u{7f}-\u{ff}\u{2028}\u{fffd}]{0,6}".prop_map(Value::String),
    ]
}

/// Any JSON value, marker-shaped objects (valid and invalid tokens) included.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            prop::sample::select(TOKENS.to_vec()).prop_map(|t| {
                let mut m = Map::new();
                m.insert(RAW_JSON_KEY.to_owned(), Value::String(t.to_owned()));
                Value::Object(m)
            }),
            "\\PC{0,6}".prop_map(|t| {
                let mut m = Map::new();
                m.insert(RAW_JSON_KEY.to_owned(), Value::String(t));
                Value::Object(m)
            }),
        ]
    })
}

fn session() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), value()), 0..6).prop_map(|kv| kv.into_iter().collect())
}

/// Every instant Python's `datetime` can hold (local years 1 to 9999), with
/// any whole-minute offset. (An earlier one is written as `-0001-…`, which
/// no reader accepts: it then counts as no expiry, the default age.)
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    (
        -377_705_116_800i64..=253_402_300_799,
        0u32..1_000_000_000,
        -1439i32..=1439,
    )
        .prop_filter_map("representable", |(secs, nanos, minutes)| {
            let utc = OffsetDateTime::from_unix_timestamp(secs).ok()?;
            let utc = utc.replace_nanosecond(nanos).ok()?;
            let offset = UtcOffset::from_whole_seconds(minutes * 60).ok()?;
            utc.checked_to_offset(offset)
                .filter(|at| (1..=9999).contains(&at.year()))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// F4: what a session holds comes back unchanged after a save and a load,
    /// whatever it holds (Django keeps the same bytes, so must we).
    #[test]
    fn codec_round_trips_any_session(data in session()) {
        let codec = common::codec();
        let now = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
        let signed = codec.encode(&data, now);
        let back = codec.decode(&signed, None, now).expect("what we encode decodes");
        prop_assert_eq!(back.data, data);
    }

    /// F4: a marker-shaped object whose token is not one Python writes is
    /// plain data: it is written as an ordinary object (its key set survives),
    /// never as the raw token.
    #[test]
    fn invalid_marker_is_plain_data(token in "\\PC{0,8}") {
        let mut m = Map::new();
        m.insert(RAW_JSON_KEY.to_owned(), Value::String(token.clone()));
        let v = Value::Object(m);
        let text = to_python_json(&v);
        if raw_token(&v).is_none() {
            let parsed: Value = serde_json::from_str(&text).expect("plain JSON");
            prop_assert_eq!(parsed, v);
        } else {
            prop_assert_eq!(text, token);
        }
    }

    /// F4: a NUL-prefixed key that is not a lone-surrogate token is an
    /// ordinary key.
    #[test]
    fn nul_prefixed_keys_stay_keys(suffix in "\\PC{0,8}") {
        let key = format!("{RAW_JSON_KEY}{suffix}");
        let mut m = Map::new();
        m.insert(key.clone(), Value::Null);
        let text = to_python_json(&Value::Object(m.clone()));
        if raw_key_token(&key).is_none() {
            let parsed: Value = serde_json::from_str(&text).expect("plain JSON");
            prop_assert_eq!(parsed, Value::Object(m));
        }
    }

    /// F5: every timestamp round-trips; decoding any text never panics and
    /// what it reads round-trips too.
    #[test]
    fn base62_round_trips(n in any::<i64>(), text in "[-0-9A-Za-z+ ]{0,14}") {
        prop_assert_eq!(base62::decode(&base62::encode(n)), Some(n));
        if let Some(m) = base62::decode(&text) {
            prop_assert_eq!(base62::decode(&base62::encode(m)), Some(m));
        }
    }

    /// F6: `_session_expiry` as written reads back as the same instant (to
    /// the microsecond, Python's precision), at any date and offset.
    #[test]
    fn isoformat_round_trips(at in instant()) {
        let micros = at.replace_nanosecond(at.nanosecond() / 1000 * 1000).unwrap();
        prop_assert_eq!(parse_isoformat(&isoformat(at)), Some(micros));
    }

    /// F6: reading any text as an expiry never panics.
    #[test]
    fn parse_isoformat_never_panics(text in "[-+0-9:.TZ ]{0,40}") {
        let _ = parse_isoformat(&text);
    }

    /// F9: only `[a-z0-9]{8,40}` is accepted as a server-side key, so no
    /// byte ≤ 0x20, 0x7f, `/` or `\r\n` reaches a store; generated keys pass.
    #[test]
    fn only_well_formed_keys_are_accepted(text in "\\PC{0,48}|[\\x00-\\x7f]{0,48}") {
        let expected = (8..=40).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        prop_assert_eq!(is_valid_key(&text), expected);
        prop_assert!(is_valid_key(&generate_key()));
    }
}

/// The float proptest found: serde_json's default float reader is off by one
/// ulp on some subnormals, so a float Django wrote read back different and
/// the next save changed it. `float_roundtrip` makes the read exact.
#[test]
fn floats_python_wrote_read_exactly() {
    let expected = -2.151_098_674_402_604_3e-308_f64;
    let text = "{\"f\": -2.1510986744026043e-308}";
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed["f"].as_f64(), Some(expected));
    let codec = common::codec();
    let now = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    let mut data = Map::new();
    data.insert("f".into(), Value::from(expected));
    let back = codec.decode(&codec.encode(&data, now), None, now).unwrap();
    assert_eq!(back.data["f"].as_f64(), Some(expected));
}

//! The signing module against Django's own output (`signing.json`), plus hostile
//! input that must never panic.

#[allow(unreachable_pub)] // shared helpers, not all used here
mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sessionkit::signing::python_json::{raw_token, raw_value};
use sessionkit::signing::{
    self, base62, json::to_python_json, Codec, Keys, MalformedKind, SecretKey, Signer,
    SigningError, SESSION_SALT,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

const SECRET: &str = "django-insecure-rust-compat-vectors-0123456789-abcdefghijklmnopqrstuvwxyz";

/// What a case decodes to: the vectors file, read by serde_json, holds the
/// integers beyond u64 of the `big_int/` cases as floats, but sessionkit keeps
/// them as raw markers (`signing::python_json`) so they re-encode byte for byte.
fn expected_obj(name: &str, obj: &Value) -> Value {
    match raw_value("100000000000000000000") {
        Some(big) if name.starts_with("big_int/") => json!({ "n": big }),
        _ => obj.clone(),
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn keys_of(case: &Value) -> Keys {
    let fallbacks = case["fallback_keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(SecretKey::new)
                .collect()
        })
        .unwrap_or_default();
    Keys::new(SecretKey::new(s(case, "secret")), fallbacks).unwrap()
}

fn at(seconds: i64, nanos: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(seconds) * 1_000_000_000 + i128::from(nanos),
    )
    .expect("time in range")
}

/// A Python `time.time()` float as an exact instant (nanosecond resolution).
fn from_float(now: f64) -> OffsetDateTime {
    let secs = now.floor();
    at(secs as i64, ((now - secs) * 1e9).round() as i64)
}

fn hmac_key(salt: &str, secret: &str) -> [u8; 32] {
    let salt = if salt.is_empty() {
        "django.core.signing.TimestampSigner"
    } else {
        salt
    };
    Sha256::new()
        .chain_update(salt)
        .chain_update("signer")
        .chain_update(secret)
        .finalize()
        .into()
}

/// Django's plain `Signer.sign` (no timestamp added), to craft validly signed
/// messages our API would never produce.
fn sign_raw(salt: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&hmac_key(salt, SECRET)).expect("any key length");
    mac.update(message.as_bytes());
    format!(
        "{message}:{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn dumps_cases_are_byte_identical() {
    let v = common::vectors("signing.json");
    let cases = v["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 49);
    for case in cases {
        let name = s(case, "name");
        let salt = s(case, "salt");
        let keys = keys_of(case);
        let signer = Signer::new(&keys, salt);
        let ts = case["timestamp"].as_i64().expect("timestamp");
        let compress = case["compress"].as_bool().expect("compress");
        let inter = &case["intermediate"];
        let obj = &expected_obj(name, &case["obj"]);
        let encoded = s(case, "encoded");
        // gen.py froze time.time() at timestamp + 0.9: signing must floor it.
        let now = at(ts, 900_000_000);

        // The key derivation and HMAC, step by step.
        let expected_salt = if salt.is_empty() {
            "django.core.signing.TimestampSigner"
        } else {
            salt
        };
        assert_eq!(
            s(inter, "hmac_key_salt"),
            format!("{expected_salt}signer"),
            "{name}"
        );
        assert_eq!(
            hex(&hmac_key(salt, s(case, "secret"))),
            s(inter, "derived_key_hex"),
            "{name}"
        );
        assert_eq!(base62::encode(ts), s(inter, "timestamp_b62"), "{name}");
        let payload = s(inter, "payload_b64");
        let resigned = signer.sign(payload, ts);
        assert_eq!(
            resigned,
            format!("{}:{}", s(inter, "signed_message"), s(inter, "signature")),
            "{name}"
        );
        assert_eq!(resigned, encoded, "{name}");

        // Django's output decodes back to the object, with every entry point.
        let verified = signer
            .loads(encoded, None, now)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&verified.value, obj, "{name}");
        assert_eq!(verified.timestamp, ts, "{name}");
        assert!(!verified.fallback, "{name}");
        let free = signing::loads(encoded, &keys, salt, Some(Duration::seconds(1)), now);
        assert_eq!(free.map(|v| v.value).ok().as_ref(), Some(obj), "{name}");
        if let Some(map) = obj.as_object() {
            let decoded = Codec::new(&keys, salt)
                .decode(encoded, None, now)
                .expect(name);
            assert_eq!(&decoded.data, map, "{name}");
        }

        // Our encoder writes the same bytes: JSON, compression decision, signature.
        assert_eq!(to_python_json(obj), s(inter, "json"), "{name}");
        assert_eq!(signer.dumps(obj, compress, now), encoded, "{name}");
        assert_eq!(
            signing::dumps(obj, &keys, salt, compress, now),
            encoded,
            "{name}"
        );
        assert_eq!(
            payload.starts_with('.'),
            inter["compressed"] == true,
            "{name}"
        );
        if compress {
            if let Some(map) = obj.as_object() {
                assert_eq!(Codec::new(&keys, salt).encode(map, now), encoded, "{name}");
            }
        }
    }
}

#[test]
fn verification_cases() {
    let v = common::vectors("signing.json");
    let cases = v["verification_cases"]
        .as_array()
        .expect("verification_cases");
    assert_eq!(cases.len(), 27);
    for case in cases {
        let name = s(case, "name");
        let keys = keys_of(case);
        let salt = s(case, "salt");
        let now = from_float(case["now"].as_f64().expect("now"));
        let max_age = case["max_age"].as_f64().map(Duration::seconds_f64);
        let encoded = s(case, "encoded");
        let result = Signer::new(&keys, salt).loads(encoded, max_age, now);
        match s(case, "expected_outcome") {
            "ok" => {
                let got = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(got.value, case["expected_obj"], "{name}");
                let by_fallback = name == "signed_with_old_key_fallback_configured";
                assert_eq!(got.fallback, by_fallback, "{name}");
                let decoded = Codec::new(&keys, salt)
                    .decode(encoded, max_age, now)
                    .expect(name);
                assert_eq!(decoded.fallback, by_fallback, "{name}");
                assert_eq!(Value::Object(decoded.data), case["expected_obj"], "{name}");
            }
            "BadSignature" => {
                assert!(
                    matches!(result, Err(SigningError::BadSignature)),
                    "{name}: {result:?}"
                )
            }
            "SignatureExpired" => {
                assert!(
                    matches!(result, Err(SigningError::Expired { .. })),
                    "{name}: {result:?}"
                )
            }
            "JSONDecodeError" => {
                assert!(
                    matches!(result, Err(SigningError::Json(_))),
                    "{name}: {result:?}"
                )
            }
            other => panic!("{name}: unknown outcome {other}"),
        }
    }
}

#[test]
fn serializer_cases() {
    let v = common::vectors("signing.json");
    let mut checked = 0;
    for case in v["serializer_cases"].as_array().expect("serializer_cases") {
        let name = s(case, "name");
        // `non_finite` (NaN/Infinity) and `int_keys_become_strings` (a Python dict
        // with int/float/None keys) have no serde_json::Value counterpart.
        if name == "non_finite" || name == "int_keys_become_strings" {
            continue;
        }
        let want = s(case, "json");
        let value: Value = serde_json::from_str(want).expect(name);
        assert_eq!(to_python_json(&value), want, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn b62_cases() {
    let v = common::vectors("signing.json");
    for case in v["b62_cases"].as_array().expect("b62_cases") {
        let n = case["n"].as_i64().expect("n");
        assert_eq!(base62::encode(n), s(case, "b62"));
        assert_eq!(base62::decode(s(case, "b62")), Some(n));
    }
}

#[test]
fn seed_example() {
    let v = common::vectors("signing.json");
    let seed = &v["seed_example"];
    let encoded = s(seed, "encoded");
    let parts: Vec<&str> = encoded.split(':').collect();
    assert_eq!(parts.len(), 3);
    let json = URL_SAFE_NO_PAD.decode(parts[0]).expect("payload is base64");
    assert_eq!(json, s(seed, "payload_json").as_bytes());
    let ts = base62::decode(parts[1]).expect("timestamp is base62");
    assert_eq!(Some(ts), seed["timestamp"].as_i64());
    assert_eq!(at(ts, 0), common::iso(s(seed, "timestamp_utc")));
    assert_eq!(parts[2].len(), 43);
    // Our encoder produces the same payload and timestamp for the same session.
    let keys = Keys::new(SecretKey::new(SECRET), vec![]).unwrap();
    let ours = Codec::sessions(&keys).encode(
        json!({"visit": 11}).as_object().expect("object"),
        at(ts, 999_999_999),
    );
    assert!(ours.starts_with("eyJ2aXNpdCI6MTF9:1ov84c:"), "{ours}");
    // Its secret is unknown: with ours it is just a bad signature.
    let result = Codec::sessions(&keys).decode(encoded, None, at(ts, 0));
    assert!(matches!(result, Err(SigningError::BadSignature)));
}

fn codec() -> Codec {
    Codec::sessions(&Keys::new(SecretKey::new(SECRET), vec![SecretKey::new("old")]).unwrap())
}

fn malformed_kind(r: Result<impl std::fmt::Debug, SigningError>) -> Option<MalformedKind> {
    match r {
        Err(SigningError::Malformed(m)) => Some(m.kind()),
        _ => None,
    }
}

#[test]
fn garbage_is_a_bad_signature_never_a_panic() {
    let now = at(1_717_243_200, 0);
    let long_colons = ":".repeat(5000);
    let long_a = "a".repeat(5000);
    let long_valid_shape = format!("{}:1sDNOy:{}", "e".repeat(6000), "A".repeat(43));
    let inputs = [
        "",
        ":",
        "::",
        "::::",
        "a:b:c",
        "é:ü:ñ",
        "😀😀😀:😀:😀",
        "\0:\0:\0",
        "e30:1sDNOy:",
        "e30:1sDNOy:é",
        "e30:1sDNOy:BRFA2cUvI9FoCK-swr8_jxOgwsfRxVyMwTI1sU3E30Y=",
        "e30:1sDNOy:BRFA2cUvI9FoCK-swr8_jxOgwsfRxVyMwTI1sU3E30",
        "e30:1sDNOy:BRFA2cUvI9FoCK+swr8/jxOgwsfRxVyMwTI1sU3E30Y",
        "e30:1sDNOy:ÉRFA2cUvI9FoCK-swr8_jxOgwsfRxVyMwTI1sU3E3",
        &long_colons,
        &long_a,
        &long_valid_shape,
    ];
    for input in inputs {
        let short: String = input.chars().take(40).collect();
        assert!(
            matches!(
                codec().decode(input, Some(Duration::ZERO), now),
                Err(SigningError::BadSignature)
            ),
            "{short:?}"
        );
        assert!(
            codec().signer().unsign(input, None, now).is_err(),
            "{short:?}"
        );
    }
}

#[test]
fn a_valid_signature_over_junk_is_malformed_not_a_panic() {
    let now = at(1_717_243_200, 0);
    let sign = |message: &str| sign_raw(SESSION_SALT, message);
    let decode = |signed: &str| codec().decode(signed, Some(Duration::weeks(2)), now);

    // No timestamp, or one that is not base62 or overflows i64.
    assert_eq!(
        malformed_kind(decode(&sign("e30"))),
        Some(MalformedKind::Timestamp)
    );
    assert_eq!(
        malformed_kind(decode(&sign("e30:"))),
        Some(MalformedKind::Timestamp)
    );
    assert_eq!(
        malformed_kind(decode(&sign("e30:1s+NOy"))),
        Some(MalformedKind::Timestamp)
    );
    assert_eq!(
        malformed_kind(decode(&sign("e30:zzzzzzzzzzzzzzzzzzzz"))),
        Some(MalformedKind::Timestamp)
    );
    assert_eq!(
        malformed_kind(decode(&sign(&format!("e30:{}", "1".repeat(4096))))),
        Some(MalformedKind::Timestamp)
    );
    // Huge timestamps that fit: far future is never expired, far past is.
    assert!(decode(&sign(&format!("e30:{}", base62::encode(i64::MAX)))).is_ok());
    assert!(matches!(
        decode(&sign(&format!("e30:{}", base62::encode(i64::MIN)))),
        Err(SigningError::Expired { .. })
    ));
    assert!(codec()
        .decode(
            &sign(&format!("e30:{}", base62::encode(i64::MIN))),
            None,
            now
        )
        .is_ok());

    // Payloads that are not base64 / zlib / JSON / an object.
    assert_eq!(
        malformed_kind(decode(&sign("!!!!:1sDNOy"))),
        Some(MalformedKind::Base64)
    );
    assert_eq!(
        malformed_kind(decode(&sign("e30é:1sDNOy"))),
        Some(MalformedKind::Base64)
    );
    assert_eq!(
        malformed_kind(decode(&sign("e:1sDNOy"))),
        Some(MalformedKind::Base64)
    );
    assert_eq!(
        malformed_kind(decode(&sign(".e30:1sDNOy"))),
        Some(MalformedKind::Zlib)
    );
    assert_eq!(
        malformed_kind(decode(&sign(".:1sDNOy"))),
        Some(MalformedKind::Zlib)
    );
    assert!(matches!(
        decode(&sign(":1sDNOy")),
        Err(SigningError::Json(_))
    ));
    assert!(matches!(
        decode(&sign("bm90IGpzb24:1sDNOy")),
        Err(SigningError::Json(_))
    ));
    assert!(matches!(
        decode(&sign("WzEsMl0:1sDNOy")),
        Err(SigningError::NotAnObject)
    )); // [1,2]
    assert_eq!(
        decode(&sign("eyJhIjogTmFOfQ:1sDNOy"))
            .ok()
            .and_then(|d| raw_token(&d.data["a"]).map(str::to_owned)),
        Some("NaN".to_owned())
    ); // {"a": NaN} reads as Python reads it, NaN kept as a raw marker

    // A zip bomb: 6 MiB of zeros in a few KB, validly signed.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &vec![b' '; 6 << 20]).expect("in memory");
    let bomb = z.finish().expect("in memory");
    let signed = sign(&format!(".{}:1sDNOy", URL_SAFE_NO_PAD.encode(&bomb)));
    assert_eq!(
        malformed_kind(decode(&signed)),
        Some(MalformedKind::TooLarge)
    );

    // Latin-1 bytes in the JSON read as Django reads them; padding is optional.
    let latin1 = URL_SAFE_NO_PAD.encode(b"{\"a\":\"\xe9\"}");
    assert_eq!(
        decode(&sign(&format!("{latin1}:1sDNOy")))
            .map(|d| d.data["a"].clone())
            .ok(),
        Some(json!("é"))
    );
    assert!(decode(&sign("e30=:1sDNOy")).is_ok());
}

#[test]
fn round_trips_keys_and_expiry() {
    let old = Keys::new(SecretKey::new("old"), vec![]).unwrap();
    let rotated = Keys::new(
        SecretKey::new("new"),
        vec![SecretKey::new("older"), SecretKey::new("old")],
    )
    .unwrap();
    let now = at(1_717_243_200, 250_000_000);
    let data = json!({"visit": 11, "name": "Zoë 😀", "avogadro": 6.02214})
        .as_object()
        .cloned()
        .expect("object");

    let signed = Codec::sessions(&old).encode(&data, now);
    let decoded = Codec::sessions(&rotated)
        .decode(&signed, None, now)
        .expect("fallback verifies");
    assert!(decoded.fallback);
    assert_eq!(decoded.data, data);
    assert_eq!(decoded.timestamp, 1_717_243_200);
    let resigned = Codec::sessions(&rotated).encode(&decoded.data, now);
    assert!(
        !Codec::sessions(&rotated)
            .decode(&resigned, None, now)
            .expect("current")
            .fallback
    );
    assert!(Codec::sessions(&old).decode(&resigned, None, now).is_err());
    assert!(Codec::signed_cookies(&old)
        .decode(&signed, None, now)
        .is_err());

    // Strictly greater than max_age expires, to the nanosecond.
    let age = Duration::seconds(60);
    let edge = at(1_717_243_260, 0);
    assert!(Codec::sessions(&old)
        .decode(&signed, Some(age), edge)
        .is_ok());
    let later = edge + Duration::nanoseconds(1);
    let err = Codec::sessions(&old)
        .decode(&signed, Some(age), later)
        .err();
    assert!(
        matches!(err, Some(SigningError::Expired { age: a, max_age }) if a == Duration::seconds(60) + Duration::nanoseconds(1) && max_age == age)
    );

    // A large session compresses and comes back.
    let big: serde_json::Map<String, Value> = (0..100)
        .map(|i| (format!("key{i}"), json!({"n": i, "s": "value"})))
        .collect();
    let signed = Codec::sessions(&old).encode(&big, now);
    assert!(signed.starts_with('.'));
    assert_eq!(
        Codec::sessions(&old)
            .decode(&signed, None, now)
            .expect("big")
            .data,
        big
    );
}

#[test]
fn no_secret_or_value_in_debug_or_errors() {
    let secret = "s3cr3t-do-not-print";
    let keys = Keys::new(
        SecretKey::new(secret),
        vec![SecretKey::new(format!("{secret}-old"))],
    )
    .unwrap();
    let codec = Codec::sessions(&keys);
    for text in [
        format!("{keys:?}"),
        format!("{:?}", keys.current()),
        keys.current().to_string(),
        format!("{codec:?}"),
        format!("{:?}", codec.signer()),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    assert_eq!(keys.current().expose(), secret);

    let now = at(1_717_243_200, 0);
    let signed = codec.encode(
        json!({"password": "hunter2"}).as_object().expect("object"),
        now,
    );
    let tampered = signed.replace(':', "x:");
    let errors = [
        codec.decode(&tampered, None, now).err(),
        codec
            .decode(&signed, Some(Duration::ZERO), now + Duration::seconds(5))
            .err(),
        codec
            .decode(&sign_raw(SESSION_SALT, "!!:1"), None, now)
            .err(),
    ];
    for err in errors.into_iter().map(|e| e.expect("an error")) {
        let top = err.to_string();
        assert_eq!(top, top.to_lowercase(), "display is lowercase");
        let mut text = top;
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&format!(" / {s}"));
            source = s.source();
        }
        assert!(
            !text.contains(secret) && !text.contains(&signed) && !text.contains("hunter2"),
            "{text}"
        );
    }
}

/// Review L4: below `SessionConfig` an empty secret was accepted, and anyone
/// can sign with `""`. Now no `Keys`, and so no `Signer` or `Codec`, holds one.
#[test]
fn empty_keys_are_refused() {
    use sessionkit::signing::EmptyKey;

    let err = Keys::new(SecretKey::new(""), vec![]).unwrap_err();
    assert_eq!(err, EmptyKey { fallback: None });
    assert!(err.to_string().contains("secret key is empty"), "{err}");
    assert_eq!(
        Keys::try_from(SecretKey::new("")).unwrap_err(),
        EmptyKey { fallback: None }
    );
    let err = Keys::new(
        SecretKey::new("a long random secret"),
        vec![SecretKey::new("older secret"), SecretKey::new("")],
    )
    .unwrap_err();
    assert_eq!(err, EmptyKey { fallback: Some(1) });
    assert!(err.to_string().contains("#1"), "{err}");

    // A single byte is weak, not empty: it still signs (the config warns).
    let keys = Keys::new(SecretKey::new("k"), vec![]).unwrap();
    let signer = Signer::new(&keys, "salt");
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        signer
            .unsign(&signer.sign("v", 1), None, now)
            .unwrap()
            .value,
        "v"
    );
}

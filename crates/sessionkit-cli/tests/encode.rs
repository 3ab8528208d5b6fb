//! `sessionkit encode`: Django's `signing.dumps` byte for byte, values that
//! `decode` and the library's `loads` accept, and refusals.

mod common;

use std::io::Write;

use common::{assert_refused, number, stdout_json, text, vectors, with_secret, SECRET};
use serde_json::{json, Value};
use sessionkit::signing::{loads, Keys, SecretKey, SESSION_SALT, SIGNED_COOKIES_SALT};

fn stdout_line(output: &std::process::Output) -> String {
    assert!(output.status.success(), "{output:?}");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.ends_with('\n') && out.lines().count() == 1, "{out:?}");
    out.trim_end().to_owned()
}

#[test]
fn reproduces_djangos_signing_dumps() {
    let cases = vectors("signing.json");
    let mut checked = 0;
    for case in cases["cases"].as_array().expect("cases") {
        let name = text(case, "name");
        // 10**20 has no exact serde_json form (it reads as 1e20): the library
        // documents it; `decode` still reads Django's value (decode_vectors).
        if name.starts_with("big_int") {
            continue;
        }
        let obj = serde_json::to_string(&case["obj"]).expect("json");
        let mut cmd = with_secret(text(case, "secret"));
        cmd.args([
            "encode",
            "--salt",
            text(case, "salt"),
            "--now",
            &number(&case["timestamp"]),
        ]);
        if case["compress"] == Value::Bool(true) {
            cmd.arg("--compress");
        }
        let output = cmd.arg(&obj).output().expect("run");
        assert_eq!(stdout_line(&output), text(case, "encoded"), "{name}");
        checked += 1;
    }
    assert!(checked >= 47);
}

#[test]
fn session_engines_always_compress() {
    let cases = vectors("signing.json");
    let case = cases["cases"]
        .as_array()
        .and_then(|c| {
            c.iter()
                .find(|c| c["name"] == "session_base_encode/db_store")
        })
        .expect("SessionBase.encode case");
    let obj = serde_json::to_string(&case["obj"]).expect("json");
    for engine in [None, Some("db"), Some("file"), Some("cached_db")] {
        let mut cmd = with_secret(SECRET);
        cmd.args(["encode", "--now", &number(&case["timestamp"])]);
        if let Some(engine) = engine {
            cmd.args(["--engine", engine]);
        }
        let output = cmd.arg(&obj).output().expect("run");
        assert_eq!(stdout_line(&output), text(case, "encoded"), "{engine:?}");
    }
}

#[test]
fn round_trips_through_decode_and_the_library() {
    let session = json!({
        "visit": 11,
        "name": "José 😀",
        "nested": {"list": [1, "two", {"three": 3.5}], "none": null},
        "_session_expiry": "2099-01-01T00:00:00+00:00",
        "big": "x".repeat(500),
    });
    let keys = Keys::new(SecretKey::new(SECRET), vec![]).unwrap();
    for (engine, salt) in [
        ("db", SESSION_SALT),
        ("signed_cookies", SIGNED_COOKIES_SALT),
    ] {
        let output = with_secret(SECRET)
            .args(["encode", "--engine", engine, &session.to_string()])
            .output()
            .expect("run");
        let signed = stdout_line(&output);
        assert!(
            signed.starts_with('.'),
            "a 500-char run compresses: {signed}"
        );

        let decoded = with_secret(SECRET)
            .args(["decode", "--engine", engine, &signed])
            .output()
            .expect("run");
        assert!(decoded.status.success(), "{decoded:?}");
        assert_eq!(stdout_json(&decoded), session);

        let now = time::OffsetDateTime::now_utc();
        let verified = loads(&signed, &keys, salt, None, now).expect("the library accepts it");
        assert_eq!(verified.value, session);
        assert!(!verified.fallback);
    }
}

#[test]
fn any_json_with_a_salt() {
    let keys = Keys::new(SecretKey::new(SECRET), vec![]).unwrap();
    for value in [json!("text"), json!(42), json!(null), json!([1, 2, 3])] {
        let output = with_secret(SECRET)
            .args(["encode", "--salt", "my.salt", &value.to_string()])
            .output()
            .expect("run");
        let signed = stdout_line(&output);
        let now = time::OffsetDateTime::now_utc();
        let verified = loads(&signed, &keys, "my.salt", None, now).expect("accepted");
        assert_eq!(verified.value, value);
        let decoded = with_secret(SECRET)
            .args(["decode", "--salt", "my.salt", &signed])
            .output()
            .expect("run");
        assert_eq!(stdout_json(&decoded), value);
    }
}

#[test]
fn reads_json_from_stdin() {
    let output = with_secret(SECRET)
        .args(["encode", "--now", "1717243200", "-"])
        .write_stdin("{\"visit\": 11}\n")
        .output()
        .expect("run");
    // The sessions.json `default_expiry` row, as Django stored it.
    assert_eq!(
        stdout_line(&output),
        "eyJ2aXNpdCI6MTF9:1sDNOy:Wbp3u1_PwEUYLrFbRSioO-gBDykDYvQOx1rw0TjZHTU"
    );
}

#[test]
fn refuses_what_it_cannot_sign() {
    let output = with_secret(SECRET)
        .args(["encode", "[1, 2]"])
        .output()
        .expect("run");
    assert_refused(&output, "a session is a JSON object", &[SECRET]);
    let output = with_secret(SECRET)
        .args(["encode", "{\"a\": "])
        .output()
        .expect("run");
    assert_refused(&output, "not valid JSON", &[SECRET]);
    let output = with_secret(SECRET)
        .args(["encode", "NaN"])
        .output()
        .expect("run");
    assert_refused(&output, "not valid JSON", &[SECRET]);
    let output = common::sessionkit()
        .args(["encode", "{}"])
        .output()
        .expect("run");
    assert_refused(&output, "no secret", &[]);
    let output = with_secret("")
        .args(["encode", "{}"])
        .output()
        .expect("run");
    assert_refused(&output, "secret is empty", &[]);
}

#[test]
fn a_zip_bomb_is_refused_on_decode() {
    // 6 MiB of one letter compresses to a few KiB, past the library's 5 MiB cap.
    let mut bomb = Vec::new();
    write!(bomb, "\"{}\"", "a".repeat(6 * 1024 * 1024)).expect("write");
    let output = with_secret(SECRET)
        .args(["encode", "--salt", "bomb", "--compress", "-"])
        .write_stdin(bomb)
        .output()
        .expect("run");
    let signed = stdout_line(&output);
    assert!(signed.len() < 100_000, "{}", signed.len());
    let output = with_secret(SECRET)
        .args(["decode", "--salt", "bomb", "-"])
        .write_stdin(signed.clone())
        .output()
        .expect("run");
    assert_refused(&output, "size cap", &[SECRET]);
    let output = common::sessionkit()
        .args(["decode", "--no-verify", "-"])
        .write_stdin(signed)
        .output()
        .expect("run");
    assert_refused(&output, "size cap", &[]);
}

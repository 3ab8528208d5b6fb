//! `sessionkit decode` against values made by real Django
//! (`../shared/django-vectors`): every `signing.json` case, its verification
//! cases, every `sessions.json` row and every `signed_cookies.json` check.

mod common;

use common::{
    assert_no_secret, assert_refused, number, stdout_json, text, vectors, with_secret, OLD_SECRET,
    SECRET,
};
use serde_json::Value;

const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";
const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

#[test]
fn every_signing_case_decodes_with_its_salt() {
    let cases = vectors("signing.json");
    let cases = cases["cases"].as_array().expect("cases");
    assert!(cases.len() >= 49);
    for case in cases {
        let name = text(case, "name");
        let secret = text(case, "secret");
        let output = with_secret(secret)
            .args([
                "decode",
                "--salt",
                text(case, "salt"),
                text(case, "encoded"),
            ])
            .output()
            .expect("run");
        assert!(output.status.success(), "{name}: {output:?}");
        assert_eq!(stdout_json(&output), case["obj"], "{name}");
        assert_no_secret(&output, &[secret]);
    }
}

#[test]
fn session_salted_cases_decode_through_their_engine() {
    let cases = vectors("signing.json");
    for case in cases["cases"].as_array().expect("cases") {
        let name = text(case, "name");
        let engine = match text(case, "salt") {
            SESSION_SALT => "db",
            SIGNED_COOKIES_SALT => "signed_cookies",
            _ => continue,
        };
        let mut cmd = with_secret(text(case, "secret"));
        // signed_cookies checks the age (SESSION_COOKIE_AGE): judge at signing time.
        cmd.args([
            "decode",
            "--engine",
            engine,
            "--now",
            &number(&case["timestamp"]),
        ]);
        let output = cmd.arg(text(case, "encoded")).output().expect("run");
        if case["obj"].is_object() {
            assert!(output.status.success(), "{name}: {output:?}");
            assert_eq!(stdout_json(&output), case["obj"], "{name}");
        } else {
            assert_refused(&output, "not a session", &[text(case, "secret")]);
        }
    }
}

#[test]
fn verification_cases_agree_with_django() {
    let cases = vectors("signing.json");
    for case in cases["verification_cases"]
        .as_array()
        .expect("verification_cases")
    {
        let name = text(case, "name");
        let secret = text(case, "secret");
        let mut cmd = with_secret(secret);
        cmd.args([
            "decode",
            "--salt",
            text(case, "salt"),
            "--now",
            &number(&case["now"]),
        ]);
        if !case["max_age"].is_null() {
            cmd.args(["--max-age", &number(&case["max_age"])]);
        }
        let mut secrets = vec![secret];
        for fallback in case["fallback_keys"].as_array().expect("fallback_keys") {
            let fallback = fallback.as_str().expect("a key");
            cmd.args(["--fallback-secret", fallback]);
            secrets.push(fallback);
        }
        let output = cmd.arg(text(case, "encoded")).output().expect("run");
        match text(case, "expected_outcome") {
            "ok" => {
                assert!(output.status.success(), "{name}: {output:?}");
                assert_eq!(stdout_json(&output), case["expected_obj"], "{name}");
                assert_no_secret(&output, &secrets);
            }
            "BadSignature" => {
                // Values without two ':' are refused before any key is tried.
                let encoded = text(case, "encoded");
                let why = if encoded.matches(':').count() < 2 {
                    "malformed input"
                } else {
                    "bad signature"
                };
                assert_refused(&output, why, &secrets);
            }
            "SignatureExpired" => assert_refused(&output, "expired", &secrets),
            "JSONDecodeError" => assert_refused(&output, "malformed value", &secrets),
            other => panic!("{name}: unknown outcome {other}"),
        }
    }
}

#[test]
fn every_sessions_row_decodes_as_django_stored_it() {
    let file = vectors("sessions.json");
    assert_eq!(text(&file, "secret_key"), SECRET);
    assert_eq!(text(&file, "old_secret_key"), OLD_SECRET);
    let rows = file["sessions"].as_array().expect("sessions");
    assert_eq!(rows.len(), 16);
    for row in rows {
        let name = text(row, "name");
        let data = text(row, "session_data");
        let output = with_secret(SECRET)
            .args(["decode", data])
            .output()
            .expect("run");
        match name {
            // Django itself loads these as {}: only the right key opens them.
            "signed_with_old_secret" | "corrupted_signature" => {
                assert_refused(&output, "bad signature", &[SECRET]);
            }
            _ => {
                assert!(output.status.success(), "{name}: {output:?}");
                assert_eq!(stdout_json(&output), row["expected_decoded"], "{name}");
            }
        }
    }
}

#[test]
fn old_secret_row_needs_a_fallback() {
    let file = vectors("sessions.json");
    let row = file["sessions"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "signed_with_old_secret"))
        .expect("the old-secret row");
    let data = text(row, "session_data");
    let expected = &row["load_at_ref_now_with_old_key_fallback"];

    let by_flag = with_secret(SECRET)
        .args(["decode", "--fallback-secret", OLD_SECRET, data])
        .output()
        .expect("run");
    assert!(by_flag.status.success(), "{by_flag:?}");
    assert_eq!(&stdout_json(&by_flag), expected);
    assert!(String::from_utf8_lossy(&by_flag.stderr).contains("fallback key"));
    assert_no_secret(&by_flag, &[SECRET, OLD_SECRET]);

    let by_env = with_secret(SECRET)
        .env(
            "SECRET_KEY_FALLBACKS",
            format!("some-other-key-0123456789, {OLD_SECRET}"),
        )
        .args(["decode", data])
        .output()
        .expect("run");
    assert!(by_env.status.success(), "{by_env:?}");
    assert_eq!(&stdout_json(&by_env), expected);
    assert_no_secret(&by_env, &[SECRET, OLD_SECRET]);

    // The old key given as the current one works too; a wrong fallback does not.
    let wrong = with_secret(SECRET)
        .args(["decode", "--fallback-secret", "not-the-old-key", data])
        .output()
        .expect("run");
    assert_refused(&wrong, "bad signature", &[SECRET, "not-the-old-key"]);
}

#[test]
fn signed_cookies_checks_agree_with_django() {
    let file = vectors("signed_cookies.json");
    assert_eq!(text(&file, "salt"), SIGNED_COOKIES_SALT);
    let age = number(&file["session_cookie_age"]);
    let cases = file["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = text(case, "name");
        for check in case["load_checks"].as_array().expect("load_checks") {
            let label = text(check, "label");
            let now = number(&check["now"]);
            // Once with SESSION_COOKIE_AGE's default, once with --max-age.
            for explicit in [false, true] {
                let mut cmd = with_secret(SECRET);
                cmd.args(["decode", "--engine", "signed_cookies", "--now", &now]);
                if explicit {
                    cmd.args(["--max-age", &age]);
                }
                let mut secrets = vec![SECRET];
                for fallback in check["fallback_keys"].as_array().expect("fallback_keys") {
                    let fallback = fallback.as_str().expect("a key");
                    cmd.args(["--fallback-secret", fallback]);
                    secrets.push(fallback);
                }
                let output = cmd.arg(text(case, "cookie_value")).output().expect("run");
                if check["modified_after_load"] == Value::Bool(true) {
                    // Django refuses both alike; the tool says which.
                    let key_known = name != "signed_with_old_secret" || secrets.len() > 1;
                    let why = if key_known {
                        "expired"
                    } else {
                        "bad signature"
                    };
                    assert_refused(&output, why, &secrets);
                } else {
                    assert!(output.status.success(), "{name}/{label}: {output:?}");
                    assert_eq!(
                        stdout_json(&output),
                        check["expected_load"],
                        "{name}/{label}"
                    );
                    assert_no_secret(&output, &secrets);
                }
            }
        }
    }
    let tampered = &file["tampered"];
    let output = with_secret(SECRET)
        .args(["decode", "--engine", "signed_cookies", "--max-age", "1e9"])
        .arg(text(tampered, "cookie_value"))
        .output()
        .expect("run");
    // `1e9` is not a plain decimal: a usage error before anything runs.
    assert_eq!(output.status.code(), Some(2));
    let output = with_secret(SECRET)
        .args([
            "decode",
            "--engine",
            "signed_cookies",
            "--max-age",
            "1000000000",
        ])
        .arg(text(tampered, "cookie_value"))
        .output()
        .expect("run");
    assert_refused(&output, "bad signature", &[SECRET]);
}

#[test]
fn signed_cookies_default_age_is_session_cookie_age() {
    let file = vectors("signed_cookies.json");
    let case = &file["cases"][0];
    // 1717243200 + 100 s: expired under SESSION_COOKIE_AGE=60, fine by default.
    let mut cmd = with_secret(SECRET);
    cmd.env("SESSION_COOKIE_AGE", "60");
    let output = cmd
        .args([
            "decode",
            "--engine",
            "signed_cookies",
            "--now",
            "1717243300",
        ])
        .arg(text(case, "cookie_value"))
        .output()
        .expect("run");
    assert_refused(&output, "expired", &[SECRET]);
    let output = with_secret(SECRET)
        .args([
            "decode",
            "--engine",
            "signed_cookies",
            "--now",
            "1717243300",
        ])
        .arg(text(case, "cookie_value"))
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn the_seed_example_reads_unverified() {
    let file = vectors("signing.json");
    let seed = &file["seed_example"];
    // Nobody has its secret: --no-verify shows what it holds, labelled.
    let output = common::sessionkit()
        .args(["decode", "--no-verify", text(seed, "encoded")])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let shown = stdout_json(&output);
    assert_eq!(shown["unverified"], Value::Bool(true));
    assert_eq!(shown["timestamp"], seed["timestamp"]);
    assert_eq!(shown["signed_at"], seed["timestamp_utc"]);
    assert_eq!(shown["payload"], serde_json::json!({"visit": 11}));
    assert!(String::from_utf8_lossy(&output.stderr).contains("NOT checked"));
}

#[test]
fn unverified_reads_compressed_payloads() {
    let file = vectors("signing.json");
    let case = file["verification_cases"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "valid_compressed_large"))
        .expect("the compressed case");
    let output = common::sessionkit()
        .args(["decode", "--no-verify", text(case, "encoded")])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout_json(&output)["payload"], case["expected_obj"]);
}

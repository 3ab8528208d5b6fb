//! Refusals: bad values exit 1 with one line on stderr saying why, bad
//! arguments exit 2 with clap's usage message, and no secret ever shows.

mod common;

use common::{assert_no_secret, assert_refused, sessionkit, with_secret, SECRET};

/// A value signed by the vectors' key with the session salt (`{"visit":11}`).
const GOOD: &str = "eyJ2aXNpdCI6MTF9:1sDNOy:Wbp3u1_PwEUYLrFbRSioO-gBDykDYvQOx1rw0TjZHTU";
/// Distinctive secrets, to be sure none is ever echoed.
const FLAG_SECRET: &str = "-flag-secret-that-must-never-be-printed-0123456789";
const FALLBACK: &str = "fallback-secret-that-must-never-be-printed-9876543210";

#[test]
fn bad_values_say_why() {
    let cases: &[(&str, &str)] = &[
        ("", "malformed input"),
        ("   ", "malformed input"),
        ("not-a-signed-value", "malformed input"),
        ("eyJ2aXNpdCI6MTF9:Wbp3u1", "malformed input"),
        ("a:b:c", "bad signature"),
        (&GOOD.replace("MTF9", "MTJ9"), "bad signature"),
        (&format!("{GOOD}x"), "bad signature"),
        (&GOOD.replace(":1sDNOy:", ":1sDNOz:"), "bad signature"),
        ("\u{1}:\u{7f}:ü", "bad signature"),
        (&"x:".repeat(5000), "bad signature"),
    ];
    for (value, why) in cases {
        let output = with_secret(SECRET)
            .args(["decode", "--", value])
            .output()
            .expect("run");
        assert_refused(&output, why, &[SECRET]);
    }
}

#[test]
fn an_unknown_key_is_a_bad_signature() {
    let output = sessionkit()
        .args([
            "decode",
            "--secret",
            FLAG_SECRET,
            "--fallback-secret",
            FALLBACK,
            GOOD,
        ])
        .output()
        .expect("run");
    assert_refused(&output, "bad signature", &[FLAG_SECRET, FALLBACK, SECRET]);
    let output = with_secret(FLAG_SECRET)
        .env("SECRET_KEY_FALLBACKS", FALLBACK)
        .args(["decode", "--engine", "signed_cookies", GOOD])
        .output()
        .expect("run");
    assert_refused(&output, "bad signature", &[FLAG_SECRET, FALLBACK]);
}

#[test]
fn expired_values_are_refused() {
    let output = with_secret(SECRET)
        .args(["decode", "--max-age", "60", GOOD])
        .output()
        .expect("run");
    assert_refused(&output, "signature expired", &[SECRET]);
    // The flag's secret wins over the environment's.
    let output = with_secret("wrong-secret-in-the-environment")
        .args([
            "decode",
            "--secret",
            SECRET,
            "--max-age",
            "60",
            "--now",
            "1717243260",
            GOOD,
        ])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_no_secret(&output, &[SECRET, "wrong-secret-in-the-environment"]);
}

#[test]
fn value_from_stdin() {
    let output = with_secret(SECRET)
        .args(["decode", "-"])
        .write_stdin(format!("{GOOD}\n"))
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "{\"visit\":11}\n");
    let output = with_secret(SECRET)
        .args(["decode", "-"])
        .write_stdin(vec![0xff, 0xfe, b':', b':'])
        .output()
        .expect("run");
    assert_refused(&output, "not UTF-8", &[SECRET]);
    let output = with_secret(SECRET)
        .args(["decode", "-"])
        .write_stdin(vec![b'a'; 17 * 1024 * 1024])
        .output()
        .expect("run");
    assert_refused(&output, "larger than", &[SECRET]);
}

#[test]
fn missing_or_empty_secret() {
    let output = sessionkit().args(["decode", GOOD]).output().expect("run");
    assert_refused(&output, "no secret", &[]);
    let output = sessionkit()
        .args(["decode", "--secret", "", GOOD])
        .output()
        .expect("run");
    assert_refused(&output, "secret is empty", &[]);
}

#[test]
fn a_secret_starting_with_a_dash_is_a_secret() {
    // Were it taken for a flag, clap would quote part of it in its error.
    let signed = sessionkit()
        .args(["encode", "--secret", FLAG_SECRET, "{\"a\":1}"])
        .output()
        .expect("run");
    assert!(signed.status.success(), "{signed:?}");
    assert_no_secret(&signed, &[FLAG_SECRET]);
    let value = String::from_utf8_lossy(&signed.stdout).trim().to_owned();
    let output = sessionkit()
        .args(["decode", "--secret", FLAG_SECRET, &value])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_no_secret(&output, &[FLAG_SECRET]);
}

#[test]
fn bad_arguments_are_usage_errors() {
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["decode"],
        &["decode", "--salt", "x", "--engine", "db", GOOD],
        &["decode", "--engine", "cache", GOOD],
        &["decode", "--engine", "nonsense", GOOD],
        &["decode", "--max-age", "-1", GOOD],
        &["decode", "--max-age", "soon", GOOD],
        &["decode", "--now", "yesterday", GOOD],
        &["decode", "--no-verify", "--max-age", "5", GOOD],
        &["encode"],
        &["encode", "--fallback-secret", "x", "{}"],
        &["clearsessions", "--engine", "bogus"],
        &["clearsessions", "--table", "a;drop"],
        &["stats", "--table", "1abc"],
        &["migrate", "--secret", "x"],
        &["migrate", "--table", "sessión"],
    ];
    for args in cases {
        let output = with_secret(SECRET).args(*args).output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        // clap's message: the usage, or a pointer to `--help` for a bad value.
        assert!(
            stderr.contains("Usage:") || stderr.contains("try '--help'"),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?}");
        assert_no_secret(&output, &[SECRET]);
    }
}

#[test]
fn secrets_never_show_in_usage_errors() {
    for args in [
        vec!["decode", "--secret", FLAG_SECRET],
        vec!["decode", "--secret", FLAG_SECRET, "--bogus", GOOD],
        vec!["decode", "--fallback-secret", FALLBACK, "--secret"],
        vec!["encode", "--secret", FLAG_SECRET, "--salt"],
    ] {
        let output = sessionkit().args(&args).output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_no_secret(&output, &[FLAG_SECRET, FALLBACK]);
    }
}

#[test]
fn help_and_version() {
    for args in [&["--help"][..], &["decode", "--help"], &["--version"]] {
        let output = sessionkit().args(args).output().expect("run");
        assert!(output.status.success(), "{args:?}");
        assert!(!output.stdout.is_empty());
    }
}

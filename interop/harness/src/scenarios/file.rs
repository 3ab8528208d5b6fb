//! The `file` engine's expiry by modification time, where Django reads no
//! expiry date from the file itself — including the one documented
//! difference: an integer `set_expiry` never expires in Django.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::{django_found, str_of, COOKIE, COOKIE_AGE};
use crate::harness::{Backend, Harness, TableOrder};

/// Moves a session file's modification time `age` into the past.
fn age_file(dir: &str, key: &str, age: Duration) -> PathBuf {
    let path = PathBuf::from(dir).join(format!("{COOKIE}{key}"));
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("session file {}: {e}", path.display()));
    file.set_modified(SystemTime::now() - age)
        .unwrap_or_else(|e| panic!("cannot age {}: {e}", path.display()));
    path
}

/// Django writes file sessions, the test ages their files, and both sides
/// must agree on which are still alive.
pub async fn file_expiry_by_mtime() {
    let Some(h) = Harness::new(Backend::File, TableOrder::DjangoFirst).await else {
        return;
    };
    let settings = h.settings();
    let dir = settings
        .get("SESSION_FILE_PATH")
        .expect("SESSION_FILE_PATH");
    let age = |s: i64| Duration::from_secs(s.unsigned_abs());
    // (name, expiry spec, file age, alive for Django, alive for sessionkit)
    let cases: [(&str, Option<&str>, Duration, bool, bool); 4] = [
        (
            "default, younger than SESSION_COOKIE_AGE",
            None,
            age(COOKIE_AGE - 3600),
            true,
            true,
        ),
        (
            "default, older than SESSION_COOKIE_AGE",
            None,
            age(COOKIE_AGE + 60),
            false,
            false,
        ),
        (
            "a date ahead, old file",
            Some("at:2031-02-03T04:05:06+00:00"),
            age(COOKIE_AGE + 60),
            true,
            true,
        ),
        // The documented difference (README): Django never expires a file
        // session whose _session_expiry is an integer; sessionkit expires it
        // at the file's modification time plus that many seconds.
        (
            "seconds:60, file an hour old",
            Some("seconds:60"),
            age(3600),
            true,
            false,
        ),
    ];
    // Each case twice: one copy read by each side, as a read of an expired
    // file deletes it (on both sides).
    let ops: Vec<Value> = cases
        .iter()
        .chain(cases.iter())
        .map(|(name, expiry, ..)| json!({"op": "write", "data": {"case": name}, "expiry": expiry}))
        .collect();
    let written = h.django_ops(&settings, &ops).await;
    let keys: Vec<String> = written
        .iter()
        .map(|w| str_of(&w["key"], "written key").to_owned())
        .collect();
    for ((_, _, file_age, ..), key) in cases.iter().chain(cases.iter()).zip(&keys) {
        age_file(&dir, key, *file_age);
    }
    let (for_rust, for_django) = keys.split_at(cases.len());
    let mut rust = Vec::new();
    for key in for_rust {
        rust.push(h.rust_read(&settings, key).await["found"] == json!(true));
    }
    let ops: Vec<Value> = for_django
        .iter()
        .map(|k| json!({"op": "read", "key": k}))
        .collect();
    let django = h.django_ops(&settings, &ops).await;
    for (((name, _, _, django_alive, rust_alive), d), r) in cases.iter().zip(&django).zip(&rust) {
        assert_eq!(
            django_found(d),
            *django_alive,
            "{name}: alive for Django? {d}"
        );
        assert_eq!(*r, *rust_alive, "{name}: alive for sessionkit?");
    }
}

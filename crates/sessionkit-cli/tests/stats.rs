//! `sessionkit stats`: live and expired counts for the db engine (SQL) and
//! the file engine (a scan); a plain refusal where nothing can be counted.

mod common;

use std::fs::File;
use std::time::{Duration, SystemTime};

use common::{
    block_on, migrated_db, pool, sessionkit, sqlite_url, stdout_json, with_secret, SECRET,
};
use predicates::str::contains;
use serde_json::json;

#[test]
fn counts_db_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = migrated_db(dir.path());
    block_on(async {
        let pool = pool(&path).await;
        for (key, expire) in [
            ("expired1", "2000-01-01 00:00:00"),
            ("expired2", "2024-06-01 12:00:00.250000"),
            ("live0001", "2999-01-01 00:00:00"),
            ("live0002", "2999-01-01 00:00:00.5"),
            ("live0003", "2998-01-01 00:00:00"),
        ] {
            sqlx::query("INSERT INTO django_session VALUES (?1, 'x', ?2)")
                .bind(key)
                .bind(expire)
                .execute(&pool)
                .await
                .expect("insert");
        }
    });
    let url = sqlite_url(&path);
    sessionkit()
        .args(["stats", "--engine", "db", "--db", &url])
        .assert()
        .success()
        .stdout("live 3\nexpired 2\n");
    let output = sessionkit()
        .args(["stats", "--db", &url, "--json"])
        .output()
        .expect("run");
    assert_eq!(
        stdout_json(&output),
        json!({"engine": "db", "live": 3, "expired": 2})
    );
    // Counting changed nothing.
    sessionkit()
        .args(["stats", "--db", &url])
        .assert()
        .success()
        .stdout("live 3\nexpired 2\n");
}

#[test]
fn counts_the_vectors_rows_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("sessions_sqlite.db");
    std::fs::copy(common::vectors_dir().join("sessions_sqlite.db"), &copy).expect("copy");
    // The copy keeps the shared file's read-only mode: stats needs no more.
    let output = sessionkit()
        .args(["stats", "--db", &sqlite_url(&copy), "--json"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let counts = stdout_json(&output);
    // 16 rows; today every one but those expiring in 2030 and 2099 is past.
    assert_eq!(
        counts["live"].as_u64().unwrap_or(0) + counts["expired"].as_u64().unwrap_or(0),
        16
    );
    assert_eq!(counts["live"], json!(3));
}

#[test]
fn a_missing_database_or_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.sqlite3");
    let output = sessionkit()
        .args(["stats", "--db", &sqlite_url(&missing)])
        .output()
        .expect("run");
    common::assert_refused(&output, "it must exist", &[]);
    assert!(!missing.exists());
    let path = migrated_db(dir.path());
    let output = sessionkit()
        .args(["stats", "--db", &sqlite_url(&path), "--table", "nope"])
        .output()
        .expect("run");
    common::assert_refused(&output, "no table \"nope\"", &[]);
}

fn write_session(dir: &std::path::Path, name: &str, data: serde_json::Value, age: Duration) {
    let output = with_secret(SECRET)
        .args(["encode", "--engine", "file", &data.to_string()])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let path = dir.join(name);
    std::fs::write(&path, String::from_utf8_lossy(&output.stdout).trim()).expect("write");
    let file = File::options().write(true).open(&path).expect("open");
    file.set_modified(SystemTime::now() - age)
        .expect("set mtime");
}

#[test]
fn counts_file_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let day = Duration::from_secs(86_400);
    let key = |c: char| c.to_string().repeat(32);
    // Live: fresh, a far expiry date, an integer expiry not yet reached.
    write_session(
        d,
        &format!("sessionid{}", key('a')),
        json!({"v": 1}),
        Duration::ZERO,
    );
    write_session(
        d,
        &format!("sessionid{}", key('b')),
        json!({"_session_expiry": "2999-01-01T00:00:00+00:00"}),
        30 * day,
    );
    write_session(
        d,
        &format!("sessionid{}", key('c')),
        json!({"_session_expiry": 7200}),
        Duration::ZERO,
    );
    // Expired: older than SESSION_COOKIE_AGE, a past date, an integer expiry passed.
    write_session(
        d,
        &format!("sessionid{}", key('d')),
        json!({"v": 1}),
        15 * day,
    );
    write_session(
        d,
        &format!("sessionid{}", key('e')),
        json!({"_session_expiry": "2001-01-01T00:00:00+00:00"}),
        Duration::ZERO,
    );
    write_session(
        d,
        &format!("sessionid{}", key('f')),
        json!({"_session_expiry": 60}),
        day,
    );
    // Not sessions: a temp file, another prefix, a bad key.
    write_session(
        d,
        &format!("sessionid{}_out_x1", key('g')),
        json!({}),
        Duration::ZERO,
    );
    write_session(
        d,
        &format!("othername{}", key('h')),
        json!({}),
        Duration::ZERO,
    );
    write_session(d, "sessionidUPPERCASE0123", json!({}), Duration::ZERO);
    write_session(d, "sessionidshort", json!({}), Duration::ZERO);
    // A bad signature counts as an empty session: expiry by mtime.
    std::fs::write(d.join(format!("sessionid{}", key('i'))), "garbage").expect("write");

    let dir_arg = d.to_str().expect("utf-8 temp path");
    with_secret(SECRET)
        .args(["stats", "--engine", "file", "--file-path", dir_arg])
        .assert()
        .success()
        .stdout("live 4\nexpired 3\n");
    // SESSION_COOKIE_NAME is the prefix, as in Django.
    with_secret(SECRET)
        .env("SESSION_COOKIE_NAME", "othername")
        .env("SESSION_FILE_PATH", dir_arg)
        .args(["stats", "--engine", "file"])
        .assert()
        .success()
        .stdout("live 1\nexpired 0\n");
    // Each file's expiry is signed: no secret, no count.
    let output = sessionkit()
        .args(["stats", "--engine", "file", "--file-path", dir_arg])
        .output()
        .expect("run");
    common::assert_refused(&output, "no secret", &[]);
}

#[test]
fn uncountable_engines_say_so() {
    for (engine, why) in [
        ("cache", "cannot be counted"),
        ("signed_cookies", "cookies"),
    ] {
        sessionkit()
            .args(["stats", "--engine", engine])
            .assert()
            .code(1)
            .stdout("")
            .stderr(contains(why));
    }
}

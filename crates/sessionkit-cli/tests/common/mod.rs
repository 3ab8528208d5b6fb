//! Helpers shared by the CLI tests: the binary with a clean environment,
//! Django's vectors, and SQLite set-up.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// Every variable the tool reads: cleared so the developer's own settings
/// never leak into a test.
const SETTINGS: &[&str] = &[
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "SESSION_ENGINE",
    "SESSION_DB_URL",
    "SESSION_DB_TABLE",
    "SESSION_CACHE_URL",
    "SESSION_FILE_PATH",
    "SESSION_CACHE_KEY_PREFIX",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_AGE",
    "SESSIONKIT_INDEX_URL",
];

/// The vectors' current secret and their rotated-out one.
pub const SECRET: &str =
    "django-insecure-rust-compat-vectors-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const OLD_SECRET: &str = "old-secret-key-before-rotation-!@#$%^&*()";

/// The `sessionkit` binary, with none of the settings above in its environment.
pub fn sessionkit() -> Command {
    let mut cmd = Command::cargo_bin("sessionkit").expect("the sessionkit binary is built");
    for name in SETTINGS {
        cmd.env_remove(name);
    }
    cmd
}

/// [`sessionkit`] with `SECRET_KEY` set to `secret`.
pub fn with_secret(secret: &str) -> Command {
    let mut cmd = sessionkit();
    cmd.env("SECRET_KEY", secret);
    cmd
}

/// `../shared/django-vectors` beside the repository. Fails loudly when missing.
pub fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/django-vectors");
    assert!(
        dir.join("signing.json").is_file(),
        "Django vectors not found at {}: the repository must sit beside ../shared",
        dir.display()
    );
    dir
}

/// One vectors file, parsed.
pub fn vectors(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A field that must be a string.
pub fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}

/// A JSON number as the command line takes it (`1718452800.001`, `1209600`).
pub fn number(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => panic!("not a number: {other}"),
    }
}

/// What a successful command printed on stdout, parsed as JSON.
pub fn stdout_json(output: &std::process::Output) -> Value {
    let out = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out}"))
}

/// Asserts a refusal: exit code 1, nothing on stdout, exactly one line on
/// stderr containing `why`, and no secret anywhere.
pub fn assert_refused(output: &std::process::Output, why: &str, secrets: &[&str]) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.is_empty(), "stdout not empty: {stdout}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "stderr is not one line: {stderr}"
    );
    assert!(
        stderr.contains(why),
        "stderr does not say {why:?}: {stderr}"
    );
    assert_no_secret(output, secrets);
}

/// Asserts no secret appears in stdout or stderr.
pub fn assert_no_secret(output: &std::process::Output, secrets: &[&str]) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for secret in secrets {
        assert!(!stdout.contains(secret), "a secret is in stdout: {stdout}");
        assert!(!stderr.contains(secret), "a secret is in stderr: {stderr}");
    }
}

/// A single-threaded runtime for the tests' own SQL.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// `sqlite://<path>`.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A pool on an existing SQLite file, for checking what a command did.
pub async fn pool(path: &Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("open the test database")
}

/// Every row of a session table, sorted by key.
pub async fn rows(pool: &sqlx::SqlitePool, table: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(&format!(
        "SELECT session_key, session_data, expire_date FROM \"{table}\" ORDER BY session_key"
    ))
    .fetch_all(pool)
    .await
    .expect("read the rows")
}

/// The schema (`sqlite_master`), sorted.
pub async fn schema(pool: &sqlx::SqlitePool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .fetch_all(pool)
        .await
        .expect("read the schema")
}

/// Creates the session table in a fresh SQLite file through `migrate`.
pub fn migrated_db(dir: &Path) -> PathBuf {
    let path = dir.join("sessions.sqlite3");
    sessionkit()
        .args(["migrate", "--db", &sqlite_url(&path)])
        .assert()
        .success();
    path
}

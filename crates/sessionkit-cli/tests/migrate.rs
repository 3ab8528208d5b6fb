//! `sessionkit migrate`: Django's table and index, idempotent, and a table
//! Django made left exactly as it is.

mod common;

use common::{block_on, pool, rows, schema, sessionkit, sqlite_url, vectors_dir};
use predicates::str::contains;

#[test]
fn creates_djangos_table_and_index_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.sqlite3");
    let url = sqlite_url(&path);
    sessionkit()
        .args(["migrate", "--db", &url])
        .assert()
        .success()
        .stdout(contains("created table \"django_session\""))
        .stdout(contains("django_session_expire_date_a5c62663"));
    let first = block_on(async { schema(&pool(&path).await).await });
    let sql: Vec<_> = first.iter().filter_map(|(_, _, sql)| sql.clone()).collect();
    assert!(sql.contains(
        &"CREATE TABLE \"django_session\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
          \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL)"
            .to_owned()
    ));
    assert!(sql.contains(
        &"CREATE INDEX \"django_session_expire_date_a5c62663\" ON \"django_session\" (\"expire_date\")"
            .to_owned()
    ));

    sessionkit()
        .args(["migrate", "--db", &url])
        .assert()
        .success()
        .stdout(contains("already exists: left as it is"));
    let second = block_on(async { schema(&pool(&path).await).await });
    assert_eq!(first, second);
}

#[test]
fn reads_the_url_and_table_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("env.sqlite3");
    sessionkit()
        .env("SESSION_DB_URL", sqlite_url(&path))
        .env("SESSION_DB_TABLE", "my_sessions")
        // Not a migration's concern: must not stop it.
        .env("SESSION_ENGINE", "bogus")
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("my_sessions_expire_date_8a6b8a8d"));
    // A flag wins over the environment.
    sessionkit()
        .env("SESSION_DB_URL", "sqlite:///nonexistent-dir/never.db")
        .args(["migrate", "--db", &sqlite_url(&path), "--table", "other"])
        .assert()
        .success()
        .stdout(contains("created table \"other\""));
}

#[test]
fn leaves_a_django_made_table_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("sessions_sqlite.db");
    // A copy: the shared file is never opened by a test.
    std::fs::copy(vectors_dir().join("sessions_sqlite.db"), &copy).expect("copy the vectors db");
    let mut permissions = std::fs::metadata(&copy).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&copy, permissions).expect("make the copy writable");

    let before = block_on(async {
        let pool = pool(&copy).await;
        (schema(&pool).await, rows(&pool, "django_session").await)
    });
    assert_eq!(before.1.len(), 16);
    for _ in 0..2 {
        sessionkit()
            .args(["migrate", "--db", &sqlite_url(&copy)])
            .assert()
            .success()
            .stdout(contains("already exists: left as it is"));
    }
    let after = block_on(async {
        let pool = pool(&copy).await;
        (schema(&pool).await, rows(&pool, "django_session").await)
    });
    assert_eq!(before, after);
}

#[test]
fn an_unopenable_database_is_one_line() {
    let output = sessionkit()
        .args(["migrate", "--db", "sqlite:///nonexistent-dir/x.db"])
        .output()
        .expect("run");
    common::assert_refused(&output, "cannot open the SQLite database", &[]);
    let output = sessionkit()
        .args(["migrate", "--db", "nosuchdb://x"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
}

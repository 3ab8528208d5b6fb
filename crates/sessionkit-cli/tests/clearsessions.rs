//! `sessionkit clearsessions`: only expired rows go, in batches, the count on
//! stdout; a million expired rows in seconds; engines that expire by
//! themselves print 0.

mod common;

use std::time::Instant;

use common::{block_on, migrated_db, pool, rows, sessionkit, sqlite_url};
use predicates::str::contains;

/// Inserts `n` rows expiring at `expire_date` (Django's text form), keys
/// `<prefix><number>` padded to 32 characters, in one statement.
async fn insert_rows(pool: &sqlx::SqlitePool, prefix: &str, n: u64, expire_date: &str) {
    let width = 32 - prefix.len();
    sqlx::query(&format!(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1) \
         INSERT INTO django_session (session_key, session_data, expire_date) \
         SELECT ?2 || printf('%0{width}d', i), 'e30:1sDNOy:x', ?3 FROM seq"
    ))
    .bind(i64::try_from(n).expect("small"))
    .bind(prefix)
    .bind(expire_date)
    .execute(pool)
    .await
    .expect("insert rows");
}

async fn count(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM django_session")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[test]
fn deletes_only_expired_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = migrated_db(dir.path());
    block_on(async {
        let pool = pool(&path).await;
        insert_rows(&pool, "old", 3, "2000-01-01 00:00:00").await;
        insert_rows(&pool, "past", 2, "2024-06-01 11:00:00.250000").await;
        insert_rows(&pool, "live", 4, "2999-01-01 00:00:00").await;
        insert_rows(&pool, "soon", 1, "2999-01-01 00:00:00.000001").await;
    });
    let output = sessionkit()
        .args([
            "clearsessions",
            "--engine",
            "db",
            "--db",
            &sqlite_url(&path),
        ])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "5\n");
    // stderr is not a terminal here: no progress output at all.
    assert!(output.stderr.is_empty(), "{output:?}");
    let left = block_on(async { rows(&pool(&path).await, "django_session").await });
    let keys: Vec<_> = left.iter().map(|(k, _, _)| &k[..4]).collect();
    assert_eq!(keys, ["live", "live", "live", "live", "soon"]);

    // Nothing left to clear: 0, and the live rows stay.
    sessionkit()
        .env("SESSION_DB_URL", sqlite_url(&path))
        .arg("clearsessions")
        .assert()
        .success()
        .stdout("0\n");
    assert_eq!(block_on(async { count(&pool(&path).await).await }), 5);
    // A database without a session index is not given one.
    let tables: i64 = block_on(async {
        sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sessionkit_user_session'",
        )
        .fetch_one(&pool(&path).await)
        .await
        .expect("schema")
    });
    assert_eq!(tables, 0);
}

#[test]
fn cached_db_clears_its_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = migrated_db(dir.path());
    block_on(async {
        let pool = pool(&path).await;
        insert_rows(&pool, "old", 2, "2000-01-01 00:00:00").await;
        insert_rows(&pool, "live", 1, "2999-01-01 00:00:00").await;
    });
    sessionkit()
        .args([
            "clearsessions",
            "--engine",
            "django.contrib.sessions.backends.cached_db",
        ])
        .args([
            "--db",
            &sqlite_url(&path),
            "--cache",
            "redis://127.0.0.1:1/",
        ])
        .assert()
        .success()
        .stdout("2\n");
}

#[test]
fn a_custom_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("custom.sqlite3");
    let url = sqlite_url(&path);
    sessionkit()
        .args(["migrate", "--db", &url, "--table", "my_sessions"])
        .assert()
        .success();
    block_on(async {
        sqlx::query("INSERT INTO my_sessions VALUES ('a2345678', 'x', '2000-01-01 00:00:00')")
            .execute(&pool(&path).await)
            .await
            .expect("insert");
    });
    sessionkit()
        .args(["clearsessions", "--db", &url, "--table", "my_sessions"])
        .assert()
        .success()
        .stdout("1\n");
    // The default table is not there: said plainly, not created.
    sessionkit()
        .args(["clearsessions", "--db", &url])
        .assert()
        .code(1)
        .stderr(contains("run `sessionkit migrate` first"));
}

#[test]
fn never_creates_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo.sqlite3");
    let output = sessionkit()
        .args(["clearsessions", "--db", &sqlite_url(&path)])
        .output()
        .expect("run");
    common::assert_refused(&output, "it must exist", &[]);
    assert!(!path.exists());
}

#[test]
fn engines_that_expire_by_themselves_print_zero() {
    for engine in [
        "cache",
        "signed_cookies",
        "django.contrib.sessions.backends.cache",
    ] {
        sessionkit()
            .args([
                "clearsessions",
                "--engine",
                engine,
                "--cache",
                "redis://127.0.0.1:1/",
            ])
            .assert()
            .success()
            .stdout("0\n")
            .stderr(contains("expire by themselves"));
    }
}

#[test]
fn a_million_expired_rows() {
    const N: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = migrated_db(dir.path());
    let started = Instant::now();
    block_on(async {
        let pool = pool(&path).await;
        insert_rows(&pool, "x", N, "2001-02-03 04:05:06.789000").await;
        insert_rows(&pool, "live", 3, "2999-01-01 00:00:00").await;
    });
    let inserted = started.elapsed();

    let started = Instant::now();
    let output = sessionkit()
        .args(["clearsessions", "--db", &sqlite_url(&path)])
        .output()
        .expect("run");
    let cleared = started.elapsed();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{N}\n"));
    assert_eq!(block_on(async { count(&pool(&path).await).await }), 3);
    // Speed is measured, not asserted: debug builds of SQLite are much slower.
    println!(
        "clearsessions: {N} expired rows inserted in {:.2?}, deleted in {:.2?} ({} build)",
        inserted,
        cleared,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}

#[test]
fn the_file_engine_through_the_library() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let write = |name: &str, data: &str, age_days: u64| {
        let output = common::with_secret(common::SECRET)
            .args(["encode", "--engine", "file", data])
            .output()
            .expect("run");
        assert!(output.status.success(), "{output:?}");
        let path = d.join(name);
        std::fs::write(&path, String::from_utf8_lossy(&output.stdout).trim()).expect("write");
        let mtime =
            std::time::SystemTime::now() - std::time::Duration::from_secs(age_days * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(mtime))
            .expect("set mtime");
    };
    let key = |c: char| format!("sessionid{}", c.to_string().repeat(32));
    write(&key('a'), "{\"v\":1}", 0);
    write(&key('b'), "{\"v\":1}", 30);
    write(
        &key('c'),
        "{\"_session_expiry\":\"2001-01-01T00:00:00+00:00\"}",
        0,
    );
    let dir_arg = d.to_str().expect("utf-8 temp path");
    common::with_secret(common::SECRET)
        .args(["clearsessions", "--engine", "file", "--file-path", dir_arg])
        .assert()
        .success()
        .stdout("2\n");
    assert!(d.join(key('a')).exists());
    assert!(!d.join(key('b')).exists());
    assert!(!d.join(key('c')).exists());
    // Each file's expiry is signed: the real key is required.
    let output = sessionkit()
        .args(["clearsessions", "--engine", "file", "--file-path", dir_arg])
        .output()
        .expect("run");
    common::assert_refused(&output, "no secret", &[]);
}

//! `sessionkit sessions list` and `sessions revoke`: what the app's index
//! recorded, listed without its keys; a revoked session deleted from the
//! session table and the index; an unknown id refused.

mod common;

use std::path::Path;

use common::{assert_refused, block_on, sessionkit, sqlite_url, stdout_json, with_secret, SECRET};
use sessionkit::store::db::DbStore;
use sessionkit::store::{Record, SessionMap};
use sessionkit::user_sessions::{IndexEntry, SessionIndex, SqlIndex};
use sessionkit::{SessionConfig, SessionStore};
use time::{Duration, OffsetDateTime};

/// Creates the database with two logged-in sessions of user 7 and one of
/// user 8, indexed as the app's layer records them; returns their keys.
async fn seed(path: &Path) -> Vec<(String, String)> {
    let url = format!("{}?mode=rwc", sqlite_url(path));
    let codec = SessionConfig::new(SECRET).expect("config").codec();
    let store = DbStore::open(&url).await.expect("open").with_codec(codec);
    let index = SqlIndex::for_store(&store).await.expect("index");
    let now = OffsetDateTime::now_utc();
    let mut made = Vec::new();
    for (i, (user, agent)) in [("7", "Firefox"), ("7", "Safari\u{1b}[2J"), ("8", "Chrome")]
        .iter()
        .enumerate()
    {
        let mut data = SessionMap::new();
        data.insert("_auth_user_id".into(), (*user).into());
        let expires = now + Duration::days(14);
        let key = store
            .create(&Record::new(data, expires), now)
            .await
            .expect("create")
            .cookie_value;
        let id = format!("{:032x}", i + 1);
        let seen = now - Duration::minutes(i64::try_from(i).expect("small"));
        index
            .put(&IndexEntry {
                user_id: (*user).into(),
                id: id.clone(),
                session_key: Some(key.clone()),
                created: seen,
                last_seen: seen,
                expires_at: expires,
                user_agent: Some((*agent).into()),
                ip: Some("198.51.100.1".into()),
            })
            .await
            .expect("put");
        made.push((key, id));
    }
    made
}

async fn stored(path: &Path, key: &str) -> bool {
    let codec = SessionConfig::new(SECRET).expect("config").codec();
    let store = DbStore::open(&sqlite_url(path))
        .await
        .expect("open")
        .with_codec(codec);
    store
        .load(key, OffsetDateTime::now_utc())
        .await
        .expect("load")
        .is_some()
}

fn list(path: &Path, user: &str) -> serde_json::Value {
    let output = sessionkit()
        .args([
            "sessions",
            "list",
            user,
            "--json",
            "--db",
            &sqlite_url(path),
        ])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    stdout_json(&output)
}

/// Rows in the index table.
async fn index_rows(path: &Path) -> i64 {
    let pool = sqlx::SqlitePool::connect(&sqlite_url(path))
        .await
        .expect("connect");
    sqlx::query_scalar("SELECT count(*) FROM sessionkit_user_session")
        .fetch_one(&pool)
        .await
        .expect("count")
}

/// An index entry of user 7 that expired a day ago, as a session the app
/// stopped seeing leaves it.
async fn expired_entry(path: &Path) {
    let pool = sqlx::SqlitePool::connect(&sqlite_url(path))
        .await
        .expect("connect");
    let index = SqlIndex::new(pool).await.expect("index");
    let then = OffsetDateTime::now_utc() - Duration::days(15);
    index
        .put(&IndexEntry {
            user_id: "7".into(),
            id: format!("{:032x}", 99),
            session_key: Some("gone".repeat(8)),
            created: then,
            last_seen: then,
            expires_at: then + Duration::days(14),
            user_agent: None,
            ip: None,
        })
        .await
        .expect("put");
}

/// `clearsessions` takes the index's expired entries with the expired
/// sessions: the live ones stay, the count goes to stderr and stdout keeps
/// the sessions' count alone.
#[test]
fn clearsessions_clears_the_index_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite3");
    block_on(seed(&path));
    block_on(expired_entry(&path));
    assert_eq!(block_on(index_rows(&path)), 4);
    let output = sessionkit()
        .args(["clearsessions", "--db", &sqlite_url(&path)])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "0\n");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("removed 1 expired entries from the session index"),
        "{output:?}"
    );
    assert_eq!(block_on(index_rows(&path)), 3);
    assert_eq!(list(&path, "7").as_array().map(Vec::len), Some(2));
}

#[test]
fn lists_and_revokes_a_users_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite3");
    let made = block_on(seed(&path));
    let (k1, id1) = made[0].clone();
    let (k2, id2) = made[1].clone();

    let listed = list(&path, "7");
    let ids: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        vec![id1.clone(), id2.clone()],
        "most recently seen first"
    );
    assert_eq!(listed[0]["user_agent"], "Firefox");
    assert_eq!(listed[0]["ip"], "198.51.100.1");
    let text = listed.to_string();
    assert!(
        !text.contains(&k1) && !text.contains(&k2),
        "a session key was printed"
    );

    // Text lines: control characters a client sent are not printed.
    let output = sessionkit()
        .args(["sessions", "list", "7", "--db", &sqlite_url(&path)])
        .output()
        .expect("run");
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains(&id2) && out.contains("Safari?[2J") && !out.contains('\u{1b}'),
        "{out}"
    );

    // Revoke one: deleted from the session table and the index.
    let output = with_secret(SECRET)
        .args(["sessions", "revoke", "7", &id1, "--db", &sqlite_url(&path)])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "1");
    assert!(!block_on(stored(&path, &k1)));
    assert!(block_on(stored(&path, &k2)));
    assert_eq!(list(&path, "7").as_array().unwrap().len(), 1);

    // An id the user does not have is refused, not silently ignored.
    let output = with_secret(SECRET)
        .args(["sessions", "revoke", "8", &id2, "--db", &sqlite_url(&path)])
        .output()
        .expect("run");
    assert_refused(&output, "has no live session", &[SECRET]);
    assert!(block_on(stored(&path, &k2)));

    // --all.
    let output = with_secret(SECRET)
        .args([
            "sessions",
            "revoke",
            "7",
            "--all",
            "--db",
            &sqlite_url(&path),
        ])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "1");
    assert!(!block_on(stored(&path, &k2)));
    assert_eq!(list(&path, "7"), serde_json::json!([]));
    assert_eq!(
        list(&path, "8").as_array().unwrap().len(),
        1,
        "another user's are left"
    );
}

#[test]
fn revoke_needs_an_id_or_all() {
    let output = sessionkit()
        .args(["sessions", "revoke", "7"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn a_missing_database_is_not_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo.sqlite3");
    let output = sessionkit()
        .args(["sessions", "list", "7", "--db", &sqlite_url(&path)])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(!path.exists());
}

//! The db engine against rows written by real Django (`sessions_sqlite.db`
//! and `sessions.json` from `django-vectors/`): every row loads as Django
//! loads it, and what we write back Django can read.
//!
//! The shared database is never opened: each test works on its own copy.
#![cfg(feature = "sqlite")]

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::db::{DbPool, DbStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore};
use sqlx::SqlitePool;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

struct Vectors {
    json: Value,
    reference_now: OffsetDateTime,
}

impl Vectors {
    fn load() -> Self {
        let json = common::vectors("sessions.json");
        let reference_now = common::iso(json["reference_now"].as_str().expect("reference_now"));
        Self {
            json,
            reference_now,
        }
    }

    fn str(&self, name: &str) -> &str {
        self.json[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    fn sessions(&self) -> &[Value] {
        self.json["sessions"].as_array().expect("sessions")
    }

    /// Django's codec: SECRET_KEY, plus the old key as a fallback if asked.
    fn codec(&self, with_fallback: bool) -> Codec {
        let fallbacks = if with_fallback {
            vec![SecretKey::new(self.str("old_secret_key"))]
        } else {
            vec![]
        };
        Codec::sessions(&Keys::new(SecretKey::new(self.str("secret_key")), fallbacks).unwrap())
    }
}

/// A writable copy of Django's database in a fresh temp dir.
fn copy_of_djangos_db(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("django.sqlite3");
    std::fs::copy(common::vectors_dir().join("sessions_sqlite.db"), &path)
        .expect("copy vectors db");
    let mut perms = std::fs::metadata(&path).expect("metadata").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).expect("make the copy writable");
    path
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn map(value: &Value) -> SessionMap {
    value.as_object().cloned().expect("a JSON object")
}

/// Django's `expire_date` text read back as UTC.
fn expire_date(raw: &str) -> OffsetDateTime {
    common::iso(&format!("{}Z", raw.replacen(' ', "T", 1)))
}

fn name(session: &Value) -> &str {
    session["name"].as_str().unwrap_or("?")
}

#[tokio::test]
async fn every_django_row_loads_as_django_loads_it() {
    let v = Vectors::load();
    let dir = TempDir::new().expect("temp dir");
    let path = copy_of_djangos_db(&dir);
    let current = DbStore::open(&url(&path))
        .await
        .expect("store")
        .with_codec(v.codec(false));
    let rotated = DbStore::open(&url(&path))
        .await
        .expect("store")
        .with_codec(v.codec(true));

    for s in v.sessions() {
        let key = s["session_key"].as_str().expect("session_key");
        for (store, field) in [
            (&current, "load_at_ref_now"),
            (&rotated, "load_at_ref_now_with_old_key_fallback"),
        ] {
            let loaded = store.load(key, v.reference_now).await.expect("load");
            if s["expired_at_ref_now"].as_bool() == Some(true) {
                assert!(loaded.is_none(), "{}: an expired row loaded", name(s));
                assert_eq!(s["key_kept_after_load"], Value::Bool(false));
                continue;
            }
            let loaded = loaded.unwrap_or_else(|| panic!("{}: a live row did not load", name(s)));
            assert_eq!(loaded.record.data, map(&s[field]), "{}: {field}", name(s));
            let raw = s["expire_date_raw"].as_str().expect("expire_date_raw");
            assert_eq!(
                loaded.record.expires_at,
                expire_date(raw),
                "{}: expires_at",
                name(s)
            );
            let stored = s["session_data"].as_str().expect("session_data");
            assert_eq!(
                loaded.version.as_bytes(),
                stored.as_bytes(),
                "{}: version",
                name(s)
            );
        }
    }
}

#[tokio::test]
async fn what_we_save_django_can_read() {
    let v = Vectors::load();
    let dir = TempDir::new().expect("temp dir");
    let path = copy_of_djangos_db(&dir);
    let store = DbStore::open(&url(&path))
        .await
        .expect("store")
        .with_codec(v.codec(true));
    let DbPool::Sqlite(pool) = store.pool().clone() else {
        panic!("an SQLite store");
    };
    let django = v.codec(false);
    let now = v.reference_now;

    let mut saved = 0;
    for s in v.sessions() {
        let key = s["session_key"].as_str().expect("session_key");
        let Some(loaded) = store.load(key, now).await.expect("load") else {
            continue;
        };
        let outcome = store
            .save(key, &loaded.record, &loaded.version, now)
            .await
            .expect("save");
        assert!(
            matches!(outcome, SaveOutcome::Saved(_)),
            "{}: {outcome:?}",
            name(s)
        );
        saved += 1;

        let (data, expire): (String, String) = sqlx::query_as(
            "SELECT session_data, expire_date FROM django_session WHERE session_key = ?",
        )
        .bind(key)
        .fetch_one(&pool)
        .await
        .expect("read back");
        // Signed with SECRET_KEY alone, so a fallback-signed row is re-signed.
        let decoded = django
            .decode(&data, None, now)
            .expect("Django's secret verifies it");
        assert_eq!(decoded.data, loaded.record.data, "{}", name(s));
        assert!(!decoded.fallback, "{}", name(s));
        assert_eq!(
            expire,
            s["expire_date_raw"].as_str().expect("raw"),
            "{}",
            name(s)
        );

        // Rows Django wrote at REF_NOW with the current key come back byte
        // for byte: same JSON, same zlib, same timestamp, same signature.
        let original = s["session_data"].as_str().expect("session_data");
        let same_time = s["created_at"].as_str() == v.json["reference_now"].as_str();
        if same_time && map(&s["load_at_ref_now"]) == map(&s["expected_decoded"]) {
            assert_eq!(data, original, "{}: not byte-identical to Django", name(s));
        }
    }
    assert_eq!(saved, 13, "every live row was saved");

    let expected = ["2024-06-15 12:00:00.250000", "2024-06-15 12:00:00"];
    for text in expected {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM django_session WHERE expire_date = ?")
                .bind(text)
                .fetch_one(&pool)
                .await
                .expect("count");
        assert!(n > 0, "no row has expire_date {text:?}");
    }
}

#[tokio::test]
async fn a_new_row_is_in_djangos_format() {
    let v = Vectors::load();
    let dir = TempDir::new().expect("temp dir");
    let path = copy_of_djangos_db(&dir);
    let store = DbStore::open(&url(&path))
        .await
        .expect("store")
        .with_codec(v.codec(false));
    let DbPool::Sqlite(pool) = store.pool().clone() else {
        panic!("an SQLite store");
    };
    let now = v.reference_now;
    let data = map(&serde_json::json!({"visit": 11}));

    for (expires_at, text) in [
        (now + Duration::weeks(2), "2024-06-15 12:00:00.250000"),
        (
            now + Duration::weeks(2) - Duration::milliseconds(250),
            "2024-06-15 12:00:00",
        ),
    ] {
        let created = store
            .create(&Record::new(data.clone(), expires_at), now)
            .await
            .expect("create");
        let (stored, expire): (String, String) = sqlx::query_as(
            "SELECT session_data, expire_date FROM django_session WHERE session_key = ?",
        )
        .bind(&created.cookie_value)
        .fetch_one(&pool)
        .await
        .expect("read back");
        assert_eq!(expire, text);
        // The seed's row: Django's own bytes for {"visit": 11} at REF_NOW.
        assert_eq!(
            stored,
            v.sessions()[0]["session_data"]
                .as_str()
                .expect("session_data")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_increments_count_exactly() {
    let v = Vectors::load();
    let dir = TempDir::new().expect("temp dir");
    let path = copy_of_djangos_db(&dir);
    let store = DbStore::open(&url(&path))
        .await
        .expect("store")
        .with_codec(v.codec(false));
    let now = v.reference_now;
    let start = Record::new(
        map(&serde_json::json!({"count": 0})),
        now + Duration::hours(1),
    );
    let key = store
        .create(&start, now)
        .await
        .expect("create")
        .cookie_value;

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (store, key) = (store.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                assert!(conflicts < 1000, "no progress after 1000 conflicts");
                let loaded = store.load(&key, now).await.expect("load").expect("live");
                let mut record = loaded.record;
                let count = record.data["count"].as_i64().expect("an integer");
                record.data.insert("count".into(), (count + 1).into());
                match store
                    .save(&key, &record, &loaded.version, now)
                    .await
                    .expect("save")
                {
                    SaveOutcome::Saved(_) => return conflicts,
                    SaveOutcome::Conflict => conflicts += 1,
                    SaveOutcome::Gone => panic!("the session went away"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.expect("task");
    }
    let loaded = store.load(&key, now).await.expect("load").expect("live");
    assert_eq!(
        loaded.record.data["count"], 50,
        "after {conflicts} conflicts"
    );
}

#[tokio::test]
async fn a_fresh_pool_on_djangos_db_sees_djangos_rows() {
    // The store must not depend on its own connection settings to read
    // Django's rows: a plain pool of the user's works too.
    let v = Vectors::load();
    let dir = TempDir::new().expect("temp dir");
    let path = copy_of_djangos_db(&dir);
    let pool = SqlitePool::connect(&url(&path)).await.expect("pool");
    let store = DbStore::from_pool(pool)
        .await
        .expect("store")
        .with_codec(v.codec(false));
    let first = &v.sessions()[0];
    let loaded = store
        .load(first["session_key"].as_str().expect("key"), v.reference_now)
        .await
        .expect("load")
        .expect("live");
    assert_eq!(loaded.record.data, map(&first["load_at_ref_now"]));
}

//! The file engine on a temp directory: the conformance suite, Django's file
//! names and format, how a store is opened and given its keys, cookie values
//! that must never become paths. (Concurrency: `file_concurrency.rs`;
//! expiry and corrupt files: `file_expiry.rs`.)
#![cfg(all(
    feature = "file",
    feature = "conformance",
    feature = "axum",
    feature = "memory"
))]

mod common;

use std::fs;
use std::sync::Arc;

use axum::http::StatusCode;
use common::faulty::Faulty;
use common::file::{microsecond_mtimes, names, record, store, NOW};
use common::{codec, data, http};
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::file::{FileOptions, FileStore};
use sessionkit::store::{SaveOutcome, SessionStore, Version};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let dir = TempDir::new().expect("temp dir");
    let exact = microsecond_mtimes(dir.path());
    if !exact {
        eprintln!("this file system rounds mtimes: skipping the exact-expiry tests");
    }
    let caps = Capabilities::new().exact_expiry(exact);
    conformance::run_all(&store(dir.path()), caps, NOW).await;
    assert_eq!(
        names(dir.path()),
        [".sessionkit-locks"],
        "the suite cleans up after itself: no session, temp or stray lock file is left"
    );
}

#[tokio::test]
async fn files_are_djangos() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let saved = store
        .create(
            &record(json!({"visit": 1, "name": "Åsa"}), NOW + Duration::weeks(2)),
            NOW,
        )
        .await
        .expect("create");
    let path = dir.path().join(format!("sessionid{}", saved.cookie_value));
    let content = fs::read(&path).expect("the file is named sessionid + key");
    assert_eq!(
        content,
        saved.version.as_bytes(),
        "the version is the content"
    );
    assert!(
        content.is_ascii() && !content.ends_with(b"\n"),
        "ASCII, no newline"
    );
    let decoded = codec()
        .decode(std::str::from_utf8(&content).unwrap(), None, NOW)
        .expect("Django's signed format");
    assert_eq!(decoded.data, data(json!({"visit": 1, "name": "Åsa"})));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "session files are 0600");
        let locks = dir.path().join(".sessionkit-locks");
        let saved_again = store
            .save(
                &saved.cookie_value,
                &record(json!({"visit": 2}), NOW + Duration::weeks(2)),
                &saved.version,
                NOW,
            )
            .await
            .expect("save");
        assert!(matches!(saved_again, SaveOutcome::Saved(_)));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a replaced file is 0600 too");
        let mode = fs::metadata(&locks).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the lock directory is private");
    }
    // The mtime is the save time, as Django's own file would have it.
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(OffsetDateTime::from(mtime), NOW);
    assert_eq!(
        names(dir.path()),
        [
            ".sessionkit-locks".to_owned(),
            format!("sessionid{}", saved.cookie_value)
        ],
        "no temp file is left behind"
    );
}

#[tokio::test]
async fn a_custom_cookie_name_names_the_files() {
    let dir = TempDir::new().expect("temp dir");
    let store = FileOptions::new()
        .prefix("app_sid")
        .open(dir.path())
        .expect("store")
        .with_codec(codec());
    assert_eq!(store.prefix(), "app_sid");
    let saved = store
        .create(&record(json!({}), NOW + Duration::hours(1)), NOW)
        .await
        .expect("create");
    assert!(dir
        .path()
        .join(format!("app_sid{}", saved.cookie_value))
        .is_file());

    for bad in ["", "../up", "a/b", "a b", "a\0b"] {
        let result = FileOptions::new().prefix(bad).open(dir.path());
        assert!(
            matches!(result, Err(StoreError::Config(_))),
            "prefix {bad:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_directory_is_a_config_error() {
    let dir = TempDir::new().expect("temp dir");
    let missing = dir.path().join("nope");
    let err = FileStore::open(&missing).expect_err("a missing directory");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(!missing.exists(), "the directory is never created");
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let err = FileStore::open(&file).expect_err("a file is not a directory");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(
        FileStore::default_dir().and_then(FileStore::open).is_ok(),
        "the system temp dir exists"
    );
}

#[tokio::test]
async fn a_vanished_directory_is_an_error_not_a_logout() {
    let dir = TempDir::new().expect("temp dir");
    let sessions = dir.path().join("sessions");
    fs::create_dir(&sessions).unwrap();
    let store = store(&sessions);
    let saved = store
        .create(&record(json!({"a": 1}), NOW + Duration::hours(1)), NOW)
        .await
        .expect("create");
    fs::remove_dir_all(&sessions).unwrap();
    let err = store
        .load(&saved.cookie_value, NOW)
        .await
        .expect_err("load");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(&saved.cookie_value),
        "the key leaked: {shown}"
    );
    let err = store
        .create(&record(json!({}), NOW + Duration::hours(1)), NOW)
        .await
        .expect_err("create");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store
        .save(
            &saved.cookie_value,
            &record(json!({}), NOW),
            &saved.version,
            NOW,
        )
        .await
        .expect_err("save");
    assert!(!format!("{err} {err:?}").contains(&saved.cookie_value));

    fs::create_dir(&sessions).unwrap();
    let back = store
        .create(&record(json!({}), NOW + Duration::hours(1)), NOW)
        .await
        .expect("the store recovers when the directory is back");
    assert!(store.load(&back.cookie_value, NOW).await.unwrap().is_some());
}

/// Cookie values that try to leave the directory never reach the store:
/// no store call, no file anywhere, a fresh session instead.
#[tokio::test]
async fn cookies_never_become_paths() {
    let outer = TempDir::new().expect("temp dir");
    let dir = outer.path().join("sessions");
    fs::create_dir(&dir).unwrap();
    let inner: Arc<dyn SessionStore> = Arc::new(store(&dir));
    let faulty = Faulty::new(inner.clone());
    let app = http::app(faulty.clone(), 1);
    let escape = outer.path().join("sessionidescaped1");
    let absolute = escape.display().to_string();
    let traversals = [
        "../sessionidescaped1",
        "../../../../etc/passwd",
        "..%2f..%2fsessionidescaped1",
        "..%2Fescaped1",
        "/etc/passwd",
        absolute.as_str(),
        "abcdefgh/../../escaped1",
        "..\\..\\escaped1",
        "abcdefgh%00",
        "sessionid/../../x",
    ];
    for bad in traversals {
        let before = faulty.calls();
        let (status, cookie, _) = http::get_with(&app, "/read", Some(bad)).await;
        assert_eq!(status, StatusCode::OK, "{bad}");
        // Django deletes a cookie whose session is empty: that is all a read may set.
        assert!(
            cookie.as_deref().is_none_or(|c| c == "\"\""),
            "{bad}: a read set {cookie:?}"
        );
        assert_eq!(faulty.calls(), before, "{bad}: a read reached the store");

        let (status, cookie, body) = http::get_with(&app, "/inc", Some(bad)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "1"), "{bad}");
        let fresh = cookie.expect("a fresh session");
        assert!(key::is_valid_key(&fresh) && fresh != bad, "{bad}");
        assert_eq!(
            faulty.calls(),
            before + 1,
            "{bad}: more than the create of a fresh session"
        );
    }

    // Below the layer too: the store builds no path from anything but a key.
    let expires_at = NOW + Duration::hours(1);
    for bad in traversals
        .iter()
        .copied()
        .chain(["abcdefgh\0ijkl", "", "session"])
    {
        assert!(!inner.accepts(bad), "{bad:?}");
        assert!(inner.load(bad, NOW).await.unwrap().is_none(), "{bad:?}");
        let outcome = inner
            .save(
                bad,
                &record(json!({"x": 1}), expires_at),
                &Version::new(Vec::new()),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(outcome, SaveOutcome::Gone, "{bad:?}");
        assert!(!inner.touch(bad, expires_at, NOW).await.unwrap(), "{bad:?}");
        inner.delete(bad).await.unwrap();
    }
    assert_eq!(
        names(outer.path()),
        ["sessions"],
        "nothing appeared outside the directory"
    );
    assert!(!escape.exists());
    let inside = names(&dir);
    assert!(
        inside
            .iter()
            .all(|n| n == ".sessionkit-locks" || n.starts_with("sessionid")),
        "{inside:?}"
    );
}

#[test]
fn debug_shows_no_secret() {
    let dir = TempDir::new().expect("temp dir");
    let shown = format!("{:?}", store(dir.path()));
    assert!(
        shown.contains("FileStore") && shown.contains("sessionid"),
        "{shown}"
    );
    assert!(!shown.contains(common::SECRET), "{shown}");
}

/// A store given no keys answers every call with a configuration error that
/// names the fix, and writes nothing.
#[tokio::test]
async fn a_store_without_keys_says_so() {
    let dir = TempDir::new().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("store");
    let fresh = record(json!({"a": 1}), NOW + Duration::hours(1));
    let err = store.create(&fresh, NOW).await.expect_err("no keys");
    let StoreError::Config(message) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("with_codec"), "{message}");
    let key = key::generate_key();
    let errors = [
        store.load(&key, NOW).await.map(|_| ()),
        store.delete(&key).await,
        store.clear_expired(NOW).await.map(|_| ()),
    ];
    for result in errors {
        assert!(matches!(result, Err(StoreError::Config(_))), "{result:?}");
    }
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

/// The layer gives a store its keys (the config's `SECRET_KEY`), and keys a
/// store was given stay.
#[tokio::test]
async fn the_layer_gives_the_store_its_keys() {
    let dir = TempDir::new().expect("temp dir");
    let config = sessionkit::SessionConfig::new(common::SECRET).expect("config");
    let store = FileStore::open(dir.path()).expect("store");
    store.attach(&config);
    let saved = store
        .create(&record(json!({"a": 1}), NOW + Duration::hours(1)), NOW)
        .await
        .expect("create with the layer's keys");
    let content = fs::read_to_string(dir.path().join(format!("sessionid{}", saved.cookie_value)))
        .expect("the session file");
    assert!(codec().decode(&content, None, NOW).is_ok());

    let other = sessionkit::SessionConfig::new("another secret ".repeat(4)).expect("config");
    let given = common::file::store(dir.path());
    given.attach(&other);
    let loaded = given
        .load(&saved.cookie_value, NOW)
        .await
        .expect("load")
        .expect("live");
    assert_eq!(
        loaded.record.data,
        data(json!({"a": 1})),
        "the given keys stayed"
    );
}

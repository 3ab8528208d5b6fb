//! The file engine on a temp directory: the conformance suite, Django's file
//! names and format, atomic replaces, exact counts across stores and across
//! processes, cookie values that must never become paths, and `clear_expired`
//! among foreign files.
#![cfg(all(
    feature = "file",
    feature = "conformance",
    feature = "axum",
    feature = "memory"
))]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime};

use axum::http::StatusCode;
use common::faulty::Faulty;
use common::http;
use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::conformance::{self, Capabilities};
use sessionkit::store::file::{FileOptions, FileStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore, Version};
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

fn codec() -> Codec {
    Codec::sessions(&Keys::new(SecretKey::new(common::SECRET), vec![]).unwrap())
}

fn store(dir: &Path) -> FileStore {
    FileStore::new(dir, codec()).expect("a store on an existing directory")
}

fn data(value: serde_json::Value) -> SessionMap {
    value.as_object().cloned().unwrap_or_default()
}

fn record(value: serde_json::Value, expires_at: OffsetDateTime) -> Record {
    Record::new(data(value), expires_at)
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list the directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Whether this file system keeps mtimes to the microsecond: then a load
/// gives back `expires_at` exactly, as the suite's `exact_expiry` checks.
fn microsecond_mtimes(dir: &Path) -> bool {
    let path = dir.join("mtime-probe");
    let file = fs::File::create(&path).expect("probe file");
    let t = SystemTime::UNIX_EPOCH + StdDuration::new(1_700_000_000, 123_456_000);
    file.set_modified(t).expect("set the probe's mtime");
    let back = fs::metadata(&path).and_then(|m| m.modified()).ok();
    fs::remove_file(&path).expect("remove the probe");
    back == Some(t)
}

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
    let options = FileOptions::new().prefix("app_sid");
    let store = FileStore::with_options(dir.path(), codec(), options).expect("store");
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
        let options = FileOptions::new().prefix(bad);
        let result = FileStore::with_options(dir.path(), codec(), options);
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
    let err = FileStore::new(&missing, codec()).expect_err("a missing directory");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(!missing.exists(), "the directory is never created");
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let err = FileStore::new(&file, codec()).expect_err("a file is not a directory");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(
        FileStore::temp_dir(codec()).is_ok(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_half_a_file() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let big = "x".repeat(64 * 1024);
    let mut saved = store
        .create(
            &record(json!({"n": 0, "pad": big}), NOW + Duration::hours(1)),
            NOW,
        )
        .await
        .expect("create");
    let path = dir.path().join(format!("sessionid{}", saved.cookie_value));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = std::thread::spawn({
        let (path, stop) = (path.clone(), stop.clone());
        move || {
            let mut reads = 0;
            while !stop.load(Ordering::SeqCst) {
                let content = fs::read_to_string(&path).expect("the file is always there");
                let decoded = codec().decode(&content, None, NOW);
                assert!(
                    decoded.is_ok(),
                    "a reader saw a partial file ({} bytes)",
                    content.len()
                );
                reads += 1;
            }
            reads
        }
    });
    for n in 1..=200 {
        let next = record(json!({"n": n, "pad": big}), NOW + Duration::hours(1));
        saved = match store
            .save(&saved.cookie_value, &next, &saved.version, NOW)
            .await
        {
            Ok(SaveOutcome::Saved(s)) => s,
            other => panic!("save {n}: {other:?}"),
        };
    }
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().expect("the reader saw only whole files");
    assert!(reads > 0);
    assert_eq!(
        names(dir.path()).len(),
        2,
        "temp files left: {:?}",
        names(dir.path())
    );
}

#[tokio::test]
async fn a_failed_write_leaves_the_old_file() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let saved = store
        .create(
            &record(json!({"keep": "me"}), NOW + Duration::hours(1)),
            NOW,
        )
        .await
        .expect("create");
    let path = dir.path().join(format!("sessionid{}", saved.cookie_value));
    let before = fs::read(&path).unwrap();

    // An expiry no file time can hold fails before anything is written.
    let absurd = record(json!({"lost": true}), datetime!(-9999-01-01 0:00 UTC));
    let result = store
        .save(&saved.cookie_value, &absurd, &saved.version, NOW)
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(fs::read(&path).unwrap(), before);

    #[cfg(unix)]
    {
        // A directory the store cannot write to: the temp file cannot be made.
        use std::os::unix::fs::PermissionsExt;
        let _ = store.delete(&key::generate_key()).await; // the lock directory exists now
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).unwrap();
        let writable = fs::write(dir.path().join("probe"), "x").is_ok();
        if writable {
            eprintln!(
                "running as root: directory permissions do not stop writes, skipping that case"
            );
        } else {
            let next = record(json!({"lost": true}), NOW + Duration::hours(1));
            let err = store
                .save(&saved.cookie_value, &next, &saved.version, NOW)
                .await
                .expect_err("a save into a read-only directory");
            assert!(
                !format!("{err} {err:?}").contains(&saved.cookie_value),
                "{err:?}"
            );
            assert_eq!(fs::read(&path).unwrap(), before, "the old file is intact");
        }
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    }
    let loaded = store
        .load(&saved.cookie_value, NOW)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(loaded.record.data, data(json!({"keep": "me"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_one_store() {
    let dir = TempDir::new().expect("temp dir");
    let store: Arc<dyn SessionStore> = Arc::new(store(dir.path()));
    http::concurrent_increments([store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_two_stores_on_one_directory() {
    // Two stores share nothing in-process: only the file locks keep them exact.
    let dir = TempDir::new().expect("temp dir");
    http::concurrent_increments([Arc::new(store(dir.path())), Arc::new(store(dir.path()))]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_survive() {
    let dir = TempDir::new().expect("temp dir");
    http::different_keys_survive([Arc::new(store(dir.path())), Arc::new(store(dir.path()))]).await;
}

/// Set in the children of [`two_processes_count_exactly`].
const WORKER_DIR: &str = "SESSIONKIT_FILE_WORKER_DIR";
const WORKER_KEY: &str = "SESSIONKIT_FILE_WORKER_KEY";
const WORKER_INCREMENTS: u64 = 40;

#[test]
fn two_processes_count_exactly() {
    let dir = TempDir::new().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let key = rt
        .block_on(
            store(dir.path()).create(&record(json!({"count": 0}), NOW + Duration::hours(1)), NOW),
        )
        .expect("create")
        .cookie_value;
    let exe = std::env::current_exe().expect("the test binary");
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "cross_process_worker",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_DIR, dir.path())
                .env(WORKER_KEY, &key)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn a worker process")
        })
        .collect();
    for mut child in children {
        assert!(
            child.wait().expect("wait for a worker").success(),
            "a worker failed"
        );
    }
    let loaded = rt
        .block_on(store(dir.path()).load(&key, NOW))
        .expect("load")
        .expect("live");
    assert_eq!(
        loaded.record.data["count"],
        json!(2 * WORKER_INCREMENTS),
        "two processes lost updates"
    );
}

/// A worker process of [`two_processes_count_exactly`]; a no-op in a normal run.
#[test]
fn cross_process_worker() {
    let (Some(dir), Ok(key)) = (std::env::var_os(WORKER_DIR), std::env::var(WORKER_KEY)) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = store(&dir);
        for _ in 0..WORKER_INCREMENTS {
            loop {
                let loaded = store.load(&key, NOW).await.expect("load").expect("live");
                let mut next = loaded.record.clone();
                let count = next.data["count"].as_u64().expect("a count");
                next.data.insert("count".into(), json!(count + 1));
                match store
                    .save(&key, &next, &loaded.version, NOW)
                    .await
                    .expect("save")
                {
                    SaveOutcome::Saved(_) => break,
                    SaveOutcome::Conflict => continue,
                    SaveOutcome::Gone => panic!("the session vanished"),
                }
            }
        }
    });
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

#[tokio::test]
async fn clear_expired_deletes_only_expired_session_files() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let live = store
        .create(&record(json!({"live": 1}), NOW + Duration::hours(1)), NOW)
        .await
        .unwrap();
    let by_mtime = store
        .create(&record(json!({"old": 1}), NOW - Duration::seconds(1)), NOW)
        .await
        .unwrap();
    let by_date = store
        .create(
            &record(
                json!({"_session_expiry": "2026-03-01T00:00:00+00:00"}),
                datetime!(2026-03-01 0:00 UTC),
            ),
            NOW,
        )
        .await
        .unwrap();
    let by_int = store
        .create(
            &record(json!({"_session_expiry": 60}), NOW + Duration::seconds(60)),
            NOW,
        )
        .await
        .unwrap();

    // Foreign files, all old enough to be expired if they were sessions.
    let old = SystemTime::UNIX_EPOCH + StdDuration::from_secs(1_000_000_000);
    let foreign = [
        "README".to_owned(),
        format!("sessionid{}_out_a1b2c3d4", key::generate_key()),
        "sessionidSHORT".to_owned(),
        "sessionidABCDEFGHIJKL".to_owned(),
        format!("othercookie{}", key::generate_key()),
        format!("sessionid{}", "a".repeat(41)),
    ];
    for name in &foreign {
        let file = fs::File::create(dir.path().join(name)).unwrap();
        file.set_modified(old).unwrap();
    }
    fs::create_dir(dir.path().join("sessionidsubdirectory")).unwrap();

    let removed = store.clear_expired(NOW).await.expect("clear_expired");
    assert_eq!(
        removed, 2,
        "the expired-by-mtime and expired-by-date sessions"
    );
    let left = names(dir.path());
    for name in &foreign {
        assert!(left.contains(name), "{name} was deleted: {left:?}");
    }
    for saved in [&by_mtime, &by_date] {
        assert!(!left.contains(&format!("sessionid{}", saved.cookie_value)));
    }
    for saved in [&live, &by_int] {
        assert!(store
            .load(&saved.cookie_value, NOW)
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(store.clear_expired(NOW).await.unwrap(), 0);
    // The integer expiry counts from the mtime: gone a minute later.
    assert_eq!(
        store
            .clear_expired(NOW + Duration::seconds(60))
            .await
            .unwrap(),
        1
    );
    assert!(store
        .load(&by_int.cookie_value, NOW)
        .await
        .unwrap()
        .is_none());
    assert!(store.load(&live.cookie_value, NOW).await.unwrap().is_some());
}

#[tokio::test]
async fn expiry_follows_djangos_rules() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    // An integer: sliding from each save (our documented difference from Django).
    let int = store
        .create(
            &record(
                json!({"_session_expiry": 600}),
                NOW + Duration::seconds(600),
            ),
            NOW,
        )
        .await
        .unwrap();
    let loaded = store
        .load(&int.cookie_value, NOW)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(loaded.record.expires_at, NOW + Duration::seconds(600));
    let later = NOW + Duration::seconds(500);
    let saved = store
        .save(
            &int.cookie_value,
            &record(
                json!({"_session_expiry": 600}),
                later + Duration::seconds(600),
            ),
            &loaded.version,
            later,
        )
        .await
        .unwrap();
    assert!(matches!(saved, SaveOutcome::Saved(_)));
    let at = NOW + Duration::seconds(1099);
    assert!(
        store.load(&int.cookie_value, at).await.unwrap().is_some(),
        "the save slid the expiry"
    );
    assert!(store
        .load(&int.cookie_value, at + Duration::seconds(1))
        .await
        .unwrap()
        .is_none());
    assert!(
        !dir.path()
            .join(format!("sessionid{}", int.cookie_value))
            .exists(),
        "an expired file is deleted when a load meets it"
    );

    // A date: absolute; a touch cannot move it, the data holds it.
    let date = datetime!(2026-03-02 0:00 UTC);
    let dated = store
        .create(
            &record(
                json!({"_session_expiry": "2026-03-02T00:00:00+00:00"}),
                date,
            ),
            NOW,
        )
        .await
        .unwrap();
    assert!(store
        .touch(&dated.cookie_value, date + Duration::days(30), NOW)
        .await
        .unwrap());
    let loaded = store
        .load(&dated.cookie_value, NOW)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(loaded.record.expires_at, date);
    assert_eq!(loaded.version, dated.version, "a touch keeps the version");

    // Browser close (0): the cookie age from the mtime, as with no expiry.
    let closing = store
        .create(
            &record(json!({"_session_expiry": 0}), NOW + Duration::weeks(2)),
            NOW,
        )
        .await
        .unwrap();
    let loaded = store
        .load(&closing.cookie_value, NOW)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(loaded.record.expires_at, NOW + Duration::weeks(2));
}

#[tokio::test]
async fn a_corrupt_file_loads_empty_and_keeps_its_key() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let key = key::generate_key();
    let path = dir.path().join(format!("sessionid{key}"));
    for content in ["bad:encoded:value", "", "not even close \u{7f}"] {
        fs::write(&path, content).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::from(NOW))
            .unwrap();
        let loaded = store
            .load(&key, NOW)
            .await
            .unwrap()
            .expect("kept as an empty session");
        assert!(loaded.record.data.is_empty(), "{content:?}");
        assert_eq!(loaded.version.as_bytes(), content.as_bytes());
        assert_eq!(
            loaded.record.expires_at,
            NOW + Duration::weeks(2),
            "mtime + cookie age"
        );
    }
    let next = record(json!({"fresh": true}), NOW + Duration::hours(1));
    let loaded = store.load(&key, NOW).await.unwrap().expect("live");
    let outcome = store.save(&key, &next, &loaded.version, NOW).await.unwrap();
    assert!(
        matches!(outcome, SaveOutcome::Saved(_)),
        "the next save overwrites it"
    );
    assert_eq!(
        store.load(&key, NOW).await.unwrap().expect("live").record,
        next
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

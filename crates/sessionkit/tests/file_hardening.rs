//! The file engine against a hostile or careless directory (security review
//! M1, and the file part of M4): entries planted under a session's name
//! (a FIFO, symlinks), a lock held by someone else, directories other users
//! can read or write, and the compare-and-set delete.
//!
//! A test that would hang on a broken store runs on its own runtime under a
//! deadline ([`within`]); that runtime is let go in the background, so a
//! blocking thread stuck for good fails the test instead of hanging the binary.
#![cfg(all(unix, feature = "file"))]

mod common;

use common::codec;
use common::file::{store, NOW};
use std::fs;
use std::future::Future;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use serde_json::json;
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::store::file::{FileOptions, FileStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore, Version};
use tempfile::TempDir;
use time::Duration;

/// Far longer than any of these operations takes when it works.
const LIMIT: StdDuration = StdDuration::from_secs(10);

fn record(value: serde_json::Value) -> Record {
    let data: SessionMap = value.as_object().cloned().unwrap_or_default();
    Record::new(data, NOW + Duration::hours(1))
}

fn session_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("sessionid{key}"))
}

/// Runs `work` on a runtime of its own and fails the test if it does not
/// finish within `limit`.
fn within<T>(limit: StdDuration, work: impl Future<Output = T>) -> T {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let result = rt.block_on(async { tokio::time::timeout(limit, work).await });
    rt.shutdown_background();
    result.unwrap_or_else(|_| panic!("the store did not answer within {limit:?}"))
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo failed");
}

/// This process's user id, as the kernel stamps it on a new file.
fn my_uid() -> u32 {
    let probe = tempfile::tempfile().expect("a temp file");
    probe.metadata().expect("its metadata").uid()
}

/// Every operation on a key whose name holds something that is not a
/// session file sees no session, and answers at once.
async fn no_session_there(store: &FileStore, key: &str) {
    assert!(store.load(key, NOW).await.expect("load").is_none());
    let outcome = store
        .save(key, &record(json!({"a": 1})), &Version::new("x"), NOW)
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Gone), "{outcome:?}");
    let later = NOW + Duration::hours(2);
    assert!(!store.touch(key, later, NOW).await.expect("touch"));
    assert_eq!(store.clear_expired(NOW).await.expect("clear"), 0);
}

#[test]
fn a_fifo_at_a_session_name_is_no_session() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let key = key::generate_key();
    mkfifo(&session_path(dir.path(), &key));
    within(LIMIT, async {
        no_session_there(&store, &key).await;
        assert!(store
            .delete_if(&key, &Version::new("x"), NOW)
            .await
            .expect("delete_if"));
        store.delete(&key).await.expect("delete");
    });
}

#[test]
fn a_symlink_to_dev_zero_is_no_session() {
    // Before the fix this read until memory ran out: run it with a memory
    // limit (`ulimit -v`) when checking an old build.
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let key = key::generate_key();
    std::os::unix::fs::symlink("/dev/zero", session_path(dir.path(), &key)).expect("symlink");
    within(LIMIT, no_session_there(&store, &key));
}

#[test]
fn a_symlink_to_another_session_file_is_not_followed() {
    let (elsewhere, dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let (other, store) = (self::store(elsewhere.path()), self::store(dir.path()));
    let planted = key::generate_key();
    within(LIMIT, async {
        let original = record(json!({"_auth_user_id": "1"}));
        let victim = other.create(&original, NOW).await.expect("create");
        let target = session_path(elsewhere.path(), &victim.cookie_value);
        std::os::unix::fs::symlink(&target, session_path(dir.path(), &planted)).expect("symlink");

        assert!(store.load(&planted, NOW).await.expect("load").is_none());
        let outcome = store
            .save(&planted, &record(json!({"evil": 1})), &victim.version, NOW)
            .await
            .expect("save");
        assert!(matches!(outcome, SaveOutcome::Gone), "{outcome:?}");
        let loaded = other
            .load(&victim.cookie_value, NOW)
            .await
            .expect("load")
            .expect("the target is untouched");
        assert_eq!(loaded.record, original);
        assert_eq!(loaded.version, victim.version);
    });
}

#[test]
fn a_directory_at_a_session_name_is_no_session() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let key = key::generate_key();
    fs::create_dir(session_path(dir.path(), &key)).expect("a planted directory");
    fs::write(session_path(dir.path(), &key).join("inside"), "x").expect("not empty");
    within(LIMIT, async {
        no_session_there(&store, &key).await;
        store.delete(&key).await.expect("delete");
    });
}

#[tokio::test]
async fn a_file_over_8_mib_loads_as_corrupt_and_is_overwritten() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let key = key::generate_key();
    let path = session_path(dir.path(), &key);
    fs::write(&path, vec![b'a'; (8 << 20) + 1]).expect("a huge file");
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::from(NOW)).unwrap();
    let loaded = store
        .load(&key, NOW)
        .await
        .expect("load")
        .expect("kept as an empty session, as a corrupt one is");
    assert!(loaded.record.data.is_empty());
    let next = record(json!({"fresh": true}));
    let outcome = store.save(&key, &next, &loaded.version, NOW).await;
    assert!(matches!(outcome, Ok(SaveOutcome::Saved(_))), "{outcome:?}");
    let back = store.load(&key, NOW).await.unwrap().expect("live");
    assert_eq!(back.record, next);
}

#[test]
fn a_lock_held_elsewhere_gives_unavailable_not_a_hang() {
    let dir = TempDir::new().expect("temp dir");
    let wait = StdDuration::from_millis(300);
    let store = FileOptions::new()
        .lock_timeout(wait)
        .open(dir.path())
        .expect("store")
        .with_codec(codec());
    within(LIMIT, async {
        let saved = store
            .create(&record(json!({"n": 1})), NOW)
            .await
            .expect("create");
        let key = saved.cookie_value;

        // Another process holds every stripe's lock (and so this key's).
        let locks = dir.path().join(".sessionkit-locks");
        fs::create_dir_all(&locks).expect("the lock directory");
        let held: Vec<fs::File> = (0..64)
            .map(|i| {
                let file = fs::File::create(locks.join(format!("{i:02}"))).expect("lock file");
                fs4::FileExt::try_lock(&file).expect("take the lock");
                file
            })
            .collect();

        let started = Instant::now();
        let next = record(json!({"n": 2}));
        let err = store
            .save(&key, &next, &saved.version, NOW)
            .await
            .expect_err("the lock is held");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store.delete(&key).await.expect_err("the lock is held");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let later = NOW + Duration::hours(2);
        let err = store.touch(&key, later, NOW).await.expect_err("held");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store.delete_if(&key, &saved.version, NOW).await;
        assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
        assert!(started.elapsed() >= wait * 4, "each waited for the lock");
        assert!(
            session_path(dir.path(), &key).exists(),
            "nothing was deleted"
        );

        drop(held);
        let outcome = store.save(&key, &next, &saved.version, NOW).await;
        assert!(matches!(outcome, Ok(SaveOutcome::Saved(_))), "{outcome:?}");
    });
}

#[test]
fn fifos_planted_as_lock_files_give_an_error_not_a_hang() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let locks = dir.path().join(".sessionkit-locks");
    fs::create_dir(&locks).expect("the lock directory");
    for i in 0..64 {
        mkfifo(&locks.join(format!("{i:02}")));
    }
    within(LIMIT, async {
        let saved = store.create(&record(json!({"n": 1})), NOW).await.unwrap();
        let key = saved.cookie_value;
        let next = record(json!({"n": 2}));
        let err = store.save(&key, &next, &saved.version, NOW).await;
        assert!(matches!(err, Err(StoreError::Backend(_))), "{err:?}");
        let err = store.delete(&key).await;
        assert!(matches!(err, Err(StoreError::Backend(_))), "{err:?}");
        let loaded = store.load(&key, NOW).await.unwrap().expect("kept");
        assert_eq!(loaded.version, saved.version);
    });
}

#[test]
fn a_symlinked_lock_directory_is_not_used() {
    let (dir, elsewhere) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let store = store(dir.path());
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(".sessionkit-locks"))
        .expect("symlink");
    within(LIMIT, async {
        let saved = store.create(&record(json!({"n": 1})), NOW).await.unwrap();
        let next = record(json!({"n": 2}));
        let err = store
            .save(&saved.cookie_value, &next, &saved.version, NOW)
            .await;
        assert!(matches!(err, Err(StoreError::Backend(_))), "{err:?}");
    });
    let planted = fs::read_dir(elsewhere.path()).unwrap().count();
    assert_eq!(planted, 0, "lock files were made through the symlink");
}

#[tokio::test]
async fn delete_if_deletes_only_the_expected_version() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let first = store
        .create(&record(json!({"n": 1})), NOW)
        .await
        .expect("create");
    let key = first.cookie_value.clone();
    let second = match store
        .save(&key, &record(json!({"n": 2})), &first.version, NOW)
        .await
        .expect("save")
    {
        SaveOutcome::Saved(saved) => saved,
        other => panic!("{other:?}"),
    };
    let stale = store.delete_if(&key, &first.version, NOW).await.unwrap();
    assert!(!stale, "a stale version deletes nothing");
    let kept = store.load(&key, NOW).await.unwrap().expect("kept");
    assert_eq!(kept.version, second.version);
    assert!(store.delete_if(&key, &second.version, NOW).await.unwrap());
    assert!(store.load(&key, NOW).await.unwrap().is_none());
    assert!(!session_path(dir.path(), &key).exists());
    assert!(
        store.delete_if(&key, &second.version, NOW).await.unwrap(),
        "nothing left: nothing to keep"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_if_and_a_save_of_one_version_never_both_win() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(dir.path());
    let mut both_won = 0;
    for round in 0..300 {
        let saved = store
            .create(&record(json!({"n": round})), NOW)
            .await
            .expect("create");
        let key = saved.cookie_value;
        let next = record(json!({"n": round + 1}));
        let (saving, deleting) = tokio::join!(
            store.save(&key, &next, &saved.version, NOW),
            store.delete_if(&key, &saved.version, NOW)
        );
        let left = store.load(&key, NOW).await.expect("load");
        match (saving.expect("save"), deleting.expect("delete_if")) {
            (SaveOutcome::Saved(_), true) => both_won += 1,
            (SaveOutcome::Saved(_), false) => {
                assert_eq!(left.expect("the save stands").record, next)
            }
            (SaveOutcome::Gone, true) => assert!(left.is_none()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(both_won, 0, "acknowledged saves that were then deleted");
}

#[test]
fn the_default_directory_is_private() {
    let store = FileStore::default_dir()
        .and_then(FileStore::open)
        .expect("the default directory");
    let system = std::env::temp_dir();
    assert_ne!(store.dir(), system, "not the shared temp dir itself");
    assert!(store.dir().starts_with(&system), "{:?}", store.dir());
    let meta = fs::symlink_metadata(store.dir()).expect("it exists");
    assert!(meta.is_dir());
    assert_eq!(meta.mode() & 0o7777, 0o700, "{:o}", meta.mode());
    assert_eq!(meta.uid(), my_uid());
}

#[test]
fn a_directory_other_users_can_write_to_is_refused() {
    let dir = TempDir::new().expect("temp dir");
    let set = |mode| fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
    for mode in [0o777, 0o1777, 0o702, 0o733] {
        set(mode);
        let err = FileStore::open(dir.path()).expect_err("refused");
        assert!(matches!(err, StoreError::Config(_)), "{mode:o}: {err:?}");
        let store = FileOptions::new().allow_shared_dir(true).open(dir.path());
        assert!(store.is_ok(), "{mode:o}: shared on purpose");
    }
    for mode in [0o700, 0o701, 0o750, 0o770] {
        set(mode);
        assert!(FileStore::open(dir.path()).is_ok(), "{mode:o}");
    }
}

#[test]
fn a_directory_other_users_can_list_is_used_with_a_warning() {
    let logs = common::logs::captured_logs();
    let dir = TempDir::new().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(FileStore::open(dir.path()).is_ok());
    let warned = logs.text().lines().any(|l| {
        l.contains("WARN") && l.contains(&*dir.path().to_string_lossy()) && l.contains("list")
    });
    assert!(
        warned,
        "no warning about {:?}:\n{}",
        dir.path(),
        logs.text()
    );
}

#[test]
fn a_directory_of_another_user_is_refused() {
    let dir = TempDir::new().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    // Only root can give a directory away; elsewhere this case cannot be made.
    if my_uid() != 0 {
        return;
    }
    std::os::unix::fs::chown(dir.path(), Some(4242), None).expect("chown");
    let err = FileStore::open(dir.path()).expect_err("refused");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    let shared = FileOptions::new().allow_shared_dir(true);
    assert!(shared.open(dir.path()).is_ok());
}

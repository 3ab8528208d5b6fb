//! The file engine under concurrency: readers never see half a file, a
//! failed write keeps the old one, and counts stay exact across stores on
//! one directory and across processes.
#![cfg(all(
    feature = "file",
    feature = "conformance",
    feature = "axum",
    feature = "memory"
))]

mod common;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::file::{names, record, store, NOW};
use common::{codec, data, http};
use serde_json::json;
use sessionkit::key;
use sessionkit::store::{SaveOutcome, SessionStore};
use tempfile::TempDir;
use time::macros::datetime;
use time::Duration;

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

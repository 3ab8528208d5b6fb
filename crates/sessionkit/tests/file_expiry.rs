//! The file engine's expiry, which Django derives from the data and the
//! file's mtime: `clear_expired` among foreign files, the `_session_expiry`
//! rules, and corrupt files that load as empty sessions.
#![cfg(feature = "file")]

mod common;

use std::fs;
use std::time::{Duration as StdDuration, SystemTime};

use common::file::{names, record, store, NOW};
use serde_json::json;
use sessionkit::key;
use sessionkit::store::{SaveOutcome, SessionStore};
use tempfile::TempDir;
use time::macros::datetime;
use time::Duration;

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

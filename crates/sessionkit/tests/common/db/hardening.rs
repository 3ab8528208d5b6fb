//! What the db engine must show alike on every database after the security
//! review: `delete_if` compares and deletes at once, a save whose reply was
//! lost is never replayed, a locked row times out alone, and a stalled
//! database fails saves fast once its queue is full.

use std::future::Future;
use std::time::{Duration as StdDuration, Instant};

use serde_json::{json, Value};
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::store::{Record, SaveOutcome, SessionStore};
use time::{Duration, OffsetDateTime};

use super::super::data;
use super::super::proxy::Proxy;

/// `delete_if` deletes only the version the caller holds: a matching version
/// goes, a stale one stays (the caller's delete lost to a newer save), and a
/// session that is gone or expired counts as deleted.
pub(crate) async fn delete_if_deletes_only_the_expected_version(
    store: &dyn SessionStore,
    now: OffsetDateTime,
) {
    use sessionkit::store::Version;

    let live = now + Duration::hours(1);
    let create = |value: Value, expires| async move {
        store
            .create(&Record::new(data(value), expires), now)
            .await
            .expect("create")
    };

    let held = create(json!({ "n": 1 }), live).await;
    assert!(store
        .delete_if(&held.cookie_value, &held.version, now)
        .await
        .expect("delete_if"));
    assert!(store
        .load(&held.cookie_value, now)
        .await
        .expect("load")
        .is_none());

    let moved_on = create(json!({ "n": 1 }), live).await;
    let newer = Record::new(data(json!({ "n": 2 })), live);
    let saved = match store
        .save(&moved_on.cookie_value, &newer, &moved_on.version, now)
        .await
        .expect("save")
    {
        SaveOutcome::Saved(saved) => saved,
        other => panic!("save: {other:?}"),
    };
    assert!(
        !store
            .delete_if(&moved_on.cookie_value, &moved_on.version, now)
            .await
            .expect("delete_if"),
        "a stale version must not delete a newer save"
    );
    let not_text = Version::new(b"\xff\x00'".to_vec());
    assert!(!store
        .delete_if(&moved_on.cookie_value, &not_text, now)
        .await
        .expect("delete_if"));
    let kept = store
        .load(&moved_on.cookie_value, now)
        .await
        .expect("load")
        .expect("the newer save stays");
    assert_eq!(kept.record.data, data(json!({ "n": 2 })));
    assert!(store
        .delete_if(&moved_on.cookie_value, &saved.version, now)
        .await
        .expect("delete_if"));
    assert!(store
        .load(&moved_on.cookie_value, now)
        .await
        .expect("load")
        .is_none());

    assert!(store
        .delete_if(&key::generate_key(), &held.version, now)
        .await
        .expect("delete_if of a missing session"));
    let expired = create(json!({ "n": 1 }), now - Duration::minutes(1)).await;
    assert!(store
        .delete_if(&expired.cookie_value, &Version::new(b"other".to_vec()), now)
        .await
        .expect("delete_if of an expired session"));
}

/// `store` reaches its server through `proxy`. Saves of several sessions go
/// out together; the server commits them, but every reply is lost (the proxy
/// drops replies once the client sends `trigger`, then cuts the links). The
/// store cannot know whether they were written: each save must say
/// `Unavailable`, never be re-run on its own (the re-run would find the row
/// already moved on and call it a conflict, and the caller would reload and
/// apply its change twice). Each session is incremented as the session layer
/// does it (reload and redo on a conflict); `stored_version` reads a row's
/// `session_data` on the server directly. At the end every session holds
/// exactly one increment.
pub(crate) async fn a_lost_reply_is_unavailable_never_replayed<F, Fut>(
    store: std::sync::Arc<impl SessionStore + 'static>,
    proxy: &Proxy,
    trigger: impl FnOnce(&[String]) -> Vec<u8>,
    stored_version: F,
    now: OffsetDateTime,
) where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Vec<u8>>,
{
    let expires = now + Duration::hours(1);
    let mut sessions = Vec::new();
    for _ in 0..6 {
        let record = Record::new(data(json!({ "n": 0 })), expires);
        sessions.push(store.create(&record, now).await.expect("create"));
    }
    let keys: Vec<String> = sessions.iter().map(|s| s.cookie_value.clone()).collect();
    proxy.mute_replies_after(&trigger(&keys));

    // Spawned together: on a current-thread runtime all are queued before the
    // batching task runs, so they go to the server as one batch.
    let mut increments = tokio::task::JoinSet::new();
    for saved in &sessions {
        let (store, key, mut version) = (
            store.clone(),
            saved.cookie_value.clone(),
            saved.version.clone(),
        );
        increments.spawn(async move {
            let mut n = 0;
            let mut outcomes = Vec::new();
            loop {
                let record = Record::new(data(json!({ "n": n + 1 })), expires);
                let outcome = store.save(&key, &record, &version, now).await;
                let conflict = matches!(outcome, Ok(SaveOutcome::Conflict));
                outcomes.push(format!("{outcome:?}"));
                if !conflict {
                    return (key, outcomes, outcome.is_ok());
                }
                let loaded = store.load(&key, now).await.expect("reload").expect("live");
                n = loaded.record.data["n"].as_i64().expect("n");
                version = loaded.version;
            }
        });
    }
    let started = Instant::now();
    loop {
        let mut written = 0;
        for saved in &sessions {
            if stored_version(saved.cookie_value.clone()).await != saved.version.as_bytes() {
                written += 1;
            }
        }
        if written == sessions.len() && proxy.replies_muted() {
            break;
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(10),
            "the saves never reached the server ({written} written)"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    // The server committed every save; the client heard nothing. Now the
    // connections die, and the server is reachable again at once.
    proxy.cut();
    proxy.restore();

    while let Some(joined) = increments.join_next().await {
        let (key, outcomes, _) = joined.expect("increment task");
        assert!(
            outcomes.len() == 1 && outcomes[0].starts_with("Err(Unavailable"),
            "a save whose reply was lost must say Unavailable, once: got {outcomes:?}"
        );
        // Pooled connections the cut killed fail once each, as unavailable.
        let mut attempts = 0;
        let loaded = loop {
            match store.load(&key, now).await {
                Ok(loaded) => break loaded.expect("live"),
                Err(StoreError::Unavailable(_)) if attempts < 20 => attempts += 1,
                Err(e) => panic!("load: {e:?}"),
            }
        };
        assert_eq!(
            loaded.record.data,
            data(json!({ "n": 1 })),
            "the increment was applied exactly once"
        );
    }
}

/// A side transaction holds `lock` on one session's row. A save of that
/// session gives up as `Unavailable` within seconds (not after the server's
/// default 50 s, or never), and saves of other sessions that queue meanwhile
/// are each saved.
pub(crate) async fn a_locked_row_times_out_and_others_still_save<L, Fut, G>(
    store: std::sync::Arc<impl SessionStore + 'static>,
    lock: L,
    now: OffsetDateTime,
) where
    L: FnOnce(String) -> Fut,
    Fut: Future<Output = G>,
{
    let expires = now + Duration::hours(1);
    let create = |n: i64| {
        let store = store.clone();
        async move {
            let record = Record::new(data(json!({ "n": n })), expires);
            store.create(&record, now).await.expect("create")
        }
    };
    let locked = create(0).await;
    let mut others = Vec::new();
    for i in 1..=8 {
        others.push(create(i).await);
    }
    let guard = lock(locked.cookie_value.clone()).await;

    let save = |saved: &sessionkit::store::Saved, n: i64| {
        let (store, key, version) = (
            store.clone(),
            saved.cookie_value.clone(),
            saved.version.clone(),
        );
        async move {
            let record = Record::new(data(json!({ "n": n, "saved": true })), expires);
            let started = Instant::now();
            let outcome = store.save(&key, &record, &version, now).await;
            (key, outcome, started.elapsed())
        }
    };
    let mut saves = tokio::task::JoinSet::new();
    saves.spawn(save(&locked, 0));
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    for (i, other) in (1..).zip(&others) {
        saves.spawn(save(other, i));
    }
    let all = async {
        let mut results = Vec::new();
        while let Some(joined) = saves.join_next().await {
            results.push(joined.expect("save task"));
        }
        results
    };
    let results = tokio::time::timeout(StdDuration::from_secs(30), all)
        .await
        .expect("a save waited on the lock for over 30 s: no lock timeout");
    drop(guard);
    for (key, outcome, took) in results {
        if key == locked.cookie_value {
            assert!(
                matches!(outcome, Err(StoreError::Unavailable(_))),
                "the save of the locked row: {outcome:?}"
            );
            assert!(
                took < StdDuration::from_secs(15),
                "the locked save took {took:?}"
            );
        } else {
            assert!(
                matches!(outcome, Ok(SaveOutcome::Saved(_))),
                "a save of another session: {outcome:?}"
            );
        }
    }
    for (i, other) in (1..).zip(&others) {
        let loaded = store
            .load(&other.cookie_value, now)
            .await
            .expect("load")
            .expect("live");
        assert_eq!(loaded.record.data, data(json!({ "n": i, "saved": true })));
    }
}

/// Saves pile up behind a database that has stopped answering (`stall`
/// has just made it so; `release` ends the stall). Past the queue's bound they
/// fail at once as unavailable rather than all waiting on it: well over a
/// thousand of 3000 have their answer within a second (and the queued ones
/// do not). Once released, every
/// save has an answer (none of the keys exists: gone, or unavailable).
pub(crate) async fn a_full_queue_fails_fast(
    store: std::sync::Arc<impl SessionStore + 'static>,
    release: impl FnOnce(),
    now: OffsetDateTime,
) {
    use sessionkit::store::Version;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let answered = std::sync::Arc::new(AtomicUsize::new(0));
    let mut saves = tokio::task::JoinSet::new();
    for _ in 0..3000 {
        let (store, answered) = (store.clone(), answered.clone());
        saves.spawn(async move {
            let record = Record::new(data(json!({ "n": 1 })), now + Duration::hours(1));
            let version = Version::new(b"v".to_vec());
            let outcome = store
                .save(&key::generate_key(), &record, &version, now)
                .await;
            answered.fetch_add(1, Ordering::SeqCst);
            outcome
        });
    }
    tokio::time::sleep(StdDuration::from_secs(1)).await;
    let early = answered.load(Ordering::SeqCst);
    release();
    let all = async {
        let mut outcomes = Vec::new();
        while let Some(joined) = saves.join_next().await {
            outcomes.push(joined.expect("save task"));
        }
        outcomes
    };
    let outcomes = tokio::time::timeout(StdDuration::from_secs(60), all)
        .await
        .expect("every save has an answer once the database is back");
    assert!(
        early >= 1200,
        "only {early} of 3000 saves were answered while the database stalled"
    );
    assert!(
        early <= 2500,
        "the database did not stall ({early} answered)"
    );
    for outcome in outcomes {
        assert!(
            matches!(
                outcome,
                Ok(SaveOutcome::Gone) | Err(StoreError::Unavailable(_))
            ),
            "{outcome:?}"
        );
    }
}

//! Compare-and-set saves, deletes, unknown keys, and races between writers.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::util::{self, cleanup, create, join_all, load, load_live, map, marked, micros};
use super::util::{save, save_ok, yield_once};
use crate::key;
use crate::store::{Record, SaveOutcome, SessionStore, Version};

/// Loading an unknown (valid) key finds nothing and creates nothing: a save to
/// it afterwards is `Gone`, whatever version it brings, and it stays unloadable
/// (Django's session-fixation protection: a key the client made up is never adopted).
pub async fn unknown_key(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let unknown = key::generate_key();
    assert!(
        load(store, &unknown, now).await.is_none(),
        "load of an unknown key found a record"
    );

    // A version that is real elsewhere must not open the unknown key either.
    let other = create(store, &marked("other", now + Duration::hours(1)), now).await;
    for version in [
        other.version.clone(),
        Version::new(Vec::new()),
        Version::new(*b"1"),
    ] {
        let outcome = save(
            store,
            &unknown,
            &marked("fixation", now + Duration::hours(1)),
            &version,
            now,
        )
        .await;
        assert_eq!(
            outcome,
            SaveOutcome::Gone,
            "save to a key that was never created must be Gone ({version:?})"
        );
    }
    assert!(
        load(store, &unknown, now).await.is_none(),
        "a save to an unknown key created a record"
    );
    cleanup(store, [&*other.cookie_value]).await;
}

/// Saves are compare-and-set: the version from `create` or `load` wins once and
/// gives a new version; a save with a stale version is `Conflict` and writes
/// nothing.
pub async fn compare_and_set(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let expires_at = now + Duration::hours(1);
    let created = create(store, &marked("v1", expires_at), now).await;
    let key = created.cookie_value.clone();

    let second = save_ok(
        store,
        &key,
        &marked("v2", expires_at),
        &created.version,
        now,
        "save with the version from create",
    )
    .await;
    assert_eq!(
        second.cookie_value, key,
        "a server store's save changed the key"
    );
    assert_ne!(
        second.version, created.version,
        "a save that changed the data kept its version"
    );

    let loaded = load_live(store, &key, now, "after the second save").await;
    assert_eq!(
        loaded.record,
        marked("v2", expires_at),
        "load does not see the saved data"
    );

    let third = save_ok(
        store,
        &key,
        &marked("v3", expires_at),
        &loaded.version,
        now,
        "save with the version from load",
    )
    .await;
    assert_ne!(
        third.version, loaded.version,
        "a save that changed the data kept its version"
    );

    for (stale, name) in [
        (&loaded.version, "from load"),
        (&created.version, "from create"),
    ] {
        let outcome = save(store, &key, &marked("lost", expires_at), stale, now).await;
        assert_eq!(
            outcome,
            SaveOutcome::Conflict,
            "save with a stale version ({name}) must be Conflict"
        );
    }
    let current = load_live(store, &key, now, "after the conflicts").await;
    assert_eq!(
        current.record,
        marked("v3", expires_at),
        "a conflicting save wrote its data"
    );

    save_ok(
        store,
        &key,
        &marked("v4", expires_at),
        &third.version,
        now,
        "save with the version a save returned",
    )
    .await;
    cleanup(store, [&*key]).await;
}

/// Deleting a missing key is fine; a deleted record never loads again and a
/// save to it is `Gone` (a logout in another tab is never undone).
pub async fn delete(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    util::delete(store, &key::generate_key()).await;

    let expires_at = now + Duration::hours(1);
    let created = create(store, &marked("doomed", expires_at), now).await;
    let key = created.cookie_value.clone();
    let loaded = load_live(store, &key, now, "before delete").await;

    util::delete(store, &key).await;
    assert!(
        load(store, &key, now).await.is_none(),
        "a deleted record still loads"
    );
    util::delete(store, &key).await;

    for (version, name) in [
        (&loaded.version, "from load"),
        (&created.version, "from create"),
    ] {
        let outcome = save(
            store,
            &key,
            &marked("resurrected", expires_at),
            version,
            now,
        )
        .await;
        assert_eq!(
            outcome,
            SaveOutcome::Gone,
            "save after delete must be Gone (version {name})"
        );
    }
    assert!(
        load(store, &key, now).await.is_none(),
        "a save after delete resurrected the record"
    );
}

/// `delete_if` deletes only the version it is given: an older version leaves
/// a newer record alone, the current one deletes it, and a missing or
/// expired record counts as gone.
pub async fn delete_if(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let expires_at = now + Duration::hours(1);
    let missing = key::generate_key();
    let gone = store.delete_if(&missing, &Version::new(*b"x"), now).await;
    assert!(
        matches!(gone, Ok(true)),
        "delete_if of a missing key: {gone:?}"
    );

    let created = create(store, &marked("first", expires_at), now).await;
    let key = created.cookie_value.clone();
    let first = load_live(store, &key, now, "delete_if: first").await;
    let second = save_ok(
        store,
        &key,
        &marked("second", expires_at),
        &first.version,
        now,
        "delete_if: second",
    )
    .await;
    let kept = store.delete_if(&key, &first.version, now).await;
    assert!(
        matches!(kept, Ok(false)),
        "delete_if with a stale version: {kept:?}"
    );
    let still = load_live(store, &key, now, "after a stale delete_if").await;
    assert_eq!(
        still.record,
        marked("second", expires_at),
        "stale delete_if"
    );

    // A touch moves the expiry, not the version: the record is still the one
    // expected.
    let later = expires_at + Duration::minutes(5);
    assert!(
        util::touch(store, &key, later, now).await,
        "touch before delete_if"
    );
    let done = store.delete_if(&key, &second.version, now).await;
    assert!(
        matches!(done, Ok(true)),
        "delete_if with the current version: {done:?}"
    );
    assert!(
        load(store, &key, now).await.is_none(),
        "delete_if said deleted, but the record loads"
    );
    let again = store.delete_if(&key, &second.version, now).await;
    assert!(matches!(again, Ok(true)), "delete_if twice: {again:?}");

    let short = create(store, &marked("short", now + Duration::seconds(1)), now).await;
    // Expired beats a version that does not match: nothing is left to keep.
    let later_now = now + Duration::seconds(2);
    let expired = store
        .delete_if(&short.cookie_value, &Version::new(*b"other"), later_now)
        .await;
    assert!(
        matches!(expired, Ok(true)),
        "delete_if of an expired record: {expired:?}"
    );
    cleanup(store, [&*short.cookie_value]).await;
}

/// Of two saves racing with the same version, exactly one wins, and its data
/// is what loads afterwards.
pub async fn racing_saves(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let expires_at = now + Duration::hours(1);
    let created = create(store, &marked("start", expires_at), now).await;
    let key = created.cookie_value.clone();
    let loaded = load_live(store, &key, now, "racing saves").await;

    let contenders = ["left", "right"].map(|name| marked(name, expires_at));
    let outcomes = join_all(
        contenders
            .iter()
            .map(|record| save(store, &key, record, &loaded.version, now))
            .collect(),
    )
    .await;
    let winners: Vec<&Record> = contenders
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| matches!(outcome, SaveOutcome::Saved(_)))
        .map(|(record, _)| record)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "two saves with one version: expected one winner, got {outcomes:?}"
    );
    assert!(
        outcomes.contains(&SaveOutcome::Conflict),
        "the losing save must be Conflict, got {outcomes:?}"
    );
    let after = load_live(store, &key, now, "after the race").await;
    assert_eq!(
        &after.record, winners[0],
        "what loads is not the winner's data"
    );
    cleanup(store, [&*key]).await;
}

/// Workers that share one session.
const WORKERS: u64 = 32;

/// `WORKERS` writers each load, increment a counter, and save, reloading and
/// retrying on `Conflict`, all at once: the counter ends at exactly `WORKERS`
/// (no lost update), and every worker's final save won exactly once.
pub async fn concurrent_increments(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let expires_at = now + Duration::hours(1);
    let start = Record::new(map(json!({ "count": 0, "other": "kept" })), expires_at);
    let key = create(store, &start, now).await.cookie_value;

    let attempts = join_all(
        (0..WORKERS)
            .map(|_| increment(store, &key, expires_at, now))
            .collect(),
    )
    .await;

    let end = load_live(store, &key, now, "after the increments").await;
    assert_eq!(
        end.record.data.get("count").and_then(|v| v.as_u64()),
        Some(WORKERS),
        "{WORKERS} concurrent increments lost updates (attempts per worker: {attempts:?})"
    );
    assert_eq!(
        end.record.data.get("other"),
        Some(&json!("kept")),
        "an untouched value changed"
    );
    cleanup(store, [&*key]).await;
}

/// One worker of [`concurrent_increments`]; returns how many saves it tried.
async fn increment(
    store: &dyn SessionStore,
    key: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> u64 {
    // Each round of conflicts lets at least one worker through, so a worker
    // needs at most WORKERS attempts; the bound only stops a broken store.
    for attempt in 1..=WORKERS * 4 {
        let loaded = load_live(store, key, now, "increment").await;
        let mut data = loaded.record.data;
        let count = data
            .get("count")
            .and_then(|v| v.as_u64())
            .unwrap_or_else(|| panic!("increment: the counter is missing or not a number"));
        data.insert("count".into(), json!(count + 1));
        // Let every other worker load the same version before anyone saves.
        yield_once().await;
        match save(
            store,
            key,
            &Record::new(data, expires_at),
            &loaded.version,
            now,
        )
        .await
        {
            SaveOutcome::Saved(_) => return attempt,
            SaveOutcome::Conflict => continue,
            SaveOutcome::Gone => panic!("increment: a live record was Gone"),
        }
    }
    panic!(
        "increment: still conflicting after {} attempts",
        WORKERS * 4
    )
}

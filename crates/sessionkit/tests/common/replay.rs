//! Increments of one session through the store API, replayed on a conflict
//! exactly as the session layer replays a request: the check that an
//! ambiguous outcome (a lost reply, a request run twice) never applies a
//! change twice.

use std::time::Duration as StdDuration;

use serde_json::Value;
use sessionkit::error::StoreError;
use sessionkit::store::{Loaded, SaveOutcome, SessionStore};
use time::OffsetDateTime;

/// What the saves of [`increments`] answered.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Rounds whose save answered `Saved`.
    pub(crate) saved: usize,
    /// Rounds whose save answered `Unavailable` (outcome unknown).
    pub(crate) unavailable: usize,
    /// Saves that answered `Conflict` and were replayed. One writer only, so
    /// every conflict is the store contradicting its own earlier write.
    pub(crate) replays: usize,
}

/// Loads `key`, waiting out a reconnect (a few `Unavailable`s in a row).
pub(crate) async fn load_retrying(
    store: &dyn SessionStore,
    key: &str,
    now: OffsetDateTime,
) -> Loaded {
    for _ in 0..50 {
        match store.load(key, now).await {
            Ok(Some(loaded)) => return loaded,
            Ok(None) => panic!("the session is gone"),
            Err(StoreError::Unavailable(_)) => {
                tokio::time::sleep(StdDuration::from_millis(50)).await
            }
            Err(e) => panic!("load failed: {e:?}"),
        }
    }
    panic!("the store stayed unavailable")
}

/// Runs `rounds` increments of `count` on the session `key`, each also
/// setting `r<round>`; `before_save(round)` runs before each round's first
/// save (to arm a fault). A `Conflict` reloads and replays the round, as the
/// session layer does; an `Unavailable` ends the round (outcome unknown).
///
/// Then checks the invariant: `count` equals the number of rounds marked in
/// the session (no round applied twice), and every round answered `Saved`
/// is marked.
pub(crate) async fn increments(
    store: &dyn SessionStore,
    key: &str,
    rounds: usize,
    now: OffsetDateTime,
    before_save: impl Fn(usize),
) -> Tally {
    let mut tally = Tally::default();
    let mut saved_rounds = Vec::new();
    for round in 0..rounds {
        let mut first = true;
        loop {
            let loaded = load_retrying(store, key, now).await;
            let mut record = loaded.record;
            let count = record
                .data
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            record.data.insert("count".into(), Value::from(count + 1));
            record.data.insert(format!("r{round}"), Value::Bool(true));
            if first {
                before_save(round);
                first = false;
            }
            match store.save(key, &record, &loaded.version, now).await {
                Ok(SaveOutcome::Saved(_)) => {
                    tally.saved += 1;
                    saved_rounds.push(round);
                    break;
                }
                Ok(SaveOutcome::Conflict) => tally.replays += 1,
                Ok(SaveOutcome::Gone) => panic!("round {round}: the session is gone"),
                Err(StoreError::Unavailable(_)) => {
                    tally.unavailable += 1;
                    break;
                }
                Err(e) => panic!("round {round}: save failed: {e:?}"),
            }
        }
    }
    let data = load_retrying(store, key, now).await.record.data;
    let count = data.get("count").and_then(Value::as_u64).unwrap_or(0);
    let marked = (0..rounds)
        .filter(|round| data.contains_key(&format!("r{round}")))
        .count();
    assert_eq!(
        count, marked as u64,
        "a change was applied twice: count {count}, rounds applied {marked} ({tally:?})"
    );
    for round in saved_rounds {
        assert!(
            data.contains_key(&format!("r{round}")),
            "round {round} answered Saved but is not in the session"
        );
    }
    tally
}

//! Helpers of the suite: store calls that turn errors into assertion failures,
//! record builders, and a join that interleaves futures without a runtime.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version};

/// `now` cut to microseconds: Django keeps microseconds, so every time the
/// suite writes must survive a store that keeps no more.
pub(super) fn micros(now: OffsetDateTime) -> OffsetDateTime {
    let cut = now.nanosecond() % 1_000;
    now - Duration::nanoseconds(i64::from(cut))
}

/// A session map from a `json!` object.
pub(super) fn map(value: Value) -> SessionMap {
    match value {
        Value::Object(map) => map,
        other => panic!("conformance suite bug: {other} is not an object"),
    }
}

/// A record with one marker entry, so loads can tell records apart.
pub(super) fn marked(marker: &str, expires_at: OffsetDateTime) -> Record {
    Record::new(map(serde_json::json!({ "marker": marker })), expires_at)
}

pub(super) async fn create(
    store: &dyn SessionStore,
    record: &Record,
    now: OffsetDateTime,
) -> Saved {
    store
        .create(record, now)
        .await
        .unwrap_or_else(|e| panic!("create failed: {e:?}"))
}

pub(super) async fn load(
    store: &dyn SessionStore,
    key: &str,
    now: OffsetDateTime,
) -> Option<Loaded> {
    store
        .load(key, now)
        .await
        .unwrap_or_else(|e| panic!("load failed: {e:?}"))
}

/// Loads a record the test knows is live.
pub(super) async fn load_live(
    store: &dyn SessionStore,
    key: &str,
    now: OffsetDateTime,
    what: &str,
) -> Loaded {
    load(store, key, now)
        .await
        .unwrap_or_else(|| panic!("{what}: load found nothing, expected a live record"))
}

pub(super) async fn save(
    store: &dyn SessionStore,
    key: &str,
    record: &Record,
    expected: &Version,
    now: OffsetDateTime,
) -> SaveOutcome {
    store
        .save(key, record, expected, now)
        .await
        .unwrap_or_else(|e| panic!("save failed: {e:?}"))
}

/// A save the test expects to succeed.
pub(super) async fn save_ok(
    store: &dyn SessionStore,
    key: &str,
    record: &Record,
    expected: &Version,
    now: OffsetDateTime,
    what: &str,
) -> Saved {
    match save(store, key, record, expected, now).await {
        SaveOutcome::Saved(saved) => saved,
        other => panic!("{what}: expected Saved, got {other:?}"),
    }
}

pub(super) async fn touch(
    store: &dyn SessionStore,
    key: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    store
        .touch(key, expires_at, now)
        .await
        .unwrap_or_else(|e| panic!("touch failed: {e:?}"))
}

pub(super) async fn clear_expired(store: &dyn SessionStore, now: OffsetDateTime) -> u64 {
    store
        .clear_expired(now)
        .await
        .unwrap_or_else(|e| panic!("clear_expired failed: {e:?}"))
}

pub(super) async fn delete(store: &dyn SessionStore, key: &str) {
    store
        .delete(key)
        .await
        .unwrap_or_else(|e| panic!("delete failed: {e:?}"));
}

/// Deletes what a test created.
pub(super) async fn cleanup<'a>(store: &dyn SessionStore, keys: impl IntoIterator<Item = &'a str>) {
    for key in keys {
        delete(store, key).await;
    }
}

/// Polls all futures in turn inside the calling task until every one is done.
///
/// The suite takes `&dyn SessionStore`, which cannot move into spawned tasks;
/// interleaving inside one task still makes loads and saves of different
/// workers overlap at every await point, which is what a compare-and-set race needs.
pub(super) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Returns `Pending` once, so the other futures of a [`join_all`] run before
/// this one goes on, even against a store that never awaits (in-process).
pub(super) async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

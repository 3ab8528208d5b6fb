//! The expiry sweeper, on tokio's paused clock for its period and a manual
//! clock for the sessions' expiry: what it clears and when, that dropping its
//! guard stops it, and that a failing store does not.
#![cfg(feature = "memory")]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::faulty::Faulty;
use sessionkit::clock::ManualClock;
use sessionkit::store::memory::MemoryStore;
use sessionkit::store::sweeper::{spawn_sweeper, MAX_PERIOD, MIN_PERIOD};
use sessionkit::store::{Record, SessionMap, SessionStore};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);
const PERIOD: StdDuration = StdDuration::from_secs(60);

/// Lets the sweeper task run up to its next wait, without moving time.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Moves tokio's clock and lets the sweeper act on it.
async fn advance(by: StdDuration) {
    tokio::time::advance(by).await;
    settle().await;
}

struct Rig {
    clock: ManualClock,
    store: Arc<Faulty>,
    expired: String,
    live: String,
}

/// A store with one session that expires in an hour and one in three, and a
/// clock already two hours on.
async fn rig() -> Rig {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    let mut keys = Vec::new();
    for hours in [1, 3] {
        let record = Record::new(SessionMap::new(), NOW + Duration::hours(hours));
        keys.push(store.create(&record, NOW).await.unwrap().cookie_value);
    }
    let clock = ManualClock::new(NOW + Duration::hours(2));
    let live = keys.pop().unwrap();
    let expired = keys.pop().unwrap();
    Rig {
        clock,
        store,
        expired,
        live,
    }
}

impl Rig {
    /// Whether `key` is still held, by a clock that sees every session live.
    async fn holds(&self, key: &str) -> bool {
        self.store.load(key, NOW).await.unwrap().is_some()
    }
}

#[tokio::test(start_paused = true)]
async fn clears_expired_sessions_every_period() {
    let rig = rig().await;
    let calls = rig.store.calls();
    let guard = spawn_sweeper(rig.store.clone(), PERIOD, Arc::new(rig.clock.clone()));

    settle().await;
    assert_eq!(rig.store.calls(), calls, "the first run is one period away");
    advance(PERIOD - StdDuration::from_secs(1)).await;
    assert_eq!(rig.store.calls(), calls, "ran before its period");
    advance(StdDuration::from_secs(1)).await;
    assert_eq!(rig.store.calls(), calls + 1, "did not run after one period");
    assert!(
        !rig.holds(&rig.expired).await,
        "the expired session is still there"
    );
    assert!(rig.holds(&rig.live).await, "a live session was cleared");

    // It keeps going, with the clock it was given.
    rig.clock.advance(Duration::hours(2));
    let calls = rig.store.calls();
    advance(PERIOD).await;
    assert_eq!(rig.store.calls(), calls + 1);
    assert!(
        !rig.holds(&rig.live).await,
        "the second run missed an expiry"
    );
    guard.stop().await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_guard_stops_it() {
    let rig = rig().await;
    let guard = spawn_sweeper(rig.store.clone(), PERIOD, Arc::new(rig.clock.clone()));
    advance(PERIOD).await;
    let calls = rig.store.calls();
    drop(guard);
    settle().await;
    for _ in 0..5 {
        advance(PERIOD).await;
    }
    assert_eq!(
        rig.store.calls(),
        calls,
        "the sweeper ran after its guard was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_waits_for_the_task() {
    let rig = rig().await;
    let guard = spawn_sweeper(rig.store.clone(), PERIOD, Arc::new(rig.clock.clone()));
    guard.stop().await;
    let calls = rig.store.calls();
    advance(PERIOD * 3).await;
    assert_eq!(rig.store.calls(), calls);
    // The task dropped its handle on the store.
    assert_eq!(Arc::strong_count(&rig.store), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_does_not_kill_it() {
    let rig = rig().await;
    rig.store.set_down(true);
    let guard = spawn_sweeper(rig.store.clone(), PERIOD, Arc::new(rig.clock.clone()));
    let calls = rig.store.calls();
    // No settle first: the period counts from the call, not from the task's start.
    advance(PERIOD).await;
    advance(PERIOD).await;
    assert_eq!(
        rig.store.calls(),
        calls + 2,
        "the sweeper gave up on a failure"
    );

    rig.store.set_down(false);
    advance(PERIOD).await;
    assert!(
        !rig.holds(&rig.expired).await,
        "no purge after the store came back"
    );
    assert!(rig.holds(&rig.live).await);
    guard.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_zero_period_is_raised_to_the_minimum() {
    let rig = rig().await;
    let guard = spawn_sweeper(
        rig.store.clone(),
        StdDuration::ZERO,
        Arc::new(rig.clock.clone()),
    );
    let calls = rig.store.calls();
    settle().await;
    assert_eq!(rig.store.calls(), calls, "a zero period spins");
    advance(MIN_PERIOD).await;
    assert_eq!(rig.store.calls(), calls + 1);
    guard.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_huge_period_is_lowered_to_the_maximum() {
    let rig = rig().await;
    let guard = spawn_sweeper(
        rig.store.clone(),
        StdDuration::MAX,
        Arc::new(rig.clock.clone()),
    );
    let calls = rig.store.calls();
    advance(MAX_PERIOD - StdDuration::from_secs(1)).await;
    assert_eq!(rig.store.calls(), calls);
    advance(StdDuration::from_secs(1)).await;
    assert_eq!(rig.store.calls(), calls + 1);
    guard.stop().await;
}

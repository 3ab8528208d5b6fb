//! A background task that clears expired sessions every so often.
//!
//! Django never does this by itself: expired rows stay in `django_session`
//! (and expired files in the session directory) until someone runs
//! `manage.py clearsessions`, though loads ignore them (spec §9). The engines
//! that keep expired records — `db`, `file`, and `cached_db` through its db —
//! need a sweeper or a scheduled `sessionkit clearsessions`; Redis, Memcached
//! and the in-process engine expire entries themselves.
//!
//! Stopped by dropping the [`SweeperGuard`] (tokio's drop-guard pattern, as in
//! mini-redis), or by [`SweeperGuard::stop`] to wait for it.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn sessionkit::store::SessionStore>) {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sessionkit::clock::SystemClock;
//! use sessionkit::store::sweeper::spawn_sweeper;
//!
//! let sweeper = spawn_sweeper(store, Duration::from_secs(3600), Arc::new(SystemClock));
//! // … serve requests; keep `sweeper` alive as long as the store …
//! sweeper.stop().await;
//! # }
//! ```

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::error::chain;
use crate::store::SessionStore;

/// The shortest period: a zero period would spin, and no store needs a
/// purge more often than this.
pub const MIN_PERIOD: Duration = Duration::from_secs(1);

/// The longest period: a year is "never" for a purge, and keeps every
/// deadline far from the clock's limits.
pub const MAX_PERIOD: Duration = Duration::from_secs(365 * 24 * 3600);

/// Runs `store.clear_expired(clock.now())` every `every` (clamped to
/// [`MIN_PERIOD`]..=[`MAX_PERIOD`]), the first time one period after this
/// call, until the returned guard is dropped or stopped. A purge that takes
/// longer than a period skips the runs it missed. Failures are logged and
/// retried next period; they never end the task.
///
/// # Panics
/// When called outside a tokio runtime, as `tokio::spawn` does; the task
/// panics at its first wait if the runtime has no timer (`enable_time`).
pub fn spawn_sweeper(
    store: Arc<dyn SessionStore>,
    every: Duration,
    clock: Arc<dyn Clock>,
) -> SweeperGuard {
    spawn_periodic(every, move || {
        let (store, clock) = (store.clone(), clock.clone());
        Box::pin(async move { sweep(&*store, &*clock).await })
    })
}

/// One run of a periodic purge.
pub(crate) type Purge = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `purge()` every `every`, as [`spawn_sweeper`] describes (the
/// session index's sweeper shares it).
pub(crate) fn spawn_periodic(
    every: Duration,
    purge: impl Fn() -> Purge + Send + 'static,
) -> SweeperGuard {
    if !(MIN_PERIOD..=MAX_PERIOD).contains(&every) {
        tracing::warn!(
            ?every,
            min = ?MIN_PERIOD,
            max = ?MAX_PERIOD,
            "session sweeper period out of range; clamping it"
        );
    }
    let every = every.clamp(MIN_PERIOD, MAX_PERIOD);
    // Counted from now, not from when the task first runs.
    let mut next = after(Instant::now(), every);
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        loop {
            let slept = until_stopped(&mut stopped, tokio::time::sleep_until(next)).await;
            if slept.is_none() {
                break;
            }
            if until_stopped(&mut stopped, purge()).await.is_none() {
                break;
            }
            next = after(next, every);
            let now = Instant::now();
            if next <= now {
                next = after(now, every);
            }
        }
        tracing::debug!("session sweeper stopped");
    });
    SweeperGuard {
        stop: Some(stop),
        task: Some(task),
    }
}

/// `every` after `at`. Periods are at most a year, which no monotonic clock
/// overflows; if one did, the run would come at once rather than panic.
fn after(at: Instant, every: Duration) -> Instant {
    at.checked_add(every).unwrap_or(at)
}

/// One purge; its outcome only matters to the logs.
async fn sweep(store: &dyn SessionStore, clock: &dyn Clock) {
    match store.clear_expired(clock.now()).await {
        Ok(removed) => tracing::debug!(removed, "expired sessions cleared"),
        Err(e) => tracing::warn!(
            error = %chain(&e),
            "could not clear expired sessions; retrying next period"
        ),
    }
}

/// Runs `work` unless the guard is dropped or stopped first (then `None`,
/// and `work` is dropped where it stands: a purge is done in batches, and
/// what it did not reach the next one will).
async fn until_stopped<F: Future>(
    stopped: &mut oneshot::Receiver<()>,
    work: F,
) -> Option<F::Output> {
    let mut work = pin!(work);
    std::future::poll_fn(|cx| {
        // The sender is never used to send: only its drop means stop.
        if Pin::new(&mut *stopped).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        work.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Keeps a sweeper running; dropping it stops the sweeper at its next await
/// point (a purge under way is abandoned).
#[derive(Debug)]
#[must_use = "dropping the guard stops the sweeper at once"]
pub struct SweeperGuard {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SweeperGuard {
    /// Stops the sweeper and waits until its task has ended.
    pub async fn stop(mut self) {
        drop(self.stop.take());
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "session sweeper task failed");
            }
        }
    }
}

impl Drop for SweeperGuard {
    fn drop(&mut self) {
        // Closing the channel is the signal; the task holds no lock to release.
        drop(self.stop.take());
    }
}

//! The deadline around every store call the session layer makes, and around
//! the wait for the per-session save lock (`SessionConfig::store_timeout`).
//!
//! The deadline is per call. A request makes a bounded number of calls (one
//! load, one create or up to `1 + max_save_retries` saves and reloads, the
//! deletes of its old keys), so its session work is bounded too, and a call
//! that finds the store healthy is never cut short because an earlier one was
//! slow. An elapsed call is `StoreError::Unavailable`: the caller answers
//! with the configured error status and never retries it, since a write that
//! timed out may still have been applied.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use crate::error::StoreError;
use crate::metrics::Probe;

/// A store call (or the save-lock wait) that did not finish in time.
#[derive(Debug, thiserror::Error)]
#[error("session store {what} timed out after {after:?}")]
pub(crate) struct TimedOut {
    what: &'static str,
    after: Duration,
}

/// Runs `call`, giving up after `after`; `probe` reports it.
pub(crate) async fn bounded<T>(
    after: Duration,
    what: &'static str,
    probe: &Probe,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let mut call = pin!(probe.store_call(what, call));
    // An in-process engine answers on the first poll: no timer (and no clock
    // read) for it. A call that has to wait gets its deadline from here, a
    // first poll only ever starting the I/O. The timer is boxed so that the
    // futures of every caller stay small for the engines that never wait.
    let first = poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
    if let Poll::Ready(result) = first {
        return result;
    }
    match Box::pin(tokio::time::timeout(after, call)).await {
        Ok(result) => result,
        Err(_) => {
            probe.timed_out(what, after);
            Err(StoreError::Unavailable(Box::new(TimedOut { what, after })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn elapsed_is_unavailable_and_says_what_and_how_long() {
        let never = std::future::pending::<Result<(), StoreError>>();
        let probe = Probe::new("memory");
        let err = bounded(Duration::from_millis(20), "load", &probe, never)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)));
        assert_eq!(
            crate::error::chain(&err),
            "session store unavailable: session store load timed out after 20ms"
        );
    }
}

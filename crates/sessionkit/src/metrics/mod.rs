//! What the session layer reports about its store: metrics through the
//! [`metrics`](https://docs.rs/metrics) facade (cargo feature `metrics`) and
//! `tracing` spans (always).
//!
//! # Metrics
//!
//! With the `metrics` feature, the session layer records these through
//! whatever recorder the application installs (Prometheus, StatsD, …); with
//! none installed, recording is a no-op. Without the feature nothing is
//! recorded and the `metrics` crate is not built.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `sessionkit_store_duration_seconds` | histogram | `op`, `engine` | each store call, failed and timed-out ones included |
//! | `sessionkit_store_errors_total` | counter | `op`, `engine`, `kind` | store calls that failed |
//! | `sessionkit_save_conflicts_total` | counter | `engine` | saves that found a newer version (then reloaded and replayed) |
//! | `sessionkit_save_retries_total` | counter | `engine` | saves tried again after a conflict |
//! | `sessionkit_save_retries_exhausted_total` | counter | `engine` | requests answered 503 because every retry conflicted |
//! | `sessionkit_sessions_gone_total` | counter | `engine` | sessions deleted during the request (answered 400, changes dropped) |
//! | `sessionkit_sessions_created_total` | counter | `engine` | new sessions written |
//! | `sessionkit_sessions_deleted_total` | counter | `engine` | sessions ended by `flush` (logout) |
//!
//! `op` is `load`, `save`, `create`, `delete` (also the compare-and-set
//! delete of a key `cycle_key` moved away from) or `touch`. `kind` is
//! `timeout` (the call outlived `SessionConfig::store_timeout`),
//! `unavailable` (the store could not be reached), `too_large` (the session
//! did not fit) or `error` (anything else the store answered). `engine` is
//! the store's [`SessionStore::engine_name`](crate::SessionStore::engine_name).
//!
//! Everything is counted where the session layer calls its store: what a
//! request saw. A `cached_db` store is one engine there (`cached_db`): its
//! cache and database calls inside one load or save are not counted
//! separately. A `cycle_key` writes a new key but is not a new session; a
//! session created after a `flush` is.
//!
//! Label values are static strings and each layer builds its metric keys
//! once, so recording allocates nothing per request. Call `describe()` once
//! after installing the recorder to give each metric its help text and unit.
//!
//! # Tracing
//!
//! Each store call runs in a `sessionkit.store` span (DEBUG) with `op` and
//! `engine` fields, and the end of each request's session (the save, the
//! deletes, the cookie) in a `sessionkit.finish` span (DEBUG) with `engine`
//! and the response's `status`. With no subscriber interested they cost a
//! cached check per call.

#[cfg(feature = "metrics")]
mod keys;
mod probe;

pub(crate) use probe::Probe;

/// Histogram: seconds each store call took (labels `op`, `engine`).
pub const STORE_DURATION: &str = "sessionkit_store_duration_seconds";
/// Counter: store calls that failed (labels `op`, `engine`, `kind`).
pub const STORE_ERRORS: &str = "sessionkit_store_errors_total";
/// Counter: compare-and-set saves that found a newer version (label `engine`).
pub const SAVE_CONFLICTS: &str = "sessionkit_save_conflicts_total";
/// Counter: saves tried again after a conflict (label `engine`).
pub const SAVE_RETRIES: &str = "sessionkit_save_retries_total";
/// Counter: saves given up after every retry conflicted: answered 503 (label `engine`).
pub const SAVE_RETRIES_EXHAUSTED: &str = "sessionkit_save_retries_exhausted_total";
/// Counter: sessions deleted during the request, answered 400 (label `engine`).
pub const SESSIONS_GONE: &str = "sessionkit_sessions_gone_total";
/// Counter: new sessions written (label `engine`).
pub const SESSIONS_CREATED: &str = "sessionkit_sessions_created_total";
/// Counter: sessions ended by `flush`, a logout (label `engine`).
pub const SESSIONS_DELETED: &str = "sessionkit_sessions_deleted_total";

/// Gives each metric above its help text and unit, in the recorder installed
/// now (global or thread-local). Optional: metrics are recorded without it.
#[cfg(feature = "metrics")]
pub fn describe() {
    use ::metrics::{describe_counter, describe_histogram, Unit};

    describe_histogram!(
        STORE_DURATION,
        Unit::Seconds,
        "Time each session store call took, by operation and engine."
    );
    describe_counter!(
        STORE_ERRORS,
        Unit::Count,
        "Session store calls that failed, by operation, engine and kind (timeout, unavailable, too_large, error)."
    );
    describe_counter!(
        SAVE_CONFLICTS,
        Unit::Count,
        "Session saves that found a newer version and replayed their changes on it."
    );
    describe_counter!(
        SAVE_RETRIES,
        Unit::Count,
        "Session saves tried again after a conflict."
    );
    describe_counter!(
        SAVE_RETRIES_EXHAUSTED,
        Unit::Count,
        "Session saves given up because every retry conflicted (answered 503)."
    );
    describe_counter!(
        SESSIONS_GONE,
        Unit::Count,
        "Sessions deleted during the request; its changes were dropped (answered 400)."
    );
    describe_counter!(SESSIONS_CREATED, Unit::Count, "New sessions written.");
    describe_counter!(
        SESSIONS_DELETED,
        Unit::Count,
        "Sessions ended by flush (logout)."
    );
}

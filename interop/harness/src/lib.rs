//! The interop harness: sessionkit against real Django (installed with pip in
//! `interop/django/.venv` by `interop/django/setup.sh`).
//!
//! Each engine's test file (`tests/*.rs`) builds a [`Harness`] — its own
//! database (or directory), Django's settings and sessionkit's for the same
//! store and secret — and runs the shared [`scenarios`]:
//!
//! - **at rest**, both directions: Django's `interop` management command
//!   writes sessions that sessionkit's store reads, and the other way round;
//! - **live, side by side**: Django's `runserver` and an axum app with
//!   [`sessionkit::SessionLayer`] on the same store, one cookie jar alternating
//!   between them;
//! - **key rotation** through `SECRET_KEY_FALLBACKS`, both ways;
//! - **Django's login, shared** through [`sessionkit::auth`].
//!
//! A missing venv, an unreachable database server, or an engine that
//! [`sessionkit::store::open`] does not serve yet makes a test print
//! `SKIPPED: …` and pass — except under `SESSIONKIT_REQUIRE_SERVICES=1`, where
//! a missing venv or server fails it (an engine not landed yet still skips).

pub mod app;
pub mod client;
pub mod database;
pub mod django;
pub mod harness;
pub mod payloads;
pub mod scenarios;
pub mod skip;

pub use harness::{Backend, Harness};

/// The interop tests of one engine: `interop_tests!(Backend::DbSqlite);` in
/// a test file defines its five tests, each with its own database, so they
/// run in parallel.
#[macro_export]
macro_rules! interop_tests {
    ($backend:expr) => {
        /// Django writes, sessionkit reads, and the other way round, at rest.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn at_rest_both_directions() {
            $crate::scenarios::at_rest($backend).await;
        }

        /// `SECRET_KEY_FALLBACKS` rotation, Django first and sessionkit first.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn key_rotation_both_ways() {
            $crate::scenarios::key_rotation($backend).await;
        }

        /// Both apps live on one store, one cookie jar alternating.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn live_side_by_side() {
            $crate::scenarios::live_side_by_side($backend).await;
        }

        /// Django's login, logout and password change, shared.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn login_shared() {
            $crate::scenarios::login_shared($backend).await;
        }

        /// Non-default cookie settings: the same cookies from both apps.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn custom_cookie_settings() {
            $crate::scenarios::custom_settings($backend).await;
        }
    };
}

//! sessionkit: Django's session framework (`django.contrib.sessions`) for Rust
//! web services, byte-compatible with Django.
//!
//! A Rust service using sessionkit reads and writes the same sessions as a Django
//! app: the same `sessionid` cookie, the same `django_session` rows, the same
//! signed format. And unlike Django (and the Rust peers), it never loses a
//! concurrent update: saves are compare-and-set, and a request that loses the race
//! replays its own changes on the newer record.
//!
//! ```
//! use axum::{routing::get, Router};
//! use sessionkit::{Session, SessionConfig, SessionError, SessionLayer};
//! use sessionkit::store::db::DbStore;
//!
//! async fn count_visit(session: Session) -> Result<String, SessionError> {
//!     let visit = session.increment("visit", 1)?; // exact under concurrency
//!     Ok(format!("Visit count:{visit}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
//! # std::env::set_var("SECRET_KEY", "doc-example-secret-key-that-is-long-enough-and-random-0123456789");
//! let config = SessionConfig::from_env()?; // SECRET_KEY and Django's SESSION_* settings
//! let store = DbStore::open(&url).await?; // Django's django_session table
//! let app: Router = Router::new()
//!     .route("/visit/", get(count_visit))
//!     .layer(SessionLayer::new(store, config));
//! # use tower::ServiceExt;
//! # let res = app.oneshot(http::Request::get("/visit/").body(axum::body::Body::empty())?).await?;
//! # assert_eq!(res.status(), 200);
//! # Ok(()) }
//! ```
//!
//! # Engines
//!
//! | Django `SESSION_ENGINE` | sessionkit | cargo feature |
//! |---|---|---|
//! | `db` (SQLite, PostgreSQL, MySQL/MariaDB) | `store::db::DbStore` | `sqlite` (default), `postgres`, `mysql` |
//! | `file` | `store::file::FileStore` | `file` |
//! | `cache` (in-process) | `store::memory::MemoryStore` | `memory` (default) |
//! | `cache` (Redis, Redis Cluster) | `store::redis::RedisStore` | `redis` |
//! | `cache` (Memcached) | `store::memcached::MemcachedStore` | `memcached` |
//! | `cached_db` | [`store::cached_db::CachedDbStore`] | always |
//! | `signed_cookies` | [`store::signed_cookies::SignedCookieStore`] | always |
//!
//! [`store::open`] builds the engine a [`StoreConfig`] names (Django's setting
//! names, read from the environment), as the demo and the CLI do.
//!
//! The axum extractor and `IntoResponse` for [`SessionError`] come with the
//! `axum` feature (default); the layer itself is plain tower. The public
//! conformance suite that every store passes is behind `conformance`.
//! Store latency, errors, conflicts, retries and session counts are
//! recorded through the `metrics` facade with the `metrics` feature, and
//! every store call has a `tracing` span: see [`metrics`].
//!
//! # How it works
//!
//! [`SessionLayer`] reads the cookie and puts a lazy [`Session`] into the request
//! (no store I/O). The [`Session`] extractor loads it once; its methods are
//! synchronous calls on the loaded dict, each change also recorded per key. When
//! the response goes out, the layer applies Django's middleware rules and saves
//! with a compare-and-set ([`store::SessionStore::save`]); on a conflict it
//! reloads and replays this request's changes. A session deleted meanwhile is
//! never recreated (400, Django's `SessionInterrupted`); a store that is down
//! answers 503, never a silent new session.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing/mod.rs"]
pub mod __fuzz;
#[cfg(feature = "actix")]
pub mod actix;
pub mod auth;
pub mod clock;
pub mod config;
#[doc(hidden)] // the wire format, for tests and the interop harness: not an API
pub mod cookie;
pub mod error;
pub mod expiry;
pub mod key;
pub mod metrics;
pub mod middleware;
pub mod session;
pub mod signing;
pub mod store;
pub mod user_sessions;

pub use config::{SessionConfig, StoreConfig};
pub use error::{SessionError, StoreError};
pub use expiry::Expiry;
pub use middleware::SessionLayer;
pub use session::Session;
pub use store::SessionStore;

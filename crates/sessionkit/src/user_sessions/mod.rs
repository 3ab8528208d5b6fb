//! The per-user session index (opt-in): which sessions a user is logged in
//! to, and revoking them — "where you're logged in", "log out other
//! devices", a maximum of concurrent sessions per user (OWASP ASVS 5.0
//! §7.4–7.5).
//!
//! On login ([`auth::login`](crate::auth::login)) the layer records the
//! user id, when, the `User-Agent` and the client IP in an index kept
//! beside the sessions, never in them: `django_session` rows stay
//! byte-identical, and Django reads them as before. [`UserSessions`] lists a
//! user's sessions by a public id (a truncated SHA-256 of the session key,
//! never the key, which is a bearer token) and revokes them; a revoked
//! session finds nothing on its next request, on every engine.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use sessionkit::user_sessions::{MemoryIndex, UserSessions};
//! use sessionkit::{auth, Session, SessionConfig, SessionLayer, SessionStore};
//! use sessionkit::store::memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SessionConfig::new("a-long-random-secret-key-of-fifty-or-more-characters-1234")?;
//! let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
//! let sessions = UserSessions::new(store.clone(), MemoryIndex::new()).max_sessions_per_user(5);
//!
//! let login_config = config.clone();
//! let app: Router = Router::new()
//!     .route("/login/", get(move |session: Session| {
//!         auth::login(&session, &login_config, "42", auth::MODEL_BACKEND, "pbkdf2_sha256$…");
//!         std::future::ready(())
//!     }))
//!     .layer(SessionLayer::from_arc(store, config).with_user_sessions(sessions.clone()));
//!
//! # use tower::ServiceExt;
//! # let login = || http::Request::get("/login/").header("user-agent", "Firefox").body(axum::body::Body::empty()).unwrap();
//! # app.clone().oneshot(login()).await?;
//! # app.clone().oneshot(login()).await?;
//! // Two browsers logged in as user 42:
//! let listed = sessions.list("42").await?;
//! assert_eq!(listed.len(), 2);
//! assert_eq!(listed[0].user_agent.as_deref(), Some("Firefox"));
//!
//! // Log one out; its next request finds no session.
//! assert!(sessions.revoke("42", &listed[0].id).await?);
//! assert_eq!(sessions.list("42").await?.len(), 1);
//! // Or all of them.
//! assert_eq!(sessions.revoke_all("42").await?, 1);
//! # Ok(()) }
//! ```
//!
//! In a handler, [`UserSessions::list_for`] marks the request's own session
//! `current`, and [`UserSessions::revoke_others`] logs out every other device.
//!
//! # Backends, and which engines they pair with
//!
//! | index | where | pairs with |
//! |---|---|---|
//! | [`MemoryIndex`] | this process | the in-process engine, or any engine in a one-process deployment and tests |
//! | `SqlIndex` (`sqlite`, `postgres`, `mysql`) | table `sessionkit_user_session`, created if missing | every engine: db, cached_db, file, cache, signed cookies |
//! | `RedisIndex` (`redis`) | a set per user and a hash per session, with TTLs | every engine |
//!
//! The index is chosen independently of the session engine; it only has to
//! be shared by every process that serves the sessions (so not
//! [`MemoryIndex`] with several processes).
//!
//! # What revocation does, per engine
//!
//! Server-side engines (db, cached_db, file, cache): the session is deleted
//! from the store (for cached_db that clears the cache too), then its entry.
//! Signed cookies keep nothing server-side: a logged-in session carries an
//! index id of its own (`_sessionkit_index_id`), checked against the index on
//! every request that loads it, and a session whose id is gone is refused (a
//! fresh empty session; the cookie is deleted). That check is one index read
//! per request of a logged-in signed-cookie session, and only then.
//!
//! # Costs, and what is recorded when
//!
//! Without an index, nothing of this runs. With one: a login writes one
//! entry (and lists the user's sessions when a maximum is set); last-seen is
//! written at most once a minute per session and process, never on other
//! requests; a `cycle_key` of a logged-in session (Django's fallback-key
//! re-hash in [`auth::get_user`](crate::auth::get_user)) moves the entry to
//! the new key; a logout removes it. Expired entries are left out of lists
//! and removed by [`UserSessions::clear_expired`] or `sessionkit
//! clearsessions` (Redis expires them itself). Sessions logged in before the
//! index was configured, or by Django, are listed from their next login
//! through sessionkit.
//!
//! The client IP comes from a proxy header you trust
//! ([`UserSessions::client_ip_header`]), else the peer address (actix-web)
//! or a [`ClientIp`] request extension (tower).

mod client;
mod entry;
mod handle;
pub(crate) mod hook;
mod index;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sql;

#[cfg(feature = "actix")]
pub(crate) use client::note_actix;
pub(crate) use client::note_http;
pub use client::ClientIp;
pub use entry::{IndexEntry, SessionInfo};
pub use handle::UserSessions;
pub use index::SessionIndex;
pub use memory::MemoryIndex;
#[cfg(feature = "redis")]
pub use redis::RedisIndex;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sql::{SqlIndex, DEFAULT_INDEX_TABLE};

//! actix-web 4 support: Django's `SessionMiddleware` as an actix
//! [`Transform`](actix_web::dev::Transform), and the [`Session`] extractor.
//!
//! The same sessions as the tower [`SessionLayer`](crate::SessionLayer): the
//! middleware reads the cookie and puts a lazy [`Session`] in the request
//! extensions (no store I/O), the extractor loads it once, and when the
//! response comes back the session core applies Django's rules; this module
//! only maps the answer onto actix's response, so the `Set-Cookie` and `Vary`
//! bytes are the tower layer's. Every engine works: their background tasks
//! run on the tokio runtime actix-web's workers already are.
//!
//! [`Session`]: crate::Session
//!
//! ```
//! use actix_web::{web, App, HttpServer};
//! use sessionkit::actix::SessionMiddleware;
//! use sessionkit::{Session, SessionConfig, SessionError, StoreConfig};
//!
//! async fn count_visit(session: Session) -> Result<String, SessionError> {
//!     let visit = session.increment("visit", 1)?; // exact under concurrency
//!     Ok(format!("Visit count:{visit}"))
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let db = dir.path().join("sessions.sqlite3");
//! # std::env::set_var("SECRET_KEY", "doc-example-secret-key-that-is-long-enough-and-random-0123456789");
//! # std::env::set_var("SESSION_ENGINE", "signed_cookies");
//! let config = SessionConfig::from_env()?; // SECRET_KEY and Django's SESSION_* settings
//! let store = sessionkit::store::open(&StoreConfig::from_env()?, &config).await?;
//! let middleware = SessionMiddleware::from_arc(store, config);
//! let server = HttpServer::new(move || {
//!     App::new()
//!         .wrap(middleware.clone())
//!         .route("/visit/", web::get().to(count_visit))
//! })
//! .bind(("127.0.0.1", 0))?;
//! # let _ = server; // not run here: the crate's tests serve it
//! # Ok(()) }
//! ```
//!
//! `Option<Session>` is actix-web's own: `None` when the middleware is
//! missing, and also when the load failed; either way a failed load is
//! answered with `SessionConfig::load_error_status`, whatever the handler
//! returned.

mod extract;
mod respond;
mod service;

pub use service::{SessionMiddleware, SessionService};

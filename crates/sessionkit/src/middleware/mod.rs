//! Django's `SessionMiddleware` as a tower layer, and the axum extractor.
//!
//! [`SessionLayer`] reads the session cookie and puts a lazy [`Session`] in the
//! request extensions (no store I/O); a handler extracts it (axum: the
//! [`Session`] extractor loads it once); when the response comes back, the layer
//! applies Django's rules (spec §8): save when modified or when saving every
//! request, never on a 5xx, never an empty session; delete the cookie when a
//! session was emptied; `Vary: Cookie` as Django 5.2 sets it.
//!
//! Failure answers: a store that is down, or a store call that exceeds
//! `SessionConfig::store_timeout` → the configured status (503 by default),
//! the cause logged, no `Set-Cookie`; a session deleted during the request →
//! 400 (Django's `SessionInterrupted`); a save that keeps losing
//! compare-and-set races → 503 with `Retry-After`, nothing applied; a
//! `flush` (logout) whose delete fails → the configured status and the
//! cookie left alone, so the user knows and can retry, as Django's `flush`
//! raises.
//!
//! [`Session`]: crate::session::Session

#[cfg(feature = "axum")]
mod axum;
mod respond;
mod tower;

pub use self::tower::{ResponseFuture, SessionLayer, SessionService};

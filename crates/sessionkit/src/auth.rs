//! Django's login, shared: the three session keys `django.contrib.auth` keeps,
//! and the checks Django makes on them, so a user logged in on Django is
//! recognised by a Rust service and the other way round.
//!
//! Django stores the user's primary key (as a string), the dotted path of the
//! authentication backend, and an HMAC of the user's password hash. The HMAC
//! is what makes a password change log the user out everywhere: the app
//! supplies the user's current password hash (the `password` column of
//! `auth_user`) and [`get_user`] compares, as Django's `auth.get_user` does.
//!
//! ```
//! # use sessionkit::auth::session_auth_hash;
//! # use sessionkit::signing::SecretKey;
//! let hash = session_auth_hash("pbkdf2_sha256$870000$salt$hash=", &SecretKey::new("secret"));
//! assert_eq!(hash.len(), 64);
//! ```

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::SessionConfig;
use crate::session::Session;
use crate::signing::SecretKey;

/// The session key holding the user's primary key, as a string.
pub const SESSION_KEY: &str = "_auth_user_id";
/// The session key holding the authentication backend's dotted path.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";
/// The session key holding the HMAC of the user's password hash.
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";
/// Django's default authentication backend.
pub const MODEL_BACKEND: &str = "django.contrib.auth.backends.ModelBackend";

const HASH_SALT: &str = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// Django's `AbstractBaseUser.get_session_auth_hash` for a password hash and
/// a secret: `salted_hmac(…, password, secret, "sha256").hexdigest()`.
pub fn session_auth_hash(password_hash: &str, secret: &SecretKey) -> String {
    let key = Sha256::new()
        .chain_update(HASH_SALT.as_bytes())
        .chain_update(secret.expose().as_bytes())
        .finalize();
    // Any key length is valid for HMAC: this cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(password_hash.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the session says about a logged-in user, before any check.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The user's primary key, as Django stores it (a string).
    pub id: String,
    /// The authentication backend's dotted path.
    pub backend: String,
    /// The HMAC of the user's password hash, if the session has one.
    pub hash: Option<String>,
}

impl std::fmt::Debug for AuthUser {
    // The hash is credential-like: it proves knowledge of the password hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthUser")
            .field("id", &self.id)
            .field("backend", &self.backend)
            .field("has_hash", &self.hash.is_some())
            .finish()
    }
}

/// The logged-in user the session names, unverified (no password check).
/// Django stores the id as a string; a number written by other code is read too.
pub fn auth_user(session: &Session) -> Option<AuthUser> {
    let id = match session.get_value(SESSION_KEY)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let backend = session.get_value(BACKEND_SESSION_KEY)?.as_str()?.to_owned();
    let hash = session
        .get_value(HASH_SESSION_KEY)
        .and_then(|v| v.as_str().map(str::to_owned));
    Some(AuthUser { id, backend, hash })
}

/// Django's `auth.get_user`: the id of the user logged in to this session,
/// verified against the user's current password hash.
///
/// `backends` are the accepted backend paths (Django's
/// `AUTHENTICATION_BACKENDS`); `password_of(id)` returns the user's stored
/// password hash, or `None` when there is no such user. As Django does: a hash
/// made with a fallback secret is accepted, the session key cycled and the hash
/// re-made with the current secret; a hash that does not match (the password
/// changed) flushes the session.
pub fn get_user(
    session: &Session,
    config: &SessionConfig,
    backends: &[&str],
    password_of: impl FnOnce(&str) -> Option<String>,
) -> Option<String> {
    let user = auth_user(session)?;
    if !backends.contains(&user.backend.as_str()) {
        return None;
    }
    let password = password_of(&user.id)?;
    let keys = config.keys();
    let current = session_auth_hash(&password, keys.current());
    let Some(stored) = user.hash.filter(|h| !h.is_empty()) else {
        session.flush();
        return None;
    };
    if eq(&stored, &current) {
        return Some(user.id);
    }
    if keys
        .fallbacks()
        .iter()
        .any(|k| eq(&stored, &session_auth_hash(&password, k)))
    {
        session.cycle_key();
        session.insert_value(HASH_SESSION_KEY, current.into());
        return Some(user.id);
    }
    session.flush();
    None
}

/// Django's `auth.login`: keeps anonymous data but cycles the key (against
/// session fixation), or starts an empty session if another user (or the same
/// user with another password) was logged in; then writes the three keys.
pub fn login(
    session: &Session,
    config: &SessionConfig,
    user_id: &str,
    backend: &str,
    password_hash: &str,
) {
    let hash = session_auth_hash(password_hash, config.keys().current());
    match auth_user(session) {
        Some(current)
            if current.id != user_id || !eq(current.hash.as_deref().unwrap_or(""), &hash) =>
        {
            session.flush()
        }
        Some(_) => {}
        None if session.contains(SESSION_KEY) => session.flush(),
        None => session.cycle_key(),
    }
    session.insert_value(SESSION_KEY, user_id.into());
    session.insert_value(BACKEND_SESSION_KEY, backend.into());
    session.insert_value(HASH_SESSION_KEY, hash.into());
    crate::user_sessions::hook::logged_in(session);
}

/// Django's `auth.logout`: the session is flushed (deleted, cookie removed).
pub fn logout(session: &Session) {
    session.flush();
}

/// Constant-time string equality, as Django's `constant_time_compare`.
fn eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_django() {
        // Django 5.2: salted_hmac(HASH_SALT, "pbkdf2_sha256$1$s$h", secret="k", algorithm="sha256").hexdigest()
        let h = session_auth_hash("pbkdf2_sha256$1$s$h", &SecretKey::new("k"));
        assert_eq!(
            h,
            "d8c2c95eacf724797164206f753b22b3714202cd7488ecc3bd5b10ac2f43e30a"
        );
    }
}

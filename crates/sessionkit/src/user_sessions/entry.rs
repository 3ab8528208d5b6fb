//! What the index keeps per session, what a user is shown of it, and the
//! public id that names a session without giving its key away.

use std::fmt;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// How many hex digits of SHA-256 make a public id: 128 bits, enough that two
/// sessions of one user never share one, and not a key to anything.
const PUBLIC_ID_LEN: usize = 32;

/// The public id of a session whose stable secret is `secret` (the session
/// key on server engines): a truncated SHA-256 in hex. The key is a bearer
/// token, so it is never shown; this can be, in a page or a log.
pub(crate) fn public_id(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut id = String::with_capacity(PUBLIC_ID_LEN);
    for b in digest.iter().take(PUBLIC_ID_LEN / 2) {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Whether `id` has the shape of a public id (32 lowercase hex digits): what
/// the API and the CLI accept before any backend sees it.
pub(crate) fn is_public_id(id: &str) -> bool {
    id.len() == PUBLIC_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One logged-in session as an index backend stores it.
///
/// Backends store and return every field as given; the [`UserSessions`]
/// handle decides what they hold.
///
/// [`UserSessions`]: super::UserSessions
#[derive(Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The user's primary key, as Django stores it in `_auth_user_id`.
    pub user_id: String,
    /// The session's public id (32 hex digits).
    pub id: String,
    /// The session key, so that a revocation can delete the session; `None`
    /// for signed-cookie sessions, which have nothing server-side to delete.
    /// A credential: never shown or logged.
    pub session_key: Option<String>,
    /// When the user logged in to this session.
    pub created: OffsetDateTime,
    /// The last request seen on this session (updated about once a minute).
    pub last_seen: OffsetDateTime,
    /// When the session expires, as last seen.
    pub expires_at: OffsetDateTime,
    /// The `User-Agent` of the login request, cut to 512 bytes.
    pub user_agent: Option<String>,
    /// The client IP of the login request.
    pub ip: Option<String>,
}

impl fmt::Debug for IndexEntry {
    // The session key is a bearer token: only whether there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexEntry")
            .field("user_id", &self.user_id)
            .field("id", &self.id)
            .field("has_session_key", &self.session_key.is_some())
            .field("created", &self.created)
            .field("last_seen", &self.last_seen)
            .field("expires_at", &self.expires_at)
            .field("user_agent", &self.user_agent)
            .field("ip", &self.ip)
            .finish()
    }
}

/// One of a user's sessions, as [`UserSessions::list`] shows it: what a
/// "where you're logged in" page needs, and no key.
///
/// [`UserSessions::list`]: super::UserSessions::list
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The public id that [`UserSessions::revoke`](super::UserSessions::revoke) takes.
    pub id: String,
    /// When the user logged in.
    pub created: OffsetDateTime,
    /// The last request seen (about once a minute).
    pub last_seen: OffsetDateTime,
    /// When the session expires unless used again.
    pub expires_at: OffsetDateTime,
    /// The browser's `User-Agent` at login.
    pub user_agent: Option<String>,
    /// The client IP at login.
    pub ip: Option<String>,
    /// Whether this is the session the list was asked for from.
    pub current: bool,
}

impl SessionInfo {
    pub(crate) fn from_entry(entry: IndexEntry, current: Option<&str>) -> Self {
        Self {
            current: current == Some(entry.id.as_str()),
            id: entry.id,
            created: entry.created,
            last_seen: entry.last_seen,
            expires_at: entry.expires_at,
            user_agent: entry.user_agent,
            ip: entry.ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ids_are_short_hex_and_stable() {
        let id = public_id("abcdefghijklmnopqrstuvwxyz012345");
        assert!(is_public_id(&id), "{id}");
        assert_eq!(id, public_id("abcdefghijklmnopqrstuvwxyz012345"));
        assert_ne!(id, public_id("abcdefghijklmnopqrstuvwxyz012346"));
        assert!(!is_public_id("../../etc/passwd"));
        assert!(!is_public_id(&id.to_uppercase()));
    }
}

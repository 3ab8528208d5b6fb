//! The request hook: what the session layer does for the index, and only
//! when one is configured (`Shared::user_sessions`); without one, every
//! entry point returns at once, with no store round trip.
//!
//! - On load, a logged-in session is identified (its public id noted); for
//!   signed cookies, whose revocation cannot delete anything, an id missing
//!   from the index means revoked: the request gets a fresh empty session.
//! - On login (`auth::login`), the request is marked; for signed cookies a
//!   fresh index id is put in the session.
//! - When the response goes out, after the session was saved with its final
//!   key: a login records a new entry (and enforces the per-user maximum),
//!   a key cycled on a logged-in session moves its entry, a flush or a user
//!   change removes it, and a plain request moves last-seen at most once a
//!   minute per session.

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::expiry::{expiry_date, EXPIRY_KEY};
use crate::key::generate_key;
use crate::session::Session;
use crate::store::SessionMap;

use super::client::ClientInfo;
use super::entry::public_id;
use super::{IndexEntry, UserSessions};

/// The session key holding a signed-cookie session's index id: the one
/// stable thing about a session whose cookie changes on every save.
pub(crate) const INDEX_ID_KEY: &str = "_sessionkit_index_id";

/// A request's bookkeeping for the index.
#[derive(Debug, Default)]
pub(crate) struct Tracking {
    /// The client, noted by the adapter (only when an index is configured).
    pub(crate) client: Option<ClientInfo>,
    /// The logged-in session the request loaded.
    pub(crate) loaded: Option<Tracked>,
    /// `auth::login` ran during the request.
    pub(crate) login: bool,
    /// The loaded session was checked against the index.
    pub(crate) checked: bool,
}

/// A logged-in session: its user and public id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tracked {
    pub(crate) user_id: String,
    pub(crate) id: String,
}

/// The user id in a session dict (Django's `_auth_user_id`: a string, or a
/// number written by other code).
fn user_of(data: &SessionMap) -> Option<String> {
    match data.get(crate::auth::SESSION_KEY)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The user and public id of a stored session: from its key on server
/// engines, from its index id for signed cookies.
fn identify(us: &UserSessions, key: Option<&str>, data: &SessionMap) -> Option<Tracked> {
    let user_id = user_of(data)?;
    let secret = if us.server_side() {
        key?
    } else {
        data.get(INDEX_ID_KEY)?.as_str()?
    };
    Some(Tracked {
        user_id,
        id: public_id(secret),
    })
}

/// The public id of `session` as the index names it.
pub(crate) fn current_id(us: &UserSessions, session: &Session) -> Option<String> {
    session
        .peek(|key, data| identify(us, key, data?))
        .map(|t| t.id)
}

/// Notes the request's client, for a login to record.
pub(crate) fn note_client(session: &Session, client: ClientInfo) {
    session.tracking(|t| t.client = Some(client));
}

/// Right after a load: identifies a logged-in session, and refuses a revoked
/// signed-cookie one.
///
/// # Errors
/// The index's error: for signed cookies the session cannot be trusted
/// without the check, so the load fails as a store failure does.
pub(crate) async fn loaded(session: &Session) -> Result<(), StoreError> {
    let Some(us) = session.user_sessions() else {
        return Ok(());
    };
    let Some(tracked) = session.peek(|key, data| identify(us, key, data?)) else {
        return Ok(());
    };
    if !us.server_side() {
        let now = session.config().now();
        if us
            .index
            .get(&tracked.user_id, &tracked.id, now)
            .await?
            .is_none()
        {
            tracing::info!(session = %tracked.id, "revoked session refused; starting a new one");
            session.forget_revoked();
            return Ok(());
        }
    }
    session.tracking(|t| t.loaded = Some(tracked));
    Ok(())
}

/// Marks a login (from `auth::login`, after the auth keys are written).
pub(crate) fn logged_in(session: &Session) {
    let Some(us) = session.user_sessions() else {
        return;
    };
    if !us.server_side() {
        session.insert_value(INDEX_ID_KEY, generate_key().into());
    }
    session.tracking(|t| t.login = true);
}

/// When the response goes out, after the session was saved (or not): brings
/// the index in line with the session. Index failures are logged, never
/// fail the response: the session itself is settled by then.
pub(crate) async fn finished(session: &Session) {
    let Some(us) = session.user_sessions() else {
        return;
    };
    let (before, login, client) = session.tracking(|t| {
        (
            t.loaded.take(),
            std::mem::take(&mut t.login),
            t.client.take(),
        )
    });
    // An anonymous request, or one that never loaded its session: nothing
    // was recorded and nothing is to be, whatever it became.
    if before.is_none() && !login {
        return;
    }
    let now = session.config().now();
    let cookie_age = session.config().cookie_age;
    let (after, session_key, expires_at) = session.peek(|key, data| {
        let after = match (key, data) {
            (Some(key), Some(data)) => identify(us, Some(key), data),
            _ => None,
        };
        let expires_at = expiry_date(data.and_then(|d| d.get(EXPIRY_KEY)), now, cookie_age);
        let session_key = key.filter(|_| us.server_side()).map(str::to_owned);
        (after, session_key, expires_at)
    });
    if let (Some(b), Some(a)) = (&before, &after) {
        if b == a {
            seen(us, a, now, expires_at).await;
            return;
        }
    }
    // Carried over: a key cycled on a logged-in session keeps its entry.
    let mut carried = None;
    if let Some(b) = &before {
        if after.is_some() && !login {
            carried = us
                .index
                .get(&b.user_id, &b.id, now)
                .await
                .inspect_err(|e| us.log_failure("read an entry to move", e))
                .ok()
                .flatten();
        }
        if let Err(e) = us.index.remove(&b.user_id, &b.id).await {
            us.log_failure("remove an ended session", &e);
        }
        us.note_seen(&b.id, None);
    }
    let Some(a) = after else {
        return;
    };
    let entry = match carried {
        Some(old) if old.user_id == a.user_id => IndexEntry {
            id: a.id.clone(),
            session_key,
            last_seen: now,
            expires_at,
            ..old
        },
        // A session that was never recorded (logged in before the index was
        // configured, or by Django) stays unlisted until its next login.
        _ if !login => return,
        _ => {
            let client = client.unwrap_or_default();
            IndexEntry {
                user_id: a.user_id.clone(),
                id: a.id.clone(),
                session_key,
                created: now,
                last_seen: now,
                expires_at,
                user_agent: client.user_agent,
                ip: client.ip,
            }
        }
    };
    if let Err(e) = us.index.put(&entry).await {
        us.log_failure("record a session", &e);
        return;
    }
    us.note_seen(&a.id, Some(now));
    if login {
        enforce_max(us, &a, now).await;
    }
}

/// Moves last-seen of `a`, at most once a minute per session and process.
async fn seen(us: &UserSessions, a: &Tracked, now: OffsetDateTime, expires_at: OffsetDateTime) {
    if !us.seen_due(&a.id, now) {
        return;
    }
    match us.index.seen(&a.user_id, &a.id, now, expires_at).await {
        Ok(_) => us.note_seen(&a.id, Some(now)),
        Err(e) => us.log_failure("update last-seen", &e),
    }
}

/// Revokes the user's sessions least recently seen beyond the maximum,
/// keeping the one just logged in.
async fn enforce_max(us: &UserSessions, a: &Tracked, now: OffsetDateTime) {
    let Some(max) = us.max_per_user else {
        return;
    };
    let mut others = match us.index.list(&a.user_id, now).await {
        Ok(entries) => entries,
        Err(e) => return us.log_failure("list sessions to enforce the maximum", &e),
    };
    others.retain(|e| e.id != a.id);
    others.sort_by(|x, y| y.last_seen.cmp(&x.last_seen).then(x.id.cmp(&y.id)));
    for entry in others.iter().skip(max - 1) {
        if let Err(e) = us.end(entry).await {
            us.log_failure("revoke a session beyond the maximum", &e);
        }
    }
}

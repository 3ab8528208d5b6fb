//! What one request knows about its session: the key, the data it sees, the
//! version it loaded, Django's `accessed`/`modified` flags and the change log.

use crate::store::{SessionMap, Version};

use super::changes::Change;

#[derive(Debug, Default)]
pub(crate) struct State {
    /// The session key (server stores) or cookie value (cookie store); `None`
    /// for a new session, as Django's `_session_key`.
    pub(crate) key: Option<String>,
    /// Whether the request came with a key (after `accepts`), before any load.
    pub(crate) request_had_key: bool,
    /// The dict this request sees. `None` until loaded, or set without a load
    /// where Django skips it (no key, `clear`, `flush`).
    pub(crate) data: Option<SessionMap>,
    /// Where the session is between the request's cookie and the save.
    pub(crate) stage: Stage,
    /// When the stored record loaded for this request expires: what the
    /// touch threshold compares against.
    pub(crate) loaded_expires_at: Option<time::OffsetDateTime>,
    pub(crate) accessed: bool,
    pub(crate) modified: bool,
    /// This request's changes, replayed on a newer record after a conflict.
    pub(crate) changes: Vec<Change>,
    /// Keys `flush` ended: deleted before anything else when the response
    /// goes out, whatever its status, as Django's `flush` deletes at once; a
    /// failed delete fails the response.
    pub(crate) flushed: Vec<String>,
    /// A load failed: the request is answered with the configured status.
    pub(crate) load_failed: bool,
    /// The key `cycle_key` moved away from: deleted once the new key exists.
    pub(crate) cycled: Option<Cycled>,
    /// The per-user session index's bookkeeping (untouched without one).
    pub(crate) tracking: crate::user_sessions::hook::Tracking,
}

/// Where a session is: one value instead of flags that depend on each other.
#[derive(Debug, Default)]
pub(crate) enum Stage {
    /// A key came with the request and the store was not asked yet (data
    /// written meanwhile goes on top of what the load finds).
    #[default]
    Unloaded,
    /// The store was asked, or there was nothing to ask. `version` is what
    /// the next compare-and-set must find; `None`: nothing is stored yet,
    /// the next save creates a key.
    Loaded { version: Option<Version> },
    /// `cycle_key` was called: the next save writes the data under a new key.
    Cycling,
}

impl Stage {
    pub(crate) fn is_loaded(&self) -> bool {
        !matches!(self, Stage::Unloaded)
    }
}

/// The key a `cycle_key` left, and the version of the record its data was
/// copied from (`None` when the session was never loaded).
#[derive(Debug)]
pub(crate) struct Cycled {
    pub(crate) key: String,
    pub(crate) version: Option<Version>,
}

impl State {
    /// Django's `is_empty()`: no key and no data. A pending `cycle_key` counts as
    /// a key, as Django has already created the new one by then.
    ///
    /// While no method touched the session, Django has not loaded it, so only
    /// the request's key counts; our extractor's eager load must not change
    /// that (an unknown key would otherwise read as empty and delete the cookie).
    pub(crate) fn is_empty(&self) -> bool {
        if !self.accessed {
            return !self.request_had_key;
        }
        self.key.is_none()
            && !matches!(self.stage, Stage::Cycling)
            && self.data.as_ref().is_none_or(|d| d.is_empty())
    }
}

//! Rolling expiry with a touch threshold (`SessionConfig::touch_threshold`):
//! with `save_every_request`, a request that changed nothing moves the
//! session's expiry only once enough of its age has gone, and then without
//! rewriting the stored data.
//!
//! Django saves the whole session and re-sends the cookie on every request
//! under `SESSION_SAVE_EVERY_REQUEST`: one write per request, for a rolling
//! expiry that only needs one now and then. Skipping a request's write is
//! safe because the browser's cookie was set with the same expiry as the
//! server copy when it was last written: both still end together.

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::expiry::{self, EXPIRY_KEY};

use super::state::Stage;
use super::Session;

/// What the threshold decided for an unmodified session.
pub(super) enum Touch {
    /// Enough of the age remains: no write, no `Set-Cookie`.
    NotDue,
    /// The expiry moved in the store; send the cookie with this value.
    Touched(String),
    /// Not a case for a touch (or the store cannot touch): save as usual.
    Save,
}

impl Session {
    /// Applies the touch threshold to a loaded session as at `now`.
    pub(super) async fn touch_if_due(
        &self,
        threshold: f64,
        now: OffsetDateTime,
    ) -> Result<Touch, StoreError> {
        let (key, due_at) = {
            let st = self.state();
            let plain = !st.modified && st.changes.is_empty() && st.cycled.is_none();
            let (Some(key), Some(stored), Stage::Loaded { version: Some(_) }) =
                (&st.key, st.loaded_expires_at, &st.stage)
            else {
                return Ok(Touch::Save);
            };
            if !plain {
                return Ok(Touch::Save);
            }
            let data = st.data.as_ref().and_then(|d| d.get(EXPIRY_KEY));
            let renewed = expiry::expiry_date(data, now, self.config().cookie_age);
            let full = (renewed - now).as_seconds_f64();
            let remaining = (stored - now).as_seconds_f64();
            if remaining >= full * threshold {
                return Ok(Touch::NotDue);
            }
            (key.clone(), renewed)
        };
        let store = &self.inner.shared.store;
        // `false`: gone meanwhile, or an engine whose expiry lives in the
        // value (signed cookies). The full save tells the two apart.
        match self
            .bounded("touch", store.touch(&key, due_at, now))
            .await?
        {
            true => Ok(Touch::Touched(key)),
            false => Ok(Touch::Save),
        }
    }
}

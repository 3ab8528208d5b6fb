//! [`ImmediateStore`]: the synchronous face of an engine that never waits.

use time::OffsetDateTime;

use crate::error::StoreError;

use super::{Loaded, Record, SaveOutcome, Saved, Version};

/// The calls of an engine that answers without waiting on anything: its
/// sessions live in this process (the in-process engine) or in the cookie
/// itself (signed cookies).
///
/// The session layer uses these instead of the async [`SessionStore`]
/// methods on every request's common path: no future to box, no deadline to
/// arm, since nothing can be slow. They must do exactly what the async
/// methods of the same name do; an engine that offers them returns itself
/// from [`SessionStore::immediate`]. Never implement this for a store that
/// blocks (file or network I/O): it would stall the async runtime.
///
/// [`SessionStore`]: super::SessionStore
/// [`SessionStore::immediate`]: super::SessionStore::immediate
pub trait ImmediateStore: Send + Sync {
    /// [`SessionStore::load`](super::SessionStore::load), at once.
    ///
    /// # Errors
    /// As the async method.
    fn load_now(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError>;

    /// [`SessionStore::create`](super::SessionStore::create), at once.
    ///
    /// # Errors
    /// As the async method.
    fn create_now(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError>;

    /// [`SessionStore::save`](super::SessionStore::save), at once.
    ///
    /// # Errors
    /// As the async method.
    fn save_now(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError>;
}

//! What each database gives the db engine: the [`DbBackend`] trait, the SQL
//! it runs ([`Statements`]) and the row it reads ([`StoredRow`]).
//!
//! A new database is a new `impl DbBackend`: the compiler lists every method
//! it is missing, and everything above the SQL (key checks, encoding,
//! compare-and-set outcomes, the create loop) comes from
//! [`SessionTable`](super::session_table::SessionTable) unchanged.

use std::future::Future;

use time::OffsetDateTime;

use crate::error::StoreError;

use super::DbPool;

/// A row as a backend read it, before decoding.
#[derive(Debug)]
pub(super) struct StoredRow {
    /// The stored `session_data`, byte for byte (the version).
    pub(super) data: Vec<u8>,
    /// The stored `expire_date`, or `None` when it could not be read.
    pub(super) expires_at: Option<OffsetDateTime>,
}

/// The SQL of one backend for one table, built once when the store is built:
/// identifiers cannot be bound. Each statement takes its parameters in the
/// order given here, in the backend's placeholder style.
#[derive(Debug)]
pub(super) struct Statements {
    /// `session_data, expire_date` of the row of `key` if `expire_date > now`.
    /// Binds: key, now.
    pub(super) load: String,
    /// A new row; a taken key must not overwrite anything. Binds: key, data,
    /// expire date.
    pub(super) insert: String,
    /// The compare-and-set save: writes only a live row still holding the
    /// expected bytes. Binds: data, expire date, key, expected, now.
    pub(super) update: String,
    /// Any row if `key`'s is live. Binds: key, now.
    pub(super) is_live: String,
    /// Deletes the row of `key`. Binds: key.
    pub(super) delete: String,
    /// Deletes the row of `key` only if it holds the expected bytes. Binds:
    /// key, expected.
    pub(super) delete_if: String,
    /// Deletes at most `limit` rows with `expire_date < now` (strict, as
    /// Django's `clear_expired`). Binds: now, limit.
    pub(super) clear_batch: String,
    /// Moves a live row's `expire_date`. Binds: expire date, key, now.
    pub(super) touch: String,
}

/// One database under the db engine. Every key given here is already a valid
/// session key; every instant is bound in the database's own column form.
///
/// Errors are sqlx's, sorted into [`StoreError`] by the caller, except
/// [`update_if`](Self::update_if)'s: a save whose reply was lost is
/// unavailable whatever sqlx said, which only the backend can tell.
///
/// The methods return `impl Future + Send` rather than being `async fn` so
/// the generic code above them can be used from a `Send` future.
pub(super) trait DbBackend: Send + Sync + 'static {
    /// The database's name in logs, `Debug` output and the `engine` label
    /// of metrics and spans.
    const NAME: &'static str;

    /// The pool the backend reads (and usually writes) through.
    fn pool(&self) -> DbPool;

    /// The row of `key` if it is live at `now`.
    fn fetch_live(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<StoredRow>, sqlx::Error>> + Send;

    /// Inserts a new row; `Ok(false)` when the key is already taken.
    fn insert(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Writes the row only if it is live and still holds `expected`; whether
    /// it did.
    fn update_if(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
        expected: &[u8],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether the row of `key` is live at `now`.
    fn is_live(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Deletes the row of `key`, if any.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Deletes the row only if it holds `expected`; whether it did.
    fn delete_if(
        &self,
        key: &str,
        expected: &[u8],
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Deletes up to `limit` rows expired at `now`; how many went.
    fn clear_expired_batch(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// Moves a live row's expiry; whether there was a live row.
    fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;
}

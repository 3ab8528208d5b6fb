//! Not an API: what the `sessionkit` command-line tool needs to handle an
//! SQLite session database exactly as the library does, without a copy that
//! could drift. Hidden from the docs; may change in any release.

use std::time::Duration;

use sqlx::SqlitePool;
use time::OffsetDateTime;

use crate::error::StoreError;

use super::ddl::Table;
use super::error::from_sqlx;
use super::{datetime, sqlite};

/// How long a statement of the library's waits for another connection's
/// write lock.
pub const SQLITE_BUSY_TIMEOUT: Duration = sqlite::BUSY_TIMEOUT;

/// `at` as Django's SQLite backend stores and compares `expire_date`
/// (`YYYY-MM-DD HH:MM:SS[.ffffff]`, naive UTC): the only form whose text
/// order is time order for Django and for the library.
pub fn sqlite_datetime(at: OffsetDateTime) -> String {
    datetime::format(at)
}

/// Whether an SQLite URL's query string sets `mode=` (then the URL, not the
/// caller, decides whether a missing file is created).
pub fn sqlite_url_sets_mode(url: &str) -> bool {
    sqlite::has_mode_param(url)
}

/// Whether the session table `name` exists, found as the library's
/// statements find it (SQLite names are case-insensitive).
pub async fn sqlite_table_exists(pool: &SqlitePool, name: &str) -> Result<bool, StoreError> {
    let table = Table::new(name)?;
    sqlite::table_exists(pool, &table).await.map_err(from_sqlx)
}

//! SQLite databases as the tool opens them: its own small pool, so that
//! `clearsessions` and `stats` never create a database file by mistake (a
//! typo in a path would otherwise "clear 0 sessions" from a new empty file),
//! `stats` opens read-only, and `migrate` leaves a Django database's journal
//! mode as it found it.

use std::str::FromStr;
use std::time::Duration;

use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::db::{DbOptions, DbStore};
use sessionkit::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::{OffsetDateTime, UtcOffset};

use crate::error::CliError;

/// How long a statement waits for another process's write lock (the
/// library's own setting).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the tool may do to the database file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Create the file when missing (`migrate`).
    Create,
    /// Read and write an existing file (`clearsessions`), with the
    /// library's own pragmas: WAL and `synchronous=NORMAL`.
    ReadWrite,
    /// Read an existing file only (`stats`).
    ReadOnly,
}

/// Whether `url` names an SQLite database.
pub(crate) fn is_sqlite(url: &str) -> bool {
    url.split_once(':')
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("sqlite"))
}

/// Opens the database at `url`. An explicit `mode=` in the URL is the
/// operator's choice and wins over `access`.
pub(crate) async fn connect(url: &str, access: Access) -> Result<SqlitePool, CliError> {
    // The URL stays out of messages: it may hold a path or parameters the
    // operator does not want in logs.
    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(|_| CliError::new("invalid SQLite database URL"))?;
    if access == Access::ReadWrite {
        // A purge commits once per batch. In the default rollback journal
        // every commit syncs twice: 1,000,000 rows took 17 s instead of 4.
        // WAL is what the library's own pool (so any sessionkit service) sets
        // on the database anyway.
        options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }
    if !has_mode(url) {
        options = match access {
            Access::Create => options.create_if_missing(true),
            Access::ReadWrite => options,
            Access::ReadOnly => options.read_only(true),
        };
    }
    let message = match access {
        Access::Create => "cannot open the SQLite database",
        // The usual cause: a wrong path. This command never creates one.
        Access::ReadWrite | Access::ReadOnly => {
            "cannot open the SQLite database (it must exist; `sessionkit migrate` creates it)"
        }
    };
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options.busy_timeout(BUSY_TIMEOUT))
        .await
        .map_err(|e| CliError::with(message, e))
}

/// The library's db store on `pool`, creating `table` with Django's DDL when
/// it is missing. Its codec is never used (the tool only creates, deletes and
/// counts rows), so it gets a random secret rather than the real one.
pub(crate) async fn db_store(pool: &SqlitePool, table: &str) -> Result<DbStore, StoreError> {
    let keys = Keys::try_from(SecretKey::new(sessionkit::key::generate_key()))
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let codec = Codec::sessions(&keys);
    DbStore::from_sqlite_pool_with(pool.clone(), codec, DbOptions::new().table(table)).await
}

/// Whether `table` exists (SQLite names are case-insensitive).
pub(crate) async fn table_exists(pool: &SqlitePool, table: &str) -> Result<bool, CliError> {
    sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE")
        .bind(table)
        .fetch_optional(pool)
        .await
        .map(|row| row.is_some())
        .map_err(|e| CliError::with("cannot read the database schema", e))
}

/// The names of `table`'s explicit indexes, sorted.
pub(crate) async fn indexes(pool: &SqlitePool, table: &str) -> Result<Vec<String>, CliError> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 COLLATE NOCASE \
         AND sql IS NOT NULL ORDER BY name",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .map_err(|e| CliError::with("cannot read the database schema", e))
}

/// The error for a database without the session table.
pub(crate) fn missing_table(table: &str) -> CliError {
    CliError::new(format!(
        "no table {table:?} in this database: run `sessionkit migrate` first"
    ))
}

/// How many rows are live and how many expired at `now`, by Django's rule:
/// live iff `expire_date > now` compared as text, as Django's SQLite backend
/// compares it. A row expiring exactly at `now` is not loadable, so it counts
/// as expired here (Django's `clearsessions` deletes it a moment later).
pub(crate) async fn count(
    pool: &SqlitePool,
    table: &str,
    now: OffsetDateTime,
) -> Result<(u64, u64), CliError> {
    // Two index range scans on `expire_date`, rather than one full scan.
    let sql = format!(
        "SELECT (SELECT count(*) FROM \"{table}\" WHERE expire_date > ?1), \
                (SELECT count(*) FROM \"{table}\" WHERE expire_date <= ?1)"
    );
    let (live, expired): (i64, i64) = sqlx::query_as(&sql)
        .bind(django_text(now))
        .fetch_one(pool)
        .await
        .map_err(|e| CliError::with("cannot count sessions", e))?;
    Ok((
        u64::try_from(live).unwrap_or(0),
        u64::try_from(expired).unwrap_or(0),
    ))
}

/// How many rows `clearsessions` will delete at `now` (`expire_date < now`).
pub(crate) async fn count_expired(
    pool: &SqlitePool,
    table: &str,
    now: OffsetDateTime,
) -> Result<u64, CliError> {
    let sql = format!("SELECT count(*) FROM \"{table}\" WHERE expire_date < ?1");
    let n: i64 = sqlx::query_scalar(&sql)
        .bind(django_text(now))
        .fetch_one(pool)
        .await
        .map_err(|e| CliError::with("cannot count sessions", e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `at` as Django's SQLite backend stores `expire_date`: naive UTC,
/// `YYYY-MM-DD HH:MM:SS`, then `.ffffff` only when the microseconds are not
/// zero. The library keeps its formatter private; this must stay identical
/// or text comparisons stop matching time order.
pub(crate) fn django_text(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    if at.microsecond() != 0 {
        out.push_str(&format!(".{:06}", at.microsecond()));
    }
    out
}

/// Whether the URL's query string sets `mode`.
fn has_mode(url: &str) -> bool {
    url.split_once('?')
        .map_or("", |(_, query)| query)
        .split('&')
        .any(|pair| pair.split_once('=').map_or(pair, |(key, _)| key) == "mode")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn django_text_form() {
        assert_eq!(
            django_text(datetime!(2024-06-15 12:00:00.25 UTC)),
            "2024-06-15 12:00:00.250000"
        );
        assert_eq!(
            django_text(datetime!(2024-06-15 12:00 UTC)),
            "2024-06-15 12:00:00"
        );
        assert_eq!(
            django_text(datetime!(2030-05-17 09:30:00.000123 +05:30)),
            "2030-05-17 04:00:00.000123"
        );
    }

    #[test]
    fn urls() {
        assert!(is_sqlite("sqlite://x.db"));
        assert!(is_sqlite("SQLITE::memory:"));
        assert!(!is_sqlite("postgres://h/db"));
        assert!(!is_sqlite("x.db"));
        assert!(has_mode("sqlite://x.db?mode=ro"));
        assert!(has_mode("sqlite://x.db?cache=shared&mode=rwc"));
        assert!(!has_mode("sqlite://x.db?modes=1"));
        assert!(!has_mode("sqlite://x.db"));
    }
}

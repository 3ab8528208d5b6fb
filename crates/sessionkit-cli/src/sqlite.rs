//! SQLite databases as the tool opens them: its own small pool, so that
//! `clearsessions` and `stats` never create a database file by mistake (a
//! typo in a path would otherwise "clear 0 sessions" from a new empty file),
//! `stats` opens read-only, and `migrate` leaves a Django database's journal
//! mode as it found it.
//!
//! Dates, the `mode=` rule, the table lookup and the busy timeout are the
//! library's own (`store::db::tool_support`): a copy here could drift, and
//! `clearsessions` and `stats` would then count or delete the wrong rows.

use std::str::FromStr;

use sessionkit::store::db::tool_support::{
    sqlite_datetime, sqlite_table_exists, sqlite_url_sets_mode, SQLITE_BUSY_TIMEOUT,
};
use sessionkit::store::db::{DbOptions, DbStore};
use sessionkit::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use crate::error::CliError;

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
    if !sqlite_url_sets_mode(url) {
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
        .connect_with(options.busy_timeout(SQLITE_BUSY_TIMEOUT))
        .await
        .map_err(|e| CliError::with(message, e))
}

/// The library's db store on `pool`, creating `table` with Django's DDL when
/// it is missing. It has no signing keys: the tool only creates, deletes and
/// counts rows, and a store asked to sign without keys says so.
pub(crate) async fn db_store(pool: &SqlitePool, table: &str) -> Result<DbStore, StoreError> {
    DbOptions::new().table(table).from_pool(pool.clone()).await
}

/// Whether `table` exists, as the library looks it up.
pub(crate) async fn table_exists(pool: &SqlitePool, table: &str) -> Result<bool, CliError> {
    sqlite_table_exists(pool, table)
        .await
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
        .bind(sqlite_datetime(now))
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
        .bind(sqlite_datetime(now))
        .fetch_one(pool)
        .await
        .map_err(|e| CliError::with("cannot count sessions", e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(is_sqlite("sqlite://x.db"));
        assert!(is_sqlite("SQLITE::memory:"));
        assert!(!is_sqlite("postgres://h/db"));
        assert!(!is_sqlite("x.db"));
    }
}

//! The SQLite backend of the db engine: Django's `django_session` table
//! through an sqlx pool, with `expire_date` as Django's SQLite text.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};
use time::OffsetDateTime;

use crate::error::StoreError;

use super::backend::{DbBackend, Statements, StoredRow};
use super::datetime;
use super::ddl::{self, Table};
use super::error::from_sqlx;
use super::sqlite_writer::{self, Arg, Writer};
use super::DbPool;

/// How long a statement waits for another connection's write lock.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// This database's SQL for `table`.
fn statements(table: &Table) -> Statements {
    let t = table.quoted();
    Statements {
        // `expire_date` is compared as TEXT, exactly as Django does; the
        // text form keeps string order equal to time order.
        load: format!(
            "SELECT session_data, expire_date FROM {t} \
             WHERE session_key = ?1 AND expire_date > ?2"
        ),
        insert: format!(
            "INSERT INTO {t} (session_key, session_data, expire_date) VALUES (?1, ?2, ?3)"
        ),
        // The version is the stored bytes; comparing as BLOB matches them
        // whatever storage class a foreign writer used.
        update: format!(
            "UPDATE {t} SET session_data = ?1, expire_date = ?2 \
             WHERE session_key = ?3 AND CAST(session_data AS BLOB) = ?4 \
             AND expire_date > ?5"
        ),
        is_live: format!("SELECT 1 FROM {t} WHERE session_key = ?1 AND expire_date > ?2"),
        delete: format!("DELETE FROM {t} WHERE session_key = ?1"),
        delete_if: format!(
            "DELETE FROM {t} WHERE session_key = ?1 AND CAST(session_data AS BLOB) = ?2"
        ),
        // Strict `<` as Django's clear_expired: a row expiring exactly now
        // is neither loadable nor deleted.
        clear_batch: format!(
            "DELETE FROM {t} WHERE session_key IN \
             (SELECT session_key FROM {t} WHERE expire_date < ?1 LIMIT ?2)"
        ),
        touch: format!(
            "UPDATE {t} SET expire_date = ?1 WHERE session_key = ?2 AND expire_date > ?3"
        ),
    }
}

/// An SQLite pool and the statements for one session table.
#[derive(Debug)]
pub(super) struct SqliteBackend {
    /// Reads, and writes when there is no `writer`.
    pool: SqlitePool,
    /// Our own databases write through one connection of their own, with
    /// group commit ([`sqlite_writer`]). `None` for a caller's pool (its
    /// connections are theirs to manage) and in-memory databases (another
    /// connection would open another database).
    writer: Option<Writer>,
    sql: Statements,
}

impl SqliteBackend {
    /// Opens (creating if missing) the database at `url` with a pool of our
    /// own: WAL, `synchronous=NORMAL`, a busy timeout.
    pub(super) async fn connect(url: &str, table: &Table) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url).map_err(|_| {
            // The URL itself stays out of the message: it may carry a path or
            // parameters the operator does not want in logs.
            StoreError::Config("invalid SQLite database URL".to_owned())
        })?;
        // An explicit `mode=` (ro, rw, memory) is the user's choice; without
        // one, a missing file is created, as Django's SQLite backend does.
        if !has_mode_param(url) {
            options = options.create_if_missing(true);
            if !is_in_memory(url) {
                create_private(options.get_filename());
            }
        }
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .disable_statement_logging();
        let mut pool_options = SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        if is_in_memory(url) {
            // An in-memory database lives as long as one connection to it:
            // keep one open for good, or idle reaping would drop every session.
            pool_options = pool_options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .map_err(from_sqlx)?;
        let mut backend = Self::with_pool(pool, table).await?;
        if !is_in_memory(url) {
            let writer = options.connect().await.map_err(from_sqlx)?;
            backend.writer = Some(Writer::spawn(writer));
        }
        Ok(backend)
    }

    /// Uses the caller's pool as configured (its limits and pragmas are theirs).
    pub(super) async fn with_pool(pool: SqlitePool, table: &Table) -> Result<Self, StoreError> {
        ensure_table(&pool, table).await?;
        Ok(Self {
            pool,
            writer: None,
            sql: statements(table),
        })
    }

    /// Runs a writing statement: through the writer when there is one.
    async fn write(&self, sql: &str, args: Vec<Arg>) -> Result<SqliteQueryResult, sqlx::Error> {
        match &self.writer {
            Some(writer) => writer.execute(sql, args).await,
            None => sqlite_writer::query(sql, &args).execute(&self.pool).await,
        }
    }
}

impl DbBackend for SqliteBackend {
    const NAME: &'static str = "sqlite";

    fn pool(&self) -> DbPool {
        DbPool::Sqlite(self.pool.clone())
    }

    async fn fetch_live(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredRow>, sqlx::Error> {
        let row = sqlx::query(&self.sql.load)
            .bind(key)
            .bind(datetime::format(now))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        // Decoded as bytes: a value that is not valid UTF-8 (or is a BLOB) is
        // a corrupt session to report, not a query error.
        let data: Option<Vec<u8>> = row.try_get(0)?;
        let expire: Option<Vec<u8>> = row.try_get(1)?;
        Ok(Some(StoredRow {
            data: data.unwrap_or_default(),
            expires_at: expire.as_deref().and_then(datetime::parse),
        }))
    }

    /// Inserts a new row; `Ok(false)` when the key is already taken.
    async fn insert(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, sqlx::Error> {
        let result = self
            .write(
                &self.sql.insert,
                vec![
                    Arg::Text(key.to_owned()),
                    Arg::Text(data.to_owned()),
                    Arg::Text(datetime::format(expires_at)),
                ],
            )
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes the row only if it is live and still holds `expected`.
    async fn update_if(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
        expected: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = self
            .write(
                &self.sql.update,
                vec![
                    Arg::Text(data.to_owned()),
                    Arg::Text(datetime::format(expires_at)),
                    Arg::Text(key.to_owned()),
                    Arg::Bytes(expected.to_vec()),
                    Arg::Text(datetime::format(now)),
                ],
            )
            .await
            .map_err(from_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_live(&self, key: &str, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(&self.sql.is_live)
            .bind(key)
            .bind(datetime::format(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), sqlx::Error> {
        self.write(&self.sql.delete, vec![Arg::Text(key.to_owned())])
            .await?;
        Ok(())
    }

    /// Deletes the row only if it holds `expected`; whether it did.
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool, sqlx::Error> {
        let args = vec![Arg::Text(key.to_owned()), Arg::Bytes(expected.to_vec())];
        let done = self.write(&self.sql.delete_if, args).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes up to `limit` rows expired at `now`; returns how many went.
    async fn clear_expired_batch(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, sqlx::Error> {
        let done = self
            .write(
                &self.sql.clear_batch,
                vec![Arg::Text(datetime::format(now)), Arg::Int(i64::from(limit))],
            )
            .await?;
        Ok(done.rows_affected())
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, sqlx::Error> {
        let done = self
            .write(
                &self.sql.touch,
                vec![
                    Arg::Text(datetime::format(expires_at)),
                    Arg::Text(key.to_owned()),
                    Arg::Text(datetime::format(now)),
                ],
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Creates the table and its index with Django's DDL when the table is
/// missing. An existing table (Django's, or ours from an earlier run) is left
/// exactly as it is; its columns are only checked to be there.
async fn ensure_table(pool: &SqlitePool, table: &Table) -> Result<(), StoreError> {
    if !table_exists(pool, table).await.map_err(from_sqlx)? {
        // IMMEDIATE takes the write lock up front, so two processes starting
        // together queue on the busy timeout instead of failing on a stale
        // read snapshot; table and index appear together or not at all.
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(from_sqlx)?;
        for statement in ddl::sqlite_create(table) {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
    }
    let probe = format!(
        "SELECT session_key, session_data, expire_date FROM {} LIMIT 0",
        table.quoted()
    );
    sqlx::query(&probe)
        .fetch_optional(pool)
        .await
        .map_err(from_sqlx)?;
    Ok(())
}

pub(super) async fn table_exists(pool: &SqlitePool, table: &Table) -> Result<bool, sqlx::Error> {
    // SQLite identifiers are case-insensitive, so is this lookup.
    let row = sqlx::query(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
    )
    .bind(table.name())
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

/// Creates the missing database file empty (SQLite takes an empty file as a
/// new database) with mode 0600, before SQLite would create it under the
/// umask (usually 0644). SQLite gives the `-wal` and `-shm` files it makes
/// later the database file's mode. A failure is left for SQLite's own open
/// to report.
fn create_private(path: &std::path::Path) {
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    let _ = file.open(path);
}

/// The `key=value` pairs of the URL's query string.
fn query_pairs(url: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Whether the URL's query string sets `mode`.
pub(super) fn has_mode_param(url: &str) -> bool {
    query_pairs(url).any(|(key, _)| key == "mode")
}

/// Whether the URL names an in-memory database (as sqlx reads URLs).
fn is_in_memory(url: &str) -> bool {
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    path.ends_with(":memory:") || query_pairs(url).any(|pair| pair == ("mode", "memory"))
}

#[cfg(test)]
mod tests {
    use super::{has_mode_param, is_in_memory};

    #[test]
    fn mode_parameter() {
        assert!(has_mode_param("sqlite://x.db?mode=rwc"));
        assert!(has_mode_param("sqlite://x.db?cache=shared&mode=ro"));
        assert!(!has_mode_param("sqlite://x.db"));
        assert!(!has_mode_param("sqlite://x.db?cache=shared"));
        assert!(!has_mode_param("sqlite://x.db?modes=1"));
    }

    #[test]
    fn in_memory_urls() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://shared?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://x.db"));
        assert!(!is_in_memory("sqlite://memory.db?mode=rwc"));
    }
}

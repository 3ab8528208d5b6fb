//! The MySQL/MariaDB backend of the db engine: Django's `django_session`
//! table through an sqlx pool, with `expire_date` as the naive UTC
//! `datetime(6)` Django writes with `USE_TZ=True`.
//!
//! Two MySQL habits matter for compare-and-set, and both are handled here:
//! - an `UPDATE` that changes nothing reports 0 affected rows unless the
//!   client asked for `CLIENT_FOUND_ROWS`. sqlx always asks for it (its
//!   handshake sets the flag unconditionally), so `rows_affected` counts the
//!   rows *matched*, and re-saving identical data is a success, not a
//!   conflict (pinned down by `tests/db_mysql.rs`);
//! - the default collations compare text case-insensitively and ignore
//!   trailing spaces, so `session_data` is compared as bytes
//!   (`CAST(session_data AS BINARY)`), and the version is those very bytes,
//!   whatever the column's character set.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::error::StoreError;

use super::backend::{DbBackend, Statements, StoredRow};
use super::datetime::naive_utc;
use super::ddl::{self, Table};
use super::error::from_sqlx;
use super::mysql_batch::MySqlFlush;
use super::save_batch::Batcher;
use super::DbPool;

/// How long a caller waits for a pooled connection (including opening one):
/// short, so a dead server turns into a 503 within seconds, not sqlx's 30 s.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// A pooled connection idle for longer than this is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);
/// How long a statement of ours waits for another transaction's row lock
/// (`innodb_lock_wait_timeout`, whole seconds; the server's default is 50).
const LOCK_WAIT_SECS: u32 = 3;
/// Longest a statement of ours may run: MariaDB's `max_statement_time` (in
/// seconds), or MySQL's `max_execution_time` (in ms, for `SELECT`s only).
const STATEMENT_SECS: u32 = 5;
/// MySQL's `ER_NO_SUCH_TABLE`.
const NO_SUCH_TABLE: u16 = 1146;

/// This database's SQL for `table`.
fn statements(table: &Table) -> Statements {
    let t = table.backticked();
    Statements {
        load: format!(
            "SELECT CAST(session_data AS BINARY), expire_date FROM {t} \
             WHERE session_key = ? AND expire_date > ?"
        ),
        insert: format!(
            "INSERT INTO {t} (session_key, session_data, expire_date) VALUES (?, ?, ?)"
        ),
        // InnoDB evaluates an UPDATE's WHERE on the latest committed row,
        // after any concurrent writer's lock is released: a stale
        // `session_data` matches nothing, which is the compare-and-set.
        update: format!(
            "UPDATE {t} SET session_data = ?, expire_date = ? \
             WHERE session_key = ? AND CAST(session_data AS BINARY) = ? \
             AND expire_date > ?"
        ),
        is_live: format!("SELECT 1 FROM {t} WHERE session_key = ? AND expire_date > ?"),
        delete: format!("DELETE FROM {t} WHERE session_key = ?"),
        delete_if: format!(
            "DELETE FROM {t} WHERE session_key = ? AND CAST(session_data AS BINARY) = ?"
        ),
        // Strict `<` as Django's clear_expired.
        clear_batch: format!("DELETE FROM {t} WHERE expire_date < ? LIMIT ?"),
        touch: format!("UPDATE {t} SET expire_date = ? WHERE session_key = ? AND expire_date > ?"),
    }
}

/// A MySQL pool and the statements for one session table.
#[derive(Debug)]
pub(super) struct MySqlBackend {
    pool: MySqlPool,
    sql: Statements,
    /// Compare-and-set saves, grouped into one transaction when they queue up.
    saves: Batcher,
}

impl MySqlBackend {
    /// Opens a pool of our own on `url`.
    pub(super) async fn connect(url: &str, table: &Table) -> Result<Self, StoreError> {
        let options = MySqlConnectOptions::from_str(url).map_err(|_| {
            // The URL stays out of the message: it may carry a password.
            StoreError::Config("invalid MySQL database URL".to_owned())
        })?;
        // `datetime(6)` is not shifted by the session time zone, but NOW()
        // in an operator's query, or a `timestamp` column, would be: keep the
        // connection on UTC, as Django's MySQL backend does with USE_TZ.
        let options = options
            .timezone(Some("+00:00".to_owned()))
            .disable_statement_logging();
        // sqlx pings every connection it hands out, on top of the ping
        // when it takes one back: a round trip more per query, which costs
        // a session load more than the query itself. A connection that
        // was in use moments ago is known good; only one idle for a while
        // (a server restart, a NAT or firewall timeout) is checked.
        let pool = MySqlPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(limit_waits(conn)))
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_IF_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(from_sqlx)?;
        Self::with_pool(pool, table).await
    }

    /// Uses the caller's pool as configured.
    pub(super) async fn with_pool(pool: MySqlPool, table: &Table) -> Result<Self, StoreError> {
        ensure_table(&pool, table).await?;
        let sql = statements(table);
        let flush = MySqlFlush::new(pool.clone(), sql.update.clone());
        let saves = Batcher::spawn(flush, pool.options().get_max_connections());
        Ok(Self { pool, sql, saves })
    }
}

impl DbBackend for MySqlBackend {
    const NAME: &'static str = "mysql";

    fn pool(&self) -> DbPool {
        DbPool::MySql(self.pool.clone())
    }

    async fn fetch_live(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredRow>, sqlx::Error> {
        let row = sqlx::query(&self.sql.load)
            .bind(key)
            .bind(naive_utc(now))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: Vec<u8> = row.try_get(0)?;
        let expires_at: PrimitiveDateTime = row.try_get(1)?;
        Ok(Some(StoredRow {
            data,
            expires_at: Some(expires_at.assume_utc()),
        }))
    }

    /// Inserts a new row; `Ok(false)` when the key is already taken.
    async fn insert(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(&self.sql.insert)
            .bind(key)
            .bind(data)
            .bind(naive_utc(expires_at))
            .execute(&self.pool)
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
        self.saves
            .update_if(key, data, expires_at, expected, now)
            .await
    }

    async fn is_live(&self, key: &str, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(&self.sql.is_live)
            .bind(key)
            .bind(naive_utc(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&self.sql.delete)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the row only if it holds `expected`; whether it did.
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(&self.sql.delete_if)
            .bind(key)
            .bind(expected)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes up to `limit` expired rows; returns how many went.
    async fn clear_expired_batch(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(&self.sql.clear_batch)
            .bind(naive_utc(now))
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(&self.sql.touch)
            .bind(naive_utc(expires_at))
            .bind(key)
            .bind(naive_utc(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Bounds how long each statement on a connection of ours may wait or run.
async fn limit_waits(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    let lock_wait = format!("SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECS}");
    conn.execute(lock_wait.as_str()).await?;
    let mariadb = format!("SET SESSION max_statement_time = {STATEMENT_SECS}");
    match conn.execute(mariadb.as_str()).await {
        // Not MariaDB: MySQL names it otherwise, in milliseconds.
        Err(sqlx::Error::Database(_)) => {
            let mysql = format!("SET SESSION max_execution_time = {}", STATEMENT_SECS * 1000);
            conn.execute(mysql.as_str()).await?;
        }
        other => {
            other?;
        }
    }
    Ok(())
}

/// Creates the table with Django's columns and index when it is missing. An
/// existing table (Django's, or ours from an earlier run) is left exactly as
/// it is; its columns are only checked to be there.
async fn ensure_table(pool: &MySqlPool, table: &Table) -> Result<(), StoreError> {
    // Probing first finds the table exactly as the statements will (case
    // rules follow the server's `lower_case_table_names`), and needs no
    // CREATE privilege when the table is there.
    let probe = format!(
        "SELECT session_key, session_data, expire_date FROM {} LIMIT 0",
        table.backticked()
    );
    match sqlx::query(&probe).fetch_optional(pool).await {
        Ok(_) => return Ok(()),
        Err(sqlx::Error::Database(e)) if is_no_such_table(e.as_ref()) => {}
        Err(e) => return Err(from_sqlx(e)),
    }
    // One statement with IF NOT EXISTS: processes starting together all
    // succeed, and table and index appear together.
    sqlx::query(&ddl::mysql_create(table))
        .execute(pool)
        .await
        .map_err(from_sqlx)?;
    sqlx::query(&probe)
        .fetch_optional(pool)
        .await
        .map_err(from_sqlx)?;
    Ok(())
}

fn is_no_such_table(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some_and(|e| e.number() == NO_SUCH_TABLE)
}

//! The PostgreSQL backend of the db engine: Django's `django_session` table
//! through an sqlx pool, with `expire_date` as Django's aware
//! `timestamp with time zone`.

use std::str::FromStr;
use std::time::Duration;

use md5::{Digest, Md5};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Row};
use time::OffsetDateTime;

use crate::error::StoreError;

use super::backend::{DbBackend, Statements, StoredRow};
use super::datetime::micros;
use super::ddl::{self, Table};
use super::error::from_sqlx;
use super::postgres_batch::{as_text, PgFlush};
use super::save_batch::Batcher;
use super::DbPool;

/// How long a caller waits for a pooled connection (including opening one):
/// short, so a dead server turns into a 503 within seconds, not sqlx's 30 s.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// A pooled connection idle for longer than this is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);
/// Server settings of our connections, unless the URL's `options` set them:
/// a statement waits at most 3 s for a lock and runs at most 5 s, so a
/// locked or slow row answers 503 within seconds.
const LIMITS: [(&str, &str); 2] = [("lock_timeout", "3s"), ("statement_timeout", "5s")];

/// This database's SQL for `table`.
fn statements(table: &Table) -> Statements {
    let t = table.quoted();
    Statements {
        load: format!(
            "SELECT session_data, expire_date FROM {t} \
             WHERE session_key = $1 AND expire_date > $2"
        ),
        // A taken key is a normal outcome (retry with another), not an
        // error for the server log.
        insert: format!(
            "INSERT INTO {t} (session_key, session_data, expire_date) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING"
        ),
        // Under READ COMMITTED a concurrent writer's UPDATE makes this one
        // wait, then re-check the WHERE against the new row: a stale
        // `session_data` matches nothing, which is the compare-and-set.
        update: format!(
            "UPDATE {t} SET session_data = $1, expire_date = $2 \
             WHERE session_key = $3 AND session_data = $4 AND expire_date > $5"
        ),
        is_live: format!("SELECT 1 FROM {t} WHERE session_key = $1 AND expire_date > $2"),
        delete: format!("DELETE FROM {t} WHERE session_key = $1"),
        delete_if: format!("DELETE FROM {t} WHERE session_key = $1 AND session_data = $2"),
        // Strict `<` as Django's clear_expired. The outer condition is
        // re-checked on a row changed since the subquery read it, so a
        // row made live meanwhile is never deleted.
        clear_batch: format!(
            "DELETE FROM {t} WHERE session_key IN \
             (SELECT session_key FROM {t} WHERE expire_date < $1 LIMIT $2) \
             AND expire_date < $1"
        ),
        touch: format!(
            "UPDATE {t} SET expire_date = $1 WHERE session_key = $2 AND expire_date > $3"
        ),
    }
}

/// A PostgreSQL pool and the statements for one session table.
#[derive(Debug)]
pub(super) struct PgBackend {
    pool: PgPool,
    sql: Statements,
    /// Compare-and-set saves, grouped into one statement when they queue up.
    saves: Batcher,
}

impl PgBackend {
    /// Opens a pool of our own on `url`.
    pub(super) async fn connect(url: &str, table: &Table) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|_| {
            // The URL stays out of the message: it may carry a password.
            StoreError::Config("invalid PostgreSQL database URL".to_owned())
        })?;
        let options = match options.get_application_name() {
            Some(_) => options,
            // Lets an operator tell our connections apart in pg_stat_activity.
            None => options.application_name("sessionkit"),
        };
        let set = options.get_options().unwrap_or_default().to_owned();
        let limits = LIMITS.into_iter().filter(|(name, _)| !set.contains(name));
        let options = options.options(limits).disable_statement_logging();
        // sqlx pings every connection it hands out, on top of the ping
        // when it takes one back: a round trip more per query, which costs
        // a session load more than the query itself. A connection that
        // was in use moments ago is known good; only one idle for a while
        // (a server restart, a NAT or firewall timeout) is checked.
        let pool = PgPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
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
    pub(super) async fn with_pool(pool: PgPool, table: &Table) -> Result<Self, StoreError> {
        ensure_table(&pool, table).await?;
        let sql = statements(table);
        let flush = PgFlush::new(pool.clone(), table, sql.update.clone());
        let saves = Batcher::spawn(flush, pool.options().get_max_connections());
        Ok(Self { pool, sql, saves })
    }
}

impl DbBackend for PgBackend {
    const NAME: &'static str = "postgres";

    fn pool(&self) -> DbPool {
        DbPool::Postgres(self.pool.clone())
    }

    async fn fetch_live(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredRow>, sqlx::Error> {
        let row = sqlx::query(&self.sql.load)
            .bind(key)
            .bind(micros(now))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        // `text` is always valid in the database encoding, and NOT NULL.
        let data: String = row.try_get(0)?;
        let expires_at: OffsetDateTime = row.try_get(1)?;
        Ok(Some(StoredRow {
            data: data.into_bytes(),
            expires_at: Some(expires_at),
        }))
    }

    /// Inserts a new row; `Ok(false)` when the key is already taken.
    async fn insert(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(&self.sql.insert)
            .bind(key)
            .bind(data)
            .bind(micros(expires_at))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
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
        // An expected version that is not valid UTF-8, or holds a NUL, can
        // never be in a `text` column: the flush (batched or alone) answers
        // "not written" for it rather than sending it.
        self.saves
            .update_if(key, data, micros(expires_at), expected, micros(now))
            .await
    }

    async fn is_live(&self, key: &str, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(&self.sql.is_live)
            .bind(key)
            .bind(micros(now))
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
        // An expected version that is not valid UTF-8, or holds a NUL, can
        // never be in a `text` column: the row cannot hold it, so nothing is
        // deleted (and PostgreSQL is spared a value it would refuse).
        let Some(expected) = as_text(expected) else {
            return Ok(false);
        };
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
            .bind(micros(now))
            .bind(i64::from(limit))
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
            .bind(micros(expires_at))
            .bind(key)
            .bind(micros(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Creates the table and its indexes with Django's DDL when the table is
/// missing. An existing table (Django's, or ours from an earlier run) is left
/// exactly as it is; its columns are only checked to be there.
async fn ensure_table(pool: &PgPool, table: &Table) -> Result<(), StoreError> {
    if !table_exists(pool, table).await.map_err(from_sqlx)? {
        // Two `CREATE TABLE IF NOT EXISTS` racing can still both try to
        // create the row type and one fails; a transaction-scoped advisory
        // lock makes processes starting together take turns, and the
        // transaction makes table and indexes appear together or not at all.
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(create_lock_id(table))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        for statement in ddl::postgres_create(table) {
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

/// Whether the table exists where an unqualified name finds it (the
/// `search_path`), as the statements will look it up.
async fn table_exists(pool: &PgPool, table: &Table) -> Result<bool, sqlx::Error> {
    // The quoted name keeps its case, as in the statements.
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(table.quoted())
        .fetch_one(pool)
        .await?;
    Ok(exists)
}

/// The advisory lock taken while creating `table`: derived from its name, so
/// only creators of the same table wait for each other.
fn create_lock_id(table: &Table) -> i64 {
    let digest = Md5::digest(format!("sessionkit create table {}", table.name()).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_ids_differ_per_table() {
        let id = |name: &str| create_lock_id(&Table::new(name).expect("valid"));
        assert_eq!(id("django_session"), id("django_session"));
        assert_ne!(id("django_session"), id("my_sessions"));
    }
}

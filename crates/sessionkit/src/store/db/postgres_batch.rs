//! How PostgreSQL writes a batch of saves: one `UPDATE … FROM unnest(…)`
//! statement, so one round trip, one commit and one WAL flush serve them all.
//! The statement returns the position of each save whose row it changed.
//!
//! The statement commits on its own: an error the server sends (a lock
//! timeout, say) means nothing was written; a connection lost once it was
//! sent leaves the outcome unknown.

use async_trait::async_trait;
use sqlx::postgres::PgPool;
use sqlx::Row;
use time::OffsetDateTime;

use super::ddl::Table;
use crate::error::StoreError;

use super::error::{from_sqlx, refused_by_server};
use super::save_batch::{after_sent, BatchError, Flush, Job};

/// A pool and the two statements.
pub(super) struct PgFlush {
    pool: PgPool,
    batch: String,
    /// The one-row compare-and-set (`$1` data, `$2` expiry, `$3` key, `$4`
    /// expected, `$5` now).
    single: String,
}

impl PgFlush {
    pub(super) fn new(pool: PgPool, table: &Table, single: String) -> Self {
        Self {
            pool,
            batch: batch_statement(table),
            single,
        }
    }
}

/// The many-row compare-and-set: each element of the arrays is one save.
fn batch_statement(table: &Table) -> String {
    let t = table.quoted();
    // Under READ COMMITTED a row changed by a concurrent writer is re-checked
    // against this save's WHERE once that writer commits, as for one row.
    format!(
        "UPDATE {t} AS s SET session_data = v.data, expire_date = v.expire_date \
         FROM unnest($1::int4[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::timestamptz[]) \
         AS v(i, session_key, data, expire_date, expected, now) \
         WHERE s.session_key = v.session_key AND s.session_data = v.expected \
         AND s.expire_date > v.now \
         RETURNING v.i"
    )
}

/// A `text` column holds neither invalid UTF-8 nor NUL: such a version
/// cannot be what is stored, and binding it would be a query error.
pub(super) fn as_text(expected: &[u8]) -> Option<&str> {
    std::str::from_utf8(expected)
        .ok()
        .filter(|e| !e.contains('\0'))
}

#[async_trait]
impl Flush for PgFlush {
    async fn together(&self, batch: &[Job]) -> Result<Vec<bool>, BatchError> {
        let mut positions = Vec::with_capacity(batch.len());
        let mut keys = Vec::with_capacity(batch.len());
        let mut data = Vec::with_capacity(batch.len());
        let mut expiries: Vec<OffsetDateTime> = Vec::with_capacity(batch.len());
        let mut expected = Vec::with_capacity(batch.len());
        let mut nows: Vec<OffsetDateTime> = Vec::with_capacity(batch.len());
        for (i, job) in (0i32..).zip(batch) {
            // A version that cannot be stored matches nothing: left out, and
            // reported not written.
            let Some(version) = as_text(&job.expected) else {
                continue;
            };
            positions.push(i);
            keys.push(job.key.as_str());
            data.push(job.data.as_str());
            expiries.push(job.expires_at);
            expected.push(version);
            nows.push(job.now);
        }
        let mut conn = self.pool.acquire().await.map_err(BatchError::NotWritten)?;
        let rows = sqlx::query(&self.batch)
            .bind(positions)
            .bind(keys)
            .bind(data)
            .bind(expiries)
            .bind(expected)
            .bind(nows)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| match e {
                e if refused_by_server(&e) => BatchError::NotWritten(e),
                e => BatchError::Unknown(e),
            })?;
        let mut written = vec![false; batch.len()];
        for row in rows {
            // Committed already: a reply we cannot read leaves it unknown.
            let i: i32 = row.try_get(0).map_err(BatchError::Unknown)?;
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| written.get_mut(i)) {
                *slot = true;
            }
        }
        Ok(written)
    }

    async fn single(&self, job: &Job) -> Result<bool, StoreError> {
        let Some(expected) = as_text(&job.expected) else {
            return Ok(false);
        };
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        let done = sqlx::query(&self.single)
            .bind(job.data.as_str())
            .bind(job.expires_at)
            .bind(job.key.as_str())
            .bind(expected)
            .bind(job.now)
            .execute(&mut *conn)
            .await
            .map_err(after_sent)?;
        Ok(done.rows_affected() > 0)
    }
}

//! How MySQL and MariaDB write a batch of saves: one transaction, so one
//! commit and one log flush serve them all, in two round trips, with every
//! value a bound parameter (sqlx logs statement text; keys and session data
//! must never be in it).
//!
//! The first round trip binds each save's values to user variables
//! (`SET @sk_d0 = ?, …`, a prepared statement). The second is one
//! multi-statement text: `PREPARE` the one-row compare-and-set, `BEGIN`,
//! `EXECUTE … USING` the variables of each save in turn, `COMMIT`, and clear
//! the variables. Each `EXECUTE` reports its own rows matched, so each save
//! keeps its own outcome. The variables go through `EXECUTE … USING` rather
//! than straight into the `UPDATE`: as parameters they compare under the
//! column's collation (a user variable carries the connection's, and MySQL
//! refuses to compare two collations of equal rank).

use std::fmt::Write;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnection, MySqlPool};
use sqlx::pool::PoolConnection;
use sqlx::{Executor, MySql};
use time::OffsetDateTime;

use crate::error::StoreError;

use super::datetime::naive_utc;
use super::error::{from_sqlx, refused_by_server};
use super::save_batch::{after_sent, BatchError, Flush, Job};

/// A pool and the one-row compare-and-set with parameters (data, expiry,
/// key, expected, now).
pub(super) struct MySqlFlush {
    pool: MySqlPool,
    update: String,
}

/// A time a `datetime(6)` cannot hold: such a save goes alone.
#[derive(Debug, thiserror::Error)]
#[error("a session save's time is outside what a datetime column holds")]
struct OutOfRange;

/// The batch got another number of results than it has statements.
#[derive(Debug, thiserror::Error)]
#[error("a batch of session saves got {got} results for {sent} statements")]
struct ResultCount {
    got: usize,
    sent: usize,
}

/// The user variables of the save at position `i`, in the `UPDATE`'s
/// parameter order: data, expiry, key, expected, now.
const VARIABLES: [&str; 5] = ["d", "x", "k", "e", "n"];

impl MySqlFlush {
    pub(super) fn new(pool: MySqlPool, update: String) -> Self {
        Self { pool, update }
    }

    /// `SET @sk_d0 = ?, @sk_x0 = ?, …` for `n` saves.
    fn set_variables(n: usize) -> String {
        let mut sql = String::from("SET ");
        for i in 0..n {
            for v in VARIABLES {
                let sep = if sql.len() > 4 { ", " } else { "" };
                let _ = write!(sql, "{sep}@sk_{v}{i} = ?");
            }
        }
        sql
    }

    /// The multi-statement transaction for `n` saves: no value in it, only
    /// the table name and variable names.
    fn transaction(&self, n: usize) -> String {
        let mut sql = String::with_capacity(256 + n * 80);
        // The UPDATE holds no quote (the table name cannot): safe to quote.
        let _ = write!(sql, "PREPARE sk_cas FROM '{}'; BEGIN", self.update);
        for i in 0..n {
            let vars: Vec<String> = VARIABLES.iter().map(|v| format!("@sk_{v}{i}")).collect();
            let _ = write!(sql, "; EXECUTE sk_cas USING {}", vars.join(", "));
        }
        sql.push_str("; COMMIT; SET ");
        for i in 0..n {
            for v in VARIABLES {
                let sep = if i == 0 && v == VARIABLES[0] {
                    ""
                } else {
                    ", "
                };
                let _ = write!(sql, "{sep}@sk_{v}{i} = NULL");
            }
        }
        sql
    }

    /// Binds each save's values, in `order`, to the variables.
    async fn bind(
        &self,
        conn: &mut MySqlConnection,
        batch: &[Job],
        order: &[usize],
    ) -> Result<(), sqlx::Error> {
        let sql = Self::set_variables(order.len());
        let mut query = sqlx::query(&sql);
        for &i in order {
            let job = &batch[i];
            let expires = datetime(job.expires_at).map_err(protocol)?;
            let now = datetime(job.now).map_err(protocol)?;
            query = query
                .bind(job.data.as_str())
                .bind(expires)
                .bind(job.key.as_str())
                .bind(job.expected.as_slice())
                .bind(now);
        }
        conn.execute(query).await?;
        Ok(())
    }

    /// Runs the transaction; whether each `EXECUTE` matched its row, in
    /// `order`, and whether the connection is fit to go back to the pool.
    async fn commit(
        &self,
        conn: &mut MySqlConnection,
        n: usize,
    ) -> Result<(Vec<bool>, bool), BatchError> {
        let sql = self.transaction(n);
        // PREPARE, BEGIN, n EXECUTEs, COMMIT, SET: the COMMIT's is result n + 2.
        let sent = n + 4;
        let committed_at = n + 3;
        let mut results = Vec::with_capacity(sent);
        let mut clean = true;
        let mut stream = conn.execute_many(sqlx::raw_sql(&sql));
        loop {
            match stream.try_next().await {
                Ok(Some(done)) => results.push(done.rows_affected()),
                Ok(None) => break,
                // The variables are cleared after the commit: its failure
                // changes no outcome.
                Err(_) if results.len() >= committed_at => {
                    clean = false;
                    break;
                }
                // The server stops at a statement it refuses, before COMMIT.
                Err(e) if refused_by_server(&e) => return Err(BatchError::NotWritten(e)),
                Err(e) => return Err(BatchError::Unknown(e)),
            }
        }
        if results.len() < committed_at {
            let e = ResultCount {
                got: results.len(),
                sent,
            };
            return Err(BatchError::Unknown(protocol(e)));
        }
        // Rows matched, thanks to CLIENT_FOUND_ROWS (see the mysql module).
        let matched = results[2..2 + n].iter().map(|&rows| rows > 0).collect();
        Ok((matched, clean))
    }
}

fn protocol(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(e.to_string())
}

/// A `datetime(6)` value as text, naive UTC: exact to the microsecond
/// whatever the server makes of a temporal user variable.
fn datetime(at: OffsetDateTime) -> Result<String, OutOfRange> {
    let at = naive_utc(at);
    if !(1000..=9999).contains(&at.year()) {
        return Err(OutOfRange);
    }
    Ok(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond(),
    ))
}

#[async_trait]
impl Flush for MySqlFlush {
    async fn together(&self, batch: &[Job]) -> Result<Vec<bool>, BatchError> {
        // Row locks are taken in key order, so two batches in flight at once
        // never wait on each other in a cycle.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_unstable_by(|&a, &b| batch[a].key.cmp(&batch[b].key));
        let mut conn: PoolConnection<MySql> =
            self.pool.acquire().await.map_err(BatchError::NotWritten)?;
        // Nothing is committed until the second round trip: any failure of
        // the first leaves nothing written.
        if let Err(e) = self.bind(&mut conn, batch, &order).await {
            drop(conn.detach());
            return Err(BatchError::NotWritten(e));
        }
        match self.commit(&mut conn, order.len()).await {
            Ok((matched, clean)) => {
                if !clean {
                    drop(conn.detach());
                }
                let mut written = vec![false; batch.len()];
                for (&i, matched) in order.iter().zip(matched) {
                    written[i] = matched;
                }
                Ok(written)
            }
            Err(e) => {
                // The transaction may still be open: closing the connection
                // rather than returning it to the pool rolls it back.
                drop(conn.detach());
                Err(e)
            }
        }
    }

    async fn single(&self, job: &Job) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        update(&mut conn, &self.update, job)
            .await
            .map_err(after_sent)
    }
}

async fn update(conn: &mut MySqlConnection, sql: &str, job: &Job) -> Result<bool, sqlx::Error> {
    let done = conn
        .execute(
            sqlx::query(sql)
                .bind(job.data.as_str())
                .bind(naive_utc(job.expires_at))
                .bind(job.key.as_str())
                .bind(job.expected.as_slice())
                .bind(naive_utc(job.now)),
        )
        .await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_what_the_bound_forms_are() {
        assert_eq!(
            datetime(datetime!(2030-05-17 09:30:00.000123999 +05:30)).expect("in range"),
            "2030-05-17 04:00:00.000123"
        );
        assert!(datetime(datetime!(0999-12-31 00:00 UTC)).is_err());
    }

    #[test]
    fn the_batch_text_holds_only_variable_names() {
        assert_eq!(
            MySqlFlush::set_variables(2),
            "SET @sk_d0 = ?, @sk_x0 = ?, @sk_k0 = ?, @sk_e0 = ?, @sk_n0 = ?, \
             @sk_d1 = ?, @sk_x1 = ?, @sk_k1 = ?, @sk_e1 = ?, @sk_n1 = ?"
        );
    }
}

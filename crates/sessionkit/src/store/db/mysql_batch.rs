//! How MySQL and MariaDB write a batch of saves: one transaction, sent as one
//! multi-statement query (`BEGIN; UPDATE …; …; COMMIT`), so one round trip,
//! one commit and one redo-log flush serve them all. Each `UPDATE`'s
//! matched-row count is its save's outcome.
//!
//! A multi-statement query takes no bound parameters, so the values are
//! written into it, and only values that cannot break out of their literal:
//! session keys and saved data are checked to hold nothing but characters of
//! Django's signed format, the expected version goes as a hex literal, and
//! the times are formatted here. A save with anything else goes alone, with
//! bound parameters.

use std::fmt::Write;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnection, MySqlPool};
use sqlx::Executor;
use time::OffsetDateTime;

use super::datetime::naive_utc;
use super::ddl::Table;
use super::save_batch::{Flush, Job};

/// A pool, the table, and the one-row compare-and-set with parameters (data,
/// expiry, key, expected, now).
pub(super) struct MySqlFlush {
    pool: MySqlPool,
    table: String,
    update: String,
}

/// A value in a batch that could not be written as a literal.
#[derive(Debug, thiserror::Error)]
#[error("a session save holds characters a batch does not take")]
struct NotLiteral;

/// The batch query answered with another number of results than statements.
#[derive(Debug, thiserror::Error)]
#[error("a batch of session saves got {got} results for {sent} statements")]
struct ResultCount {
    got: usize,
    sent: usize,
}

impl MySqlFlush {
    pub(super) fn new(pool: MySqlPool, table: &Table, update: String) -> Self {
        Self {
            pool,
            table: table.backticked(),
            update,
        }
    }

    /// `BEGIN; UPDATE …; …; COMMIT`, one `UPDATE` per save in `order`.
    fn batch_query(&self, batch: &[Job], order: &[usize]) -> Result<String, NotLiteral> {
        let mut sql = String::with_capacity(64 + order.len() * 512);
        sql.push_str("BEGIN");
        for &i in order {
            let job = &batch[i];
            if !is_plain(&job.key) || !is_plain(&job.data) {
                return Err(NotLiteral);
            }
            let _ = write!(
                sql,
                "; UPDATE {t} SET session_data = '{data}', expire_date = '{expires}' \
                 WHERE session_key = '{key}' AND CAST(session_data AS BINARY) = X'{expected}' \
                 AND expire_date > '{now}'",
                t = self.table,
                data = job.data,
                expires = datetime(job.expires_at)?,
                key = job.key,
                expected = hex(&job.expected),
                now = datetime(job.now)?,
            );
        }
        sql.push_str("; COMMIT");
        Ok(sql)
    }
}

/// Only the characters of Django's signed format (URL-safe base64, `:` and
/// `.`) and of session keys: nothing that could end a quoted literal.
fn is_plain(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A `datetime(6)` literal: naive UTC, as the bound form.
fn datetime(at: OffsetDateTime) -> Result<String, NotLiteral> {
    let at = naive_utc(at);
    if !(1000..=9999).contains(&at.year()) {
        return Err(NotLiteral);
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
    async fn together(&self, batch: &[Job]) -> Result<Vec<bool>, sqlx::Error> {
        // Row locks are taken in key order, so two batches in flight at once
        // never wait on each other in a cycle.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_unstable_by(|&a, &b| batch[a].key.cmp(&batch[b].key));
        let sql = self
            .batch_query(batch, &order)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let mut conn = self.pool.acquire().await?;
        let results: Result<Vec<_>, _> = conn.execute_many(sqlx::raw_sql(&sql)).try_collect().await;
        let results = match results {
            Ok(results) if results.len() == order.len() + 2 => results,
            outcome => {
                // The server stops at a failed statement with the
                // transaction still open: the connection is closed rather
                // than returned to the pool, which rolls the transaction back.
                drop(conn.detach());
                return Err(match outcome {
                    Err(e) => e,
                    Ok(results) => sqlx::Error::Protocol(
                        ResultCount {
                            got: results.len(),
                            sent: order.len() + 2,
                        }
                        .to_string(),
                    ),
                });
            }
        };
        let mut written = vec![false; batch.len()];
        // Rows matched, thanks to CLIENT_FOUND_ROWS (see the mysql module).
        for (&i, done) in order.iter().zip(&results[1..]) {
            written[i] = done.rows_affected() > 0;
        }
        Ok(written)
    }

    async fn single(&self, job: &Job) -> Result<bool, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        update(&mut conn, &self.update, job).await
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
    fn only_signed_format_characters_are_plain() {
        assert!(is_plain("abc0123456789xyz"));
        assert!(is_plain(
            ".eJyrVipLLMpUslIyNDRS0lEqSyzKTMxRsjI0NTA1MTI:1uQ2xY:AbC-_d"
        ));
        for bad in ["it's", "a\\b", "a\"b", "a b", "a;b", "a\0b", "é"] {
            assert!(!is_plain(bad), "{bad:?}");
        }
    }

    #[test]
    fn literals_are_what_the_bound_forms_are() {
        assert_eq!(hex(b"\x00'\xff:"), "0027ff3a");
        assert_eq!(
            datetime(datetime!(2030-05-17 09:30:00.000123999 +05:30)).expect("in range"),
            "2030-05-17 04:00:00.000123"
        );
        assert!(datetime(datetime!(0999-12-31 00:00 UTC)).is_err());
    }
}

//! Group commit for PostgreSQL saves: compare-and-set updates that queue up
//! while earlier ones are running go to the server together, as one
//! `UPDATE … FROM unnest(…)` statement, so one round trip, one commit and one
//! WAL flush serve them all.
//!
//! A session save waits on its commit, and a commit on the WAL flush: with
//! one statement per save, a pool of ten connections commits at most ten
//! saves per flush however many requests are waiting. Here a save that finds
//! the batches in flight busy waits in a queue, and the next batch takes
//! everything queued by then. A lone save still goes at once, alone.
//!
//! Every update keeps its own outcome: the statement returns the position of
//! each job whose row it changed, so a job whose row is gone or holds another
//! version learns that, whatever its neighbours did. A session key appears at
//! most once per statement (a second save of the same session waits for the
//! next one), so which of two saves of a row won is never left to the
//! planner. Should the statement fail, no row changed and each job runs on
//! its own, so each gets its own true outcome.
//!
//! The batches run in tasks of their own: a request that gives up (its future
//! is dropped) cannot cut a batch short and leave other requests' saves
//! undecided.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::postgres::PgPool;
use sqlx::Row;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::ddl::Table;

/// Most saves in one statement: bounds how long one commit keeps the others
/// waiting, and the size of the arrays sent.
const MAX_BATCH: usize = 64;

/// One compare-and-set save and where its outcome goes.
pub(super) struct Job {
    pub(super) key: String,
    pub(super) data: String,
    pub(super) expires_at: OffsetDateTime,
    pub(super) expected: String,
    pub(super) now: OffsetDateTime,
    pub(super) done: oneshot::Sender<Result<bool, sqlx::Error>>,
}

/// The handle the backend keeps; the batching task ends when it is dropped.
#[derive(Debug)]
pub(super) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

/// The batching task stopped: only if the runtime it ran on shut down.
#[derive(Debug, thiserror::Error)]
#[error("the PostgreSQL save batcher is gone")]
struct BatcherGone;

impl Batcher {
    /// Starts the batching task. `single` is the one-row compare-and-set
    /// statement (`$1` data, `$2` expiry, `$3` key, `$4` expected, `$5` now),
    /// used when a batch has to be retried job by job.
    pub(super) fn spawn(pool: PgPool, table: &Table, single: String) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        // Half the pool at most, so loads always find connections too.
        let in_flight = (pool.options().get_max_connections() / 2).max(1) as usize;
        let statements = Arc::new(Statements {
            batch: batch_statement(table),
            single,
        });
        tokio::spawn(run(pool, statements, queue, in_flight));
        Self { jobs }
    }

    /// Saves through the next batch: `Ok(true)` when the row held
    /// `job.expected` and was live, and now holds `job.data`.
    pub(super) async fn update_if(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
        expected: &str,
        now: OffsetDateTime,
    ) -> Result<bool, sqlx::Error> {
        let (done, outcome) = oneshot::channel();
        let job = Job {
            key: key.to_owned(),
            data: data.to_owned(),
            expires_at,
            expected: expected.to_owned(),
            now,
            done,
        };
        let gone = || sqlx::Error::WorkerCrashed;
        self.jobs.send(job).map_err(|_| gone())?;
        outcome.await.unwrap_or_else(|_| {
            tracing::error!(error = %BatcherGone, "session save not run");
            Err(gone())
        })
    }
}

struct Statements {
    batch: String,
    single: String,
}

/// The many-row compare-and-set: each element of the arrays is one job, and
/// the statement returns the positions of the jobs it wrote.
fn batch_statement(table: &Table) -> String {
    let t = table.quoted();
    // Under READ COMMITTED a row changed by a concurrent writer is re-checked
    // against this job's WHERE once that writer commits, as for one row.
    format!(
        "UPDATE {t} AS s SET session_data = v.data, expire_date = v.expire_date \
         FROM unnest($1::int4[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::timestamptz[]) \
         AS v(i, session_key, data, expire_date, expected, now) \
         WHERE s.session_key = v.session_key AND s.session_data = v.expected \
         AND s.expire_date > v.now \
         RETURNING v.i"
    )
}

async fn run(
    pool: PgPool,
    statements: Arc<Statements>,
    mut queue: mpsc::UnboundedReceiver<Job>,
    in_flight: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    // Jobs held back from the previous batch (a second save of a session).
    let mut waiting: Vec<Job> = Vec::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Taken only once a slot is free: whatever queued meanwhile joins.
        let mut jobs = std::mem::take(&mut waiting);
        if jobs.len() < MAX_BATCH {
            if jobs.is_empty() {
                if queue.recv_many(&mut jobs, MAX_BATCH).await == 0 {
                    return;
                }
            } else {
                while jobs.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
            }
        }
        let (batch, held) = one_per_key(jobs, MAX_BATCH);
        waiting = held;
        let pool = pool.clone();
        let statements = statements.clone();
        tokio::spawn(async move {
            run_batch(&pool, &statements, batch).await;
            drop(slot);
        });
    }
}

/// Splits `jobs` into a batch with each session key at most once (and at
/// most `max` jobs), and the rest, in their order.
fn one_per_key(jobs: Vec<Job>, max: usize) -> (Vec<Job>, Vec<Job>) {
    let mut keys = HashSet::with_capacity(jobs.len());
    let mut batch = Vec::with_capacity(jobs.len().min(max));
    let mut held = Vec::new();
    for job in jobs {
        if batch.len() < max && keys.insert(job.key.clone()) {
            batch.push(job);
        } else {
            held.push(job);
        }
    }
    (batch, held)
}

async fn run_batch(pool: &PgPool, statements: &Statements, batch: Vec<Job>) {
    if batch.len() == 1 {
        for job in batch {
            let outcome = single(pool, &statements.single, &job).await;
            let _ = job.done.send(outcome);
        }
        return;
    }
    match together(pool, &statements.batch, &batch).await {
        Ok(written) => {
            for (job, written) in batch.into_iter().zip(written) {
                let _ = job.done.send(Ok(written));
            }
        }
        Err(e) => {
            // The statement changed nothing: each job runs alone, so each
            // gets its own true outcome.
            tracing::debug!(error = %e, saves = batch.len(), "PostgreSQL batch failed; saving one by one");
            for job in batch {
                let outcome = single(pool, &statements.single, &job).await;
                let _ = job.done.send(outcome);
            }
        }
    }
}

/// Runs the batch statement; returns, for each job in order, whether it was
/// written.
async fn together(pool: &PgPool, sql: &str, batch: &[Job]) -> Result<Vec<bool>, sqlx::Error> {
    let positions: Vec<i32> = (0..batch.len() as i32).collect();
    let keys: Vec<&str> = batch.iter().map(|j| j.key.as_str()).collect();
    let data: Vec<&str> = batch.iter().map(|j| j.data.as_str()).collect();
    let expiries: Vec<OffsetDateTime> = batch.iter().map(|j| j.expires_at).collect();
    let expected: Vec<&str> = batch.iter().map(|j| j.expected.as_str()).collect();
    let nows: Vec<OffsetDateTime> = batch.iter().map(|j| j.now).collect();
    let rows = sqlx::query(sql)
        .bind(positions)
        .bind(keys)
        .bind(data)
        .bind(expiries)
        .bind(expected)
        .bind(nows)
        .fetch_all(pool)
        .await?;
    let mut written = vec![false; batch.len()];
    for row in rows {
        let i: i32 = row.try_get(0)?;
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| written.get_mut(i)) {
            *slot = true;
        }
    }
    Ok(written)
}

async fn single(pool: &PgPool, sql: &str, job: &Job) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sql)
        .bind(job.data.as_str())
        .bind(job.expires_at)
        .bind(job.key.as_str())
        .bind(job.expected.as_str())
        .bind(job.now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(key: &str) -> Job {
        let (done, _) = oneshot::channel();
        Job {
            key: key.to_owned(),
            data: String::new(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
            expected: String::new(),
            now: OffsetDateTime::UNIX_EPOCH,
            done,
        }
    }

    fn keys(jobs: &[Job]) -> Vec<&str> {
        jobs.iter().map(|j| j.key.as_str()).collect()
    }

    #[test]
    fn a_second_save_of_a_session_waits_for_the_next_batch() {
        let jobs = ["a", "b", "a", "c", "b", "a"].map(job).into();
        let (batch, held) = one_per_key(jobs, MAX_BATCH);
        assert_eq!(keys(&batch), ["a", "b", "c"]);
        assert_eq!(keys(&held), ["a", "b", "a"]);
        let (batch, held) = one_per_key(held, MAX_BATCH);
        assert_eq!(keys(&batch), ["a", "b"]);
        assert_eq!(keys(&held), ["a"]);
    }

    #[test]
    fn a_batch_holds_at_most_max_jobs() {
        let jobs = ["a", "b", "c", "d"].map(job).into();
        let (batch, held) = one_per_key(jobs, 3);
        assert_eq!(keys(&batch), ["a", "b", "c"]);
        assert_eq!(keys(&held), ["d"]);
    }
}

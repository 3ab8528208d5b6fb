//! Group commit for SQLite: one connection of its own writes, and the writes
//! that queue up while it is busy go in together, in one transaction.
//!
//! SQLite lets one writer at a time into a database. Ten pooled connections
//! writing at once fight over its lock, and the loser's busy handler *sleeps*
//! (1, 2, 5, 10 … ms), long after the write it waited for (tens of µs)
//! committed. Here writes queue instead, and a commit's fixed cost (the WAL
//! append and its locks) is paid once per batch rather than once per write.
//! Every statement keeps its own outcome: a compare-and-set `UPDATE` that
//! matches no row changes nothing and says so, whatever its neighbours do.
//!
//! The writer is a task of its own: a request that gives up (its future is
//! dropped) cannot cut a batch short and leave other requests' writes
//! undecided.
//!
//! A batch that SQLite refused before its commit is rolled back, and each
//! write runs again alone for its own outcome. A batch that failed any other
//! way (an I/O error, the driver's worker thread gone) may have been
//! committed: its writes answer "outcome unknown" (unavailable) and are not
//! run again, which could apply them twice. The queue is bounded: when it is
//! full a write fails at once as unavailable.

use std::sync::Arc;

use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteConnection, SqliteQueryResult};
use sqlx::{Connection, Executor};
use tokio::sync::{mpsc, oneshot};

use super::error::{unavailable, OutcomeUnknown, QueueFull};

/// Most writes in one transaction: bounds how long one commit keeps the
/// others waiting.
const MAX_BATCH: usize = 64;
/// Most writes waiting for the writer; beyond it a write fails at once.
const QUEUE_CAPACITY: usize = 1024;
/// SQLite's `SQLITE_IOERR` and `SQLITE_CORRUPT` primary result codes: the
/// file may hold part of what was being written.
const IOERR: u32 = 10;
const CORRUPT: u32 = 11;

/// A value bound to a statement.
#[derive(Debug)]
pub(super) enum Arg {
    Text(String),
    Bytes(Vec<u8>),
    Int(i64),
}

/// One writing statement and where its outcome goes.
struct Job {
    sql: String,
    args: Vec<Arg>,
    done: oneshot::Sender<Result<SqliteQueryResult, sqlx::Error>>,
}

/// The handle the backend keeps; the connection lives in the writer task,
/// which ends when the handle is dropped.
#[derive(Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// The writer task stopped: only if the runtime it ran on shut down.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite writer task is gone")]
struct WriterGone;

impl Writer {
    pub(super) fn spawn(conn: SqliteConnection) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(conn, queue));
        Self { jobs }
    }

    /// Runs `sql` with `args` on the writer connection.
    pub(super) async fn execute(
        &self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<SqliteQueryResult, sqlx::Error> {
        let (done, outcome) = oneshot::channel();
        let job = Job {
            sql: sql.to_owned(),
            args,
            done,
        };
        let gone = || sqlx::Error::WorkerCrashed;
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => unavailable(QueueFull),
            mpsc::error::TrySendError::Closed(_) => gone(),
        })?;
        outcome.await.unwrap_or_else(|_| {
            tracing::error!(error = %WriterGone, "session write not run");
            Err(gone())
        })
    }
}

async fn run(mut conn: SqliteConnection, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() == 1 {
            let job = batch.pop().expect("one job");
            let outcome = execute(&mut conn, &job).await;
            let _ = job.done.send(outcome);
            continue;
        }
        match together(&mut conn, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.done.send(outcome);
                }
            }
            Err(e) if rolled_back(&e) => {
                // Nothing of the batch was committed: each write runs
                // alone, so each gets its own true outcome.
                tracing::debug!(error = %e, writes = batch.len(), "SQLite batch rolled back; writing one by one");
                for job in batch.drain(..) {
                    let outcome = execute(&mut conn, &job).await;
                    let _ = job.done.send(outcome);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = batch.len(), "SQLite batch failed: outcome unknown");
                let e = Arc::new(e);
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(unavailable(OutcomeUnknown(e.clone()))));
                }
            }
        }
    }
}

/// Whether a batch's error proves it was rolled back: SQLite refused a
/// statement (or the commit) and said so, for a reason other than the file
/// itself failing.
fn rolled_back(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    let primary = db
        .code()
        .and_then(|c| c.parse::<u32>().ok())
        .map(|c| c & 0xff);
    !matches!(primary, Some(IOERR | CORRUPT) | None)
}

/// Runs every job in one transaction. A constraint violation (a taken key
/// on insert) stays that statement's outcome, as SQLite undoes only that
/// statement; any other error rolls the whole batch back and is returned.
async fn together(
    conn: &mut SqliteConnection,
    batch: &[Job],
) -> Result<Vec<Result<SqliteQueryResult, sqlx::Error>>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        match execute(&mut tx, job).await {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                outcomes.push(Err(sqlx::Error::Database(e)));
            }
            Err(e) => return Err(e), // dropping `tx` rolls back
            ok => outcomes.push(ok),
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn execute(conn: &mut SqliteConnection, job: &Job) -> Result<SqliteQueryResult, sqlx::Error> {
    conn.execute(query(&job.sql, &job.args)).await
}

/// `sql` with `args` bound in order.
pub(super) fn query<'q>(sql: &'q str, args: &'q [Arg]) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    args.iter().fold(sqlx::query(sql), |query, arg| match arg {
        Arg::Text(s) => query.bind(s.as_str()),
        Arg::Bytes(b) => query.bind(b.as_slice()),
        Arg::Int(i) => query.bind(*i),
    })
}

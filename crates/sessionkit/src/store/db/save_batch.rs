//! Group commit for compare-and-set saves on a database server: saves that
//! queue up while earlier ones are running go to the server together, so one
//! commit and one log flush serve them all. Each server says how a batch is
//! written ([`Flush`]); the queue, the batching and the outcomes are here.
//!
//! A session save waits on its commit, and a commit on the log flush: with
//! one transaction per save, a pool of ten connections commits at most ten
//! saves per flush however many requests are waiting. Here a save that finds
//! the batches in flight busy waits in a queue, and the next batch takes
//! everything queued by then. A lone save still goes at once, alone.
//!
//! Every save keeps its own outcome, whatever its neighbours did. A session
//! key appears at most once per batch (a second save of the same session
//! waits for the next one), so which of two saves of a row won is never left
//! to the server. Should a batch fail in a way that proves nothing of it was
//! written (the server refused a statement before the commit, or it was never
//! sent), each save runs on its own, so each gets its own true outcome. When
//! the connection fails after the batch was sent, the commit may have
//! happened: re-running a save would then find its own write, report a
//! conflict, and the caller would apply its change twice. Those saves answer
//! [`StoreError::Unavailable`] instead (outcome unknown), and so does a save
//! on its own that fails that way. Nothing here retries them.
//!
//! The queue is bounded: when the server falls so far behind that it is
//! full, a save is refused at once as unavailable instead of waiting without
//! end.
//!
//! The batches run in tasks of their own: a request that gives up (its future
//! is dropped) cannot cut a batch short and leave other requests' saves
//! undecided.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::StoreError;

use super::error::{from_sqlx, refused_by_server, OutcomeUnknown, QueueFull};

/// Most saves in one batch: bounds how long one commit keeps the others
/// waiting, and the size of what is sent.
const MAX_BATCH: usize = 64;
/// Most bytes of session data (new and expected) in one batch: a batch of
/// large sessions stays well inside a server's packet limit (MySQL's
/// `max_allowed_packet` is 16 MiB by default on MariaDB, 4 MiB on old
/// MySQL). A save larger than this alone still goes, as a batch of one.
const MAX_BATCH_BYTES: usize = 1 << 20;
/// Most saves waiting for a batch: a few seconds of a slow server's work.
/// Beyond it a save fails at once as unavailable, which sheds load instead
/// of piling up requests (and memory) behind a server that cannot keep up.
const QUEUE_CAPACITY: usize = 1024;

/// Why a batch was not written, which decides what its saves may do next.
#[derive(Debug)]
pub(super) enum BatchError {
    /// Nothing of the batch was committed (a statement refused before the
    /// commit, a connection never obtained, a value the batch cannot take):
    /// each save may run again on its own.
    NotWritten(sqlx::Error),
    /// The batch was sent and the connection failed before the reply: the
    /// commit may or may not have happened.
    Unknown(sqlx::Error),
}

/// How one server writes saves.
#[async_trait]
pub(super) trait Flush: Send + Sync + 'static {
    /// Writes `batch` (two or more saves, each of a different session) in
    /// one transaction; returns, for each save in order, whether it was
    /// written. The error says whether anything may have been written.
    async fn together(&self, batch: &[Job]) -> Result<Vec<bool>, BatchError>;

    /// Writes one save on its own. A connection failing once the save was
    /// sent is [`after_sent`]'s unknown outcome.
    async fn single(&self, job: &Job) -> Result<bool, StoreError>;
}

/// One compare-and-set save and where its outcome goes.
pub(super) struct Job {
    pub(super) key: String,
    pub(super) data: String,
    pub(super) expires_at: OffsetDateTime,
    /// The stored `session_data` the save expects, byte for byte.
    pub(super) expected: Vec<u8>,
    pub(super) now: OffsetDateTime,
    pub(super) done: oneshot::Sender<Result<bool, StoreError>>,
}

/// The handle the backend keeps; the batching task ends when it is dropped.
#[derive(Debug)]
pub(super) struct Batcher {
    jobs: mpsc::Sender<Job>,
}

/// The batching task stopped: only if the runtime it ran on shut down.
#[derive(Debug, thiserror::Error)]
#[error("the session save batcher is gone")]
struct BatcherGone;

impl Batcher {
    /// Starts the batching task for a pool of `pool_size` connections: at
    /// most half of them write batches at once, so loads always find
    /// connections too.
    pub(super) fn spawn(flush: impl Flush, pool_size: u32) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        let in_flight = usize::try_from(pool_size / 2).unwrap_or(usize::MAX).max(1);
        tokio::spawn(run(Arc::new(flush), queue, in_flight));
        Self { jobs }
    }

    /// Saves through the next batch: `Ok(true)` when the row was live and
    /// held `expected`, and now holds `data`.
    pub(super) async fn update_if(
        &self,
        key: &str,
        data: &str,
        expires_at: OffsetDateTime,
        expected: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (done, outcome) = oneshot::channel();
        let job = Job {
            key: key.to_owned(),
            data: data.to_owned(),
            expires_at,
            expected: expected.to_vec(),
            now,
            done,
        };
        let gone = || StoreError::Unavailable(Box::new(BatcherGone));
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Unavailable(Box::new(QueueFull)),
            mpsc::error::TrySendError::Closed(_) => gone(),
        })?;
        outcome.await.unwrap_or_else(|_| {
            tracing::error!(error = %BatcherGone, "session save not run");
            Err(gone())
        })
    }
}

async fn run<F: Flush>(flush: Arc<F>, mut queue: mpsc::Receiver<Job>, in_flight: usize) {
    let slots = Arc::new(Semaphore::new(in_flight));
    // Jobs held back from the previous batch (a second save of a session).
    let mut waiting: Vec<Job> = Vec::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Taken only once a slot is free: whatever queued meanwhile joins.
        let mut jobs = std::mem::take(&mut waiting);
        if jobs.is_empty() && queue.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            return;
        }
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (batch, held) = one_per_key(jobs, MAX_BATCH, MAX_BATCH_BYTES);
        waiting = held;
        let flush = flush.clone();
        tokio::spawn(async move {
            run_batch(flush.as_ref(), batch).await;
            drop(slot);
        });
    }
}

/// Splits `jobs` into a batch with each session key at most once, at most
/// `max` jobs and `max_bytes` of session data (but at least one job), and
/// the rest, in their order.
fn one_per_key(jobs: Vec<Job>, max: usize, max_bytes: usize) -> (Vec<Job>, Vec<Job>) {
    let mut keys = HashSet::with_capacity(jobs.len());
    let mut batch = Vec::with_capacity(jobs.len().min(max));
    let mut bytes = 0;
    let mut held = Vec::new();
    for job in jobs {
        let size = job.data.len() + job.expected.len();
        let fits = batch.is_empty() || (batch.len() < max && bytes + size <= max_bytes);
        if fits && !keys.contains(job.key.as_str()) {
            keys.insert(job.key.clone());
            bytes += size;
            batch.push(job);
        } else {
            held.push(job);
        }
    }
    (batch, held)
}

async fn run_batch(flush: &impl Flush, batch: Vec<Job>) {
    if batch.len() > 1 {
        match flush.together(&batch).await {
            Ok(written) => {
                for (job, written) in batch.into_iter().zip(written) {
                    let _ = job.done.send(Ok(written));
                }
                return;
            }
            Err(BatchError::NotWritten(e)) => {
                tracing::debug!(error = %e, saves = batch.len(), "session save batch not written; saving one by one");
            }
            Err(BatchError::Unknown(e)) => {
                tracing::warn!(error = %e, saves = batch.len(), "session save batch sent, reply lost: outcome unknown");
                let e = Arc::new(e);
                for job in batch {
                    let unknown = OutcomeUnknown(e.clone());
                    let _ = job
                        .done
                        .send(Err(StoreError::Unavailable(Box::new(unknown))));
                }
                return;
            }
        }
    }
    for job in batch {
        let outcome = flush.single(&job).await;
        let _ = job.done.send(outcome);
    }
}

/// The error of a save that was (or may have been) sent. The server's own
/// refusal, or no connection at all, is what it is; anything else (an I/O or
/// protocol failure mid-statement) leaves the outcome unknown: unavailable,
/// and not to be retried by the store.
pub(super) fn after_sent(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => from_sqlx(error),
        e if refused_by_server(&e) => from_sqlx(e),
        other => StoreError::Unavailable(Box::new(OutcomeUnknown(Arc::new(other)))),
    }
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
            expected: Vec::new(),
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
        let (batch, held) = one_per_key(jobs, MAX_BATCH, MAX_BATCH_BYTES);
        assert_eq!(keys(&batch), ["a", "b", "c"]);
        assert_eq!(keys(&held), ["a", "b", "a"]);
        let (batch, held) = one_per_key(held, MAX_BATCH, MAX_BATCH_BYTES);
        assert_eq!(keys(&batch), ["a", "b"]);
        assert_eq!(keys(&held), ["a"]);
    }

    #[test]
    fn a_batch_holds_at_most_max_jobs() {
        let jobs = ["a", "b", "c", "d"].map(job).into();
        let (batch, held) = one_per_key(jobs, 3, MAX_BATCH_BYTES);
        assert_eq!(keys(&batch), ["a", "b", "c"]);
        assert_eq!(keys(&held), ["d"]);
    }

    #[test]
    fn a_batch_holds_at_most_max_bytes_but_never_nothing() {
        let sized = |key: &str, len: usize| Job {
            data: "x".repeat(len),
            ..job(key)
        };
        let jobs = vec![
            sized("a", 600),
            sized("b", 600),
            sized("c", 300),
            sized("d", 200),
        ];
        let (batch, held) = one_per_key(jobs, MAX_BATCH, 1000);
        assert_eq!(keys(&batch), ["a", "c"]);
        assert_eq!(keys(&held), ["b", "d"]);
        let (batch, held) = one_per_key(vec![sized("big", 5000), sized("e", 1)], MAX_BATCH, 1000);
        assert_eq!(keys(&batch), ["big"]);
        assert_eq!(keys(&held), ["e"]);
    }
}

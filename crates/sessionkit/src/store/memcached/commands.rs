//! The memcached commands the engine uses, typed, each within one deadline.
//!
//! They are meta commands (memcached 1.6+), the text protocol's successors
//! to `gets`/`cas`/`add`/`delete`: `mg <key> v c t` reads the value, its CAS
//! unique and its TTL in one reply; `ms … C<unique> c` is a `cas` that also
//! returns the new unique, which saves the follow-up `gets` a plain `cas`
//! would need; `ms … ME` is `add` and `ms … MS` a plain `set`;
//! `md … C<unique>` deletes only an unchanged entry.

use std::future::Future;
use std::time::Duration;

use async_memcached::{Error, MetaProtocol, MetaValue, Status};

use super::error::{is_too_large, is_transport, to_store_error, CasDisabled, TimedOut, Unexpected};
use super::pool::Pool;
use crate::error::StoreError;

/// An entry as `mg` returned it.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) value: Vec<u8>,
    /// Never 0: an entry without a unique is refused ([`CasDisabled`]).
    pub(super) cas: u64,
    /// Seconds left, `-1` for none.
    pub(super) ttl: Option<i64>,
}

/// How `ms` may write.
#[derive(Clone, Copy, Debug)]
pub(super) enum Mode {
    /// Only if the key is free (`add`).
    Add,
    /// Only if the entry still has this CAS unique (`cas`).
    Cas(u64),
    /// Whatever the key holds (`set`).
    Set,
}

/// What a conditional write or delete did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// Written (with the entry's new CAS unique, 0 for a delete) or deleted.
    Done { cas: u64 },
    /// The entry changed since that unique was read.
    Exists,
    /// No such entry.
    NotFound,
    /// `add` found the key taken.
    NotStored,
    /// The server's item size limit refused the value.
    TooLarge,
}

/// The server behind a store: its connection pool and the deadline of one
/// command.
pub(super) struct Server {
    pub(super) pool: Pool,
    pub(super) timeout: Duration,
}

impl Server {
    /// `mg <key> v c t`.
    pub(super) async fn get(&self, key: &str) -> Result<Option<Item>, StoreError> {
        self.within(async {
            let mut retried = false;
            loop {
                let mut lent = self.pool.get().await?;
                let reused = lent.reused;
                let reply = lent
                    .client
                    .meta_get(key, false, None, Some(&["v", "c", "t"]))
                    .await;
                self.pool.put_back(lent);
                match reply {
                    Ok(found) => return found.map(item).transpose(),
                    Err(e) if self.again(&e, reused, true, &mut retried) => {}
                    Err(e) => return Err(self.failed(e)),
                }
            }
        })
        .await
    }

    /// `ms <key> <len> T<exptime> (ME | C<unique>) c`.
    pub(super) async fn set(
        &self,
        key: &str,
        value: &[u8],
        exptime: i64,
        mode: Mode,
    ) -> Result<Reply, StoreError> {
        let ttl = format!("T{exptime}");
        let condition = match mode {
            Mode::Add => "ME".to_owned(),
            Mode::Cas(cas) => format!("C{cas}"),
            Mode::Set => "MS".to_owned(),
        };
        let flags = [ttl.as_str(), condition.as_str(), "c"];
        // An `add` applied before its reply was lost fails its retry with
        // NS: the caller then draws another key, and the first entry just
        // expires. A repeated `set` writes the same bytes again. A repeated
        // `cas` could apply one change twice.
        let repeatable = matches!(mode, Mode::Add | Mode::Set);
        self.within(async {
            let mut retried = false;
            loop {
                let mut lent = self.pool.get().await?;
                let reused = lent.reused;
                let reply = lent
                    .client
                    .meta_set(key, value, false, None, Some(&flags))
                    .await;
                self.pool.put_back(lent);
                return match reply {
                    Ok(Some(meta)) => from_status("ms", meta.status, meta.cas),
                    // Only a reply without the `c` we asked for has no flags.
                    Ok(None) => Ok(Reply::Done { cas: 0 }),
                    Err(e) if is_too_large(&e) => Ok(Reply::TooLarge),
                    Err(Error::Protocol(status)) if is_outcome(&status) => {
                        from_status("ms", Some(status), None)
                    }
                    Err(e) if self.again(&e, reused, repeatable, &mut retried) => continue,
                    Err(e) => Err(self.failed(e)),
                };
            }
        })
        .await
    }

    /// `md <key> [C<unique>]`.
    pub(super) async fn delete(&self, key: &str, cas: Option<u64>) -> Result<Reply, StoreError> {
        let condition = cas.map(|cas| format!("C{cas}"));
        let flags: Vec<&str> = condition.iter().map(String::as_str).collect();
        // Deleting twice is deleting; a conditional delete is not repeatable.
        let repeatable = cas.is_none();
        self.within(async {
            let mut retried = false;
            loop {
                let mut lent = self.pool.get().await?;
                let reused = lent.reused;
                let reply = lent
                    .client
                    .meta_delete(key, false, None, Some(&flags))
                    .await;
                self.pool.put_back(lent);
                return match reply {
                    Ok(None) => Ok(Reply::Done { cas: 0 }),
                    Ok(Some(meta)) => from_status("md", meta.status, Some(0)),
                    Err(Error::Protocol(status)) if is_outcome(&status) => {
                        from_status("md", Some(status), Some(0))
                    }
                    Err(e) if self.again(&e, reused, repeatable, &mut retried) => continue,
                    Err(e) => Err(self.failed(e)),
                };
            }
        })
        .await
    }

    /// The server's version, or `None` when it does not say (some proxies).
    pub(super) async fn version(&self) -> Result<Option<String>, StoreError> {
        self.within(async {
            let mut lent = self.pool.get().await?;
            let reply = lent.client.version().await;
            self.pool.put_back(lent);
            match reply {
                Ok(v) => Ok(Some(v.trim().to_owned())),
                Err(e) if is_transport(&e) => Err(self.failed(e)),
                Err(_) => Ok(None),
            }
        })
        .await
    }

    /// Runs `op` within the deadline. When it runs out the command's future
    /// is dropped mid-flight, which closes its connection (see [`Pool::put_back`]).
    async fn within<T>(
        &self,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(Box::new(TimedOut(self.timeout)))),
        }
    }

    /// Whether a failed command goes once more, on a fresh connection: only
    /// when it broke on a connection taken from the idle list (idle
    /// connections die quietly when the server restarts) and repeating it is
    /// harmless. The other idle connections are dropped as well.
    fn again(&self, error: &Error, reused: bool, repeatable: bool, retried: &mut bool) -> bool {
        if !is_transport(error) || !reused || !repeatable || *retried {
            return false;
        }
        self.pool.drop_idle();
        *retried = true;
        true
    }

    fn failed(&self, error: Error) -> StoreError {
        if is_transport(&error) {
            self.pool.drop_idle();
        }
        to_store_error(error)
    }
}

fn item(meta: MetaValue) -> Result<Item, StoreError> {
    let cas = meta.cas.unwrap_or(0);
    if cas == 0 {
        return Err(StoreError::Backend(Box::new(CasDisabled)));
    }
    Ok(Item {
        value: meta.data.unwrap_or_default(),
        cas,
        ttl: meta.ttl_remaining,
    })
}

/// Statuses the crate reports as errors that are outcomes to us.
fn is_outcome(status: &Status) -> bool {
    matches!(
        status,
        Status::Exists | Status::NotFound | Status::NotStored
    )
}

fn from_status(
    command: &'static str,
    status: Option<Status>,
    cas: Option<u64>,
) -> Result<Reply, StoreError> {
    match status {
        Some(Status::Stored | Status::Deleted) | None => Ok(Reply::Done {
            cas: cas.unwrap_or(0),
        }),
        Some(Status::Exists) => Ok(Reply::Exists),
        Some(Status::NotFound) => Ok(Reply::NotFound),
        Some(Status::NotStored) => Ok(Reply::NotStored),
        Some(other) => Err(StoreError::Backend(Box::new(Unexpected {
            command,
            reply: other.to_string(),
        }))),
    }
}

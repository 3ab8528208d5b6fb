//! A small pool of memcached connections.
//!
//! `async_memcached::Client` is one connection that never reconnects: after a
//! broken or cancelled command it stays closed for good. The pool hands out
//! one client per command, takes it back only if it is still open, and opens
//! a new one when none is idle, which is how the store recovers by itself
//! once the server is back.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_memcached::{Client, Error};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::{to_store_error, TimedOut};
use crate::error::StoreError;

/// A future that opens one connection.
pub(super) type ConnectFuture =
    Pin<Box<dyn Future<Output = Result<Client, Error>> + Send + 'static>>;

/// Opens connections for the pool.
pub(super) type Connect = Arc<dyn Fn() -> ConnectFuture + Send + Sync + 'static>;

pub(super) struct Pool {
    connect: Connect,
    /// Open clients not in use. A std mutex: it is never held across an await.
    idle: Mutex<Vec<Client>>,
    /// One permit per connection that may be in use at once.
    slots: Semaphore,
    max_connections: usize,
    connect_timeout: Duration,
}

/// A client lent out by the pool for one command. Handed back with
/// [`Pool::put_back`]; dropped instead (a cancelled command), its connection
/// closes.
pub(super) struct Lent<'a> {
    pub(super) client: Client,
    /// Taken from the idle list rather than freshly opened: it may have died
    /// while idle (a server restart), so a read may retry on a fresh one.
    pub(super) reused: bool,
    _slot: SemaphorePermit<'a>,
}

impl Pool {
    pub(super) fn new(connect: Connect, max_connections: usize, connect_timeout: Duration) -> Self {
        let max_connections = max_connections.max(1);
        Self {
            connect,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(max_connections),
            max_connections,
            connect_timeout,
        }
    }

    /// Opens a connection now, so a wrong address or a server that is down
    /// shows at start-up; it then waits in the pool.
    pub(super) async fn open_one(&self) -> Result<Lent<'_>, StoreError> {
        let slot = self.slot().await?;
        let client = self.connect().await?;
        Ok(self.lend(client, false, slot))
    }

    /// An idle client, or a new connection when none is idle.
    pub(super) async fn get(&self) -> Result<Lent<'_>, StoreError> {
        let slot = self.slot().await?;
        let idle = {
            let mut idle = self.idle();
            std::iter::from_fn(|| idle.pop()).find(|c| !c.is_closed())
        };
        match idle {
            Some(client) => Ok(self.lend(client, true, slot)),
            None => {
                let client = self.connect().await?;
                Ok(self.lend(client, false, slot))
            }
        }
    }

    /// Forgets every idle client. Called when one turned out dead: the others
    /// were most likely cut by the same outage, and each would fail a request.
    pub(super) fn drop_idle(&self) {
        self.idle().clear();
    }

    /// Takes a client back, unless its connection closed: a command cut
    /// short or broken leaves it closed, and it must never carry another.
    pub(super) fn put_back(&self, lent: Lent<'_>) {
        if !lent.client.is_closed() {
            self.idle().push(lent.client);
        }
    }

    pub(super) fn max_connections(&self) -> usize {
        self.max_connections
    }

    async fn slot(&self) -> Result<SemaphorePermit<'_>, StoreError> {
        // The semaphore is never closed; map the impossible case anyway.
        self.slots
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))
    }

    async fn connect(&self) -> Result<Client, StoreError> {
        match tokio::time::timeout(self.connect_timeout, (self.connect)()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(to_store_error(e)),
            Err(_) => Err(StoreError::Unavailable(Box::new(TimedOut(
                self.connect_timeout,
            )))),
        }
    }

    fn lend<'a>(&'a self, client: Client, reused: bool, slot: SemaphorePermit<'a>) -> Lent<'a> {
        Lent {
            client,
            reused,
            _slot: slot,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Client>> {
        // A panic elsewhere while holding the lock leaves a plain Vec behind,
        // still valid.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

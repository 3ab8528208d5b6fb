//! The connection a [`RedisStore`](super::RedisStore) talks through: one
//! server behind a reconnecting [`ConnectionManager`], or a Redis Cluster.
//!
//! Both are multiplexed, cheap to clone, and reconnect by themselves, so a
//! service recovers from a Redis outage without a restart. The timeouts and
//! retries are short on purpose: while Redis is down a request should fail
//! within seconds (a 503 the client can retry), not hang on a backoff.
//!
//! A [`ConnectionManager`] never sends a request twice: a request caught by a
//! broken connection fails, and the manager reconnects for the next one. A
//! cluster connection does re-send (after a broken connection, a timeout or
//! a redirect, up to its retry count), which redirects during resharding
//! need; a request whose first copy already ran is then safe because every
//! script is (see "Re-sent requests" in the module docs of the store).

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, Cmd, RedisResult, Value};

use super::error::{from_config, from_redis};
use super::url;
use crate::error::StoreError;

/// How long one attempt to open a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command may wait for its reply. Every command we send is O(1).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Reconnect attempts after a lost connection before the waiting commands
/// fail; the next command starts a new round.
const RECONNECT_RETRIES: usize = 2;
/// Backoff between reconnect attempts (jittered, doubling, capped).
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);
/// Redirect and reconnect retries of one cluster request (the client's
/// default is 16 with waits of over a second each).
const CLUSTER_RETRIES: u32 = 3;
const CLUSTER_MIN_RETRY_WAIT_MS: u64 = 50;
const CLUSTER_MAX_RETRY_WAIT_MS: u64 = 1_000;

#[derive(Clone)]
pub(crate) enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A connection the caller made, for
/// [`RedisStore::from_connection`](super::RedisStore::from_connection): a
/// [`ConnectionManager`] (one server) or a [`ClusterConnection`], converted
/// by `From`.
pub struct RedisConnection(pub(super) Conn);

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> Self {
        Self(Conn::Node(manager))
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(connection: ClusterConnection) -> Self {
        Self(Conn::Cluster(connection))
    }
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedisConnection")
            .field(&self.0.mode())
            .finish()
    }
}

impl Conn {
    /// Connects to the single server at `url` (`redis://`, `unix://`, …),
    /// waiting for the first connection.
    pub(super) async fn node(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(|e| from_config(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(RECONNECT_MIN_DELAY)
            .set_max_delay(RECONNECT_MAX_DELAY);
        ConnectionManager::new_with_config(client, config)
            .await
            .map(Self::Node)
            .map_err(from_redis)
    }

    /// Connects to the cluster whose seed nodes a `redis+cluster://` URL
    /// lists, waiting until its slots are known.
    pub(super) async fn cluster(url: &str) -> Result<Self, StoreError> {
        let nodes = url::cluster_nodes(url)?;
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(CLUSTER_RETRIES)
            .min_retry_wait(CLUSTER_MIN_RETRY_WAIT_MS)
            .max_retry_wait(CLUSTER_MAX_RETRY_WAIT_MS)
            .build()
            .map_err(|e| from_config(&e))?;
        client
            .get_async_connection()
            .await
            .map(Self::Cluster)
            .map_err(from_redis)
    }

    /// "node" or "cluster", for `Debug` and logs.
    pub(crate) fn mode(&self) -> &'static str {
        match self {
            Self::Node(_) => "node",
            Self::Cluster(_) => "cluster",
        }
    }

    /// Sends one command and returns its reply; a server error reply is an
    /// `Err`.
    pub(crate) async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        // Clones share the underlying connection: this only copies a handle.
        match self {
            Self::Node(c) => cmd.query_async(&mut c.clone()).await,
            Self::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }
}

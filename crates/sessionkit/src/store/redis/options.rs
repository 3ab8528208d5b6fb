//! The settings of a [`RedisStore`]: one builder, ending in the way the
//! store reaches Redis (a URL, or a connection the caller made).

use std::sync::Arc;

use super::conn::{Conn, RedisConnection};
use super::RedisStore;
use crate::error::StoreError;
use crate::store::engine::SigningKeys;

/// Settings of a [`RedisStore`] (`RedisStore::open(url)` is
/// `RedisOptions::new().open(url)`).
///
/// ```no_run
/// # async fn demo() -> Result<(), sessionkit::error::StoreError> {
/// use sessionkit::store::redis::RedisOptions;
///
/// let store = RedisOptions::new().prefix("myapp:").open("redis://127.0.0.1:6379/0").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct RedisOptions {
    prefix: String,
}

impl RedisOptions {
    /// No key prefix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `prefix` in front of every key (e.g. `myapp:`), so several apps
    /// or environments can share one Redis. Checked when the store is built:
    /// on a cluster it must not hold a hash tag (`{…}`), which would send
    /// every session to one slot.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Connects to `url`, a single server or a cluster, and waits for the
    /// connection.
    ///
    /// URL forms are the redis crate's, plus cluster seed lists:
    /// - `redis://[user][:password@]host[:port][/db]`,
    ///   `unix:///path/to/redis.sock[?db=N]` (`?protocol=resp3` on either);
    /// - `redis+cluster://[user:password@]host:port,host:port,…` (optional
    ///   `/?protocol=resp3`): the credentials and query apply to every node,
    ///   and the nodes the cluster reports are found by themselves.
    ///
    /// `rediss://` needs a TLS feature of the redis crate that sessionkit
    /// does not enable, so it is refused (build a TLS connection yourself and
    /// use [`from_connection`](Self::from_connection)). Connecting times out
    /// after 2 s, replies after 3 s; a lost connection is re-opened in the
    /// background, so a request made while the server is down fails within
    /// seconds ([`StoreError::Unavailable`]) and the next ones succeed once
    /// it is back.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a URL the client cannot use or a prefix
    /// that does not fit (never quoting the URL, which may hold a password);
    /// [`StoreError::Unavailable`] when no server can be reached.
    pub async fn open(self, url: &str) -> Result<RedisStore, StoreError> {
        let cluster = super::url::is_cluster(url);
        check_prefix(&self.prefix, cluster)?;
        let conn = if cluster {
            Conn::cluster(url).await?
        } else {
            Conn::node(url).await?
        };
        Ok(self.build(conn))
    }

    /// Uses a connection the caller built (its own client, TLS, timeouts and
    /// retry settings): a [`ConnectionManager`](::redis::aio::ConnectionManager)
    /// or a [`ClusterConnection`](::redis::cluster_async::ClusterConnection).
    ///
    /// # Errors
    /// [`StoreError::Config`] for a prefix that does not fit the connection.
    pub fn from_connection(
        self,
        connection: impl Into<RedisConnection>,
    ) -> Result<RedisStore, StoreError> {
        let conn = connection.into().0;
        check_prefix(&self.prefix, matches!(conn, Conn::Cluster(_)))?;
        Ok(self.build(conn))
    }

    fn build(self, conn: Conn) -> RedisStore {
        RedisStore {
            conn,
            keys: Arc::new(SigningKeys::default()),
            prefix: Arc::from(self.prefix),
        }
    }
}

/// Refuses a prefix that holds a hash tag on a cluster: Redis would hash
/// only the tag, and every session would go to one slot (one node). A
/// session key and Django's key space hold no `}`, so only the prefix can
/// form one.
fn check_prefix(prefix: &str, cluster: bool) -> Result<(), StoreError> {
    if cluster && has_hash_tag(prefix) {
        return Err(StoreError::Config(
            "a Redis Cluster key prefix must not hold a hash tag ({…}): every session \
             would go to one slot"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Redis Cluster's rule: the first `{` and the first `}` after it, with at
/// least one byte between them.
fn has_hash_tag(prefix: &str) -> bool {
    prefix
        .split_once('{')
        .and_then(|(_, after)| after.find('}'))
        .is_some_and(|len| len > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_are_refused_on_a_cluster_only() {
        for tagged in ["{app}:", "a{b}c", "x{y}{}", "{{}"] {
            assert!(has_hash_tag(tagged), "{tagged}");
            assert!(matches!(
                check_prefix(tagged, true),
                Err(StoreError::Config(_))
            ));
            assert!(check_prefix(tagged, false).is_ok(), "{tagged}");
        }
        for plain in ["", "myapp:", "{}app:", "{open", "close}", "}{"] {
            assert!(!has_hash_tag(plain), "{plain}");
            assert!(check_prefix(plain, true).is_ok(), "{plain}");
        }
    }
}

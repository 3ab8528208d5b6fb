//! The settings of a [`MemcachedStore`]: key prefix, connection pool,
//! timeouts and item limit, in one builder ending in the way the store
//! reaches the server (a URL, or the caller's connector); with the URL and
//! key prefix rules.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::pool::ConnectFuture;
use super::MemcachedStore;
use crate::error::StoreError;
use crate::store::cache_entry::DJANGO_CACHE_KEY_PREFIX;

/// Memcached's limit on key length.
pub(super) const MAX_KEY_BYTES: usize = 250;

/// The longest session key a store accepts ([`crate::key::is_valid_key`]).
pub(super) const MAX_SESSION_KEY_BYTES: usize = 40;

/// The longest prefix that still leaves room for the key space and any
/// accepted session key within memcached's 250 bytes.
pub const MAX_PREFIX_BYTES: usize =
    MAX_KEY_BYTES - DJANGO_CACHE_KEY_PREFIX.len() - MAX_SESSION_KEY_BYTES;

const DEFAULT_PORT: u16 = 11211;

/// The item size limit memcached starts with (`-I 1m`).
const DEFAULT_ITEM_LIMIT: usize = 1024 * 1024;

/// Settings of a [`MemcachedStore`] (`MemcachedStore::open(url)` is
/// `MemcachedOptions::new().open(url)`).
///
/// ```no_run
/// # async fn demo() -> Result<(), sessionkit::error::StoreError> {
/// use sessionkit::store::memcached::MemcachedOptions;
///
/// let store = MemcachedOptions::new()
///     .prefix("myapp:")
///     .max_connections(32)
///     .open("memcache://127.0.0.1:11211")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct MemcachedOptions {
    pub(super) prefix: String,
    pub(super) max_connections: usize,
    pub(super) connect_timeout: Duration,
    pub(super) timeout: Duration,
    pub(super) item_limit: usize,
}

impl MemcachedOptions {
    /// No key prefix, up to 16 connections, 1 s to connect, 2 s for a whole
    /// operation (waiting for a connection included), memcached's default
    /// item limit (1 MiB).
    pub fn new() -> Self {
        Self {
            prefix: String::new(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            item_limit: DEFAULT_ITEM_LIMIT,
        }
    }

    /// Puts `prefix` before every key (empty by default), so several apps
    /// can share one server. Checked when the store is built: at most
    /// [`MAX_PREFIX_BYTES`] bytes of printable ASCII without spaces, so it
    /// can never break a memcached key.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The server's item size limit (its `-I`, 1 MiB unless set), which a
    /// [`StoreError::TooLarge`] reports. The server decides what it refuses.
    #[must_use]
    pub fn item_limit(mut self, bytes: usize) -> Self {
        self.item_limit = bytes;
        self
    }

    /// How many connections may be open at once (at least 1). Operations
    /// beyond that wait for a free one, within [`timeout`](Self::timeout).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long opening a connection may take before the store reports
    /// itself unavailable.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one operation may take in all, before the store reports
    /// itself unavailable. The connection it was using is dropped, never reused.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects to `memcache://host[:port]` (port 11211 by default) and
    /// checks that the server is reachable and recent enough.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a bad URL or prefix, or a memcached older
    /// than 1.6; [`StoreError::Unavailable`] when the server is not reached.
    pub async fn open(self, url: &str) -> Result<MemcachedStore, StoreError> {
        check_prefix(&self.prefix)?;
        let addr = parse_url(url)?;
        let dsn = format!("tcp://{addr}");
        let connect = move || -> ConnectFuture {
            let dsn = dsn.clone();
            Box::pin(async move { async_memcached::Client::new(dsn).await })
        };
        MemcachedStore::start(Arc::new(connect), self, Some(addr)).await
    }

    /// Opens connections with `connect` instead of a URL: a Unix socket
    /// (`async_memcached::Client::new("unix:///path")`), or a client set up
    /// some other way. It is called for every new connection of the pool,
    /// including the reconnections after an outage, so it must make a new
    /// client each time (a closed `async_memcached::Client` never reopens).
    ///
    /// # Errors
    /// As [`open`](Self::open), but for the URL.
    pub async fn from_connector<F, Fut>(self, connect: F) -> Result<MemcachedStore, StoreError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<async_memcached::Client, async_memcached::Error>>
            + Send
            + 'static,
    {
        check_prefix(&self.prefix)?;
        let connect = move || -> ConnectFuture { Box::pin(connect()) };
        MemcachedStore::start(Arc::new(connect), self, None).await
    }
}

impl Default for MemcachedOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The `host:port` of a `memcache://host[:port]` URL (port 11211 by
/// default). Credentials, paths and queries are refused: memcached's text
/// protocol has no authentication, and nothing else would be read.
fn parse_url(url: &str) -> Result<String, StoreError> {
    let bad = || {
        StoreError::Config(
            "memcached URL must look like memcache://host[:port] (no user, path or query)".into(),
        )
    };
    let rest = url.strip_prefix("memcache://").ok_or_else(bad)?;
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    if host_port.is_empty()
        || host_port
            .bytes()
            .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@') || !b.is_ascii_graphic())
    {
        return Err(bad());
    }
    let has_port = match host_port.rsplit_once(':') {
        // A bracketed IPv6 address has colons of its own.
        Some((host, port)) if !port.ends_with(']') => {
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad());
            }
            true
        }
        _ => false,
    };
    Ok(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{DEFAULT_PORT}")
    })
}

/// Checks a key prefix: printable ASCII without spaces (memcached keys are
/// space-delimited tokens), at most [`MAX_PREFIX_BYTES`].
fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(StoreError::Config(format!(
            "memcached key prefix is {} bytes; at most {MAX_PREFIX_BYTES} fit memcached's 250-byte keys",
            prefix.len()
        )));
    }
    if !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::Config(
            "memcached key prefix may only hold printable ASCII without spaces".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for (url, addr) in [
            ("memcache://127.0.0.1:11211", "127.0.0.1:11211"),
            ("memcache://127.0.0.1:11311/", "127.0.0.1:11311"),
            ("memcache://cache.internal", "cache.internal:11211"),
            ("memcache://[::1]:11212", "[::1]:11212"),
            ("memcache://[::1]", "[::1]:11211"),
        ] {
            assert_eq!(parse_url(url).ok().as_deref(), Some(addr), "{url}");
        }
        for url in [
            "",
            "memcache://",
            "127.0.0.1:11211",
            "redis://127.0.0.1:6379",
            "memcache://user:secret@127.0.0.1:11211",
            "memcache://127.0.0.1:11211/0",
            "memcache://127.0.0.1:11211?timeout=1",
            "memcache://127.0.0.1:notaport",
            "memcache://127.0.0.1:99999",
            "memcache://:11211",
            "memcache://host name:11211",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn bad_urls_do_not_echo_credentials() {
        let err = parse_url("memcache://user:hunter2@host:1/x").err();
        let shown = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(MAX_PREFIX_BYTES, 181);
        for ok in ["", ":1:", "myapp.sessions.", &"p".repeat(MAX_PREFIX_BYTES)] {
            assert!(check_prefix(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "with space",
            "tab\there",
            "new\nline",
            "nul\0",
            "délai",
            &"p".repeat(MAX_PREFIX_BYTES + 1),
        ] {
            assert!(
                matches!(check_prefix(bad), Err(StoreError::Config(_))),
                "{bad:?}"
            );
        }
    }
}

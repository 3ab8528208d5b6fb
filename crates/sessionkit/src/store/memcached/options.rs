//! The knobs of a [`MemcachedStore`](super::MemcachedStore): connection pool
//! and timeouts, the server URL, and the key prefix rules.

use std::time::Duration;

use crate::error::StoreError;

/// Django's logical key for a cache session: the prefix is put before it.
pub(super) const KEY_SPACE: &str = "django.contrib.sessions.cache";

/// Memcached's limit on key length.
const MAX_KEY_BYTES: usize = 250;

/// The longest session key a store accepts ([`crate::key::is_valid_key`]).
const MAX_SESSION_KEY_BYTES: usize = 40;

/// The longest prefix that still leaves room for the key space and any
/// accepted session key within memcached's 250 bytes.
pub const MAX_PREFIX_BYTES: usize = MAX_KEY_BYTES - KEY_SPACE.len() - MAX_SESSION_KEY_BYTES;

const DEFAULT_PORT: u16 = 11211;

/// Options for a [`MemcachedStore`](super::MemcachedStore).
#[derive(Clone, Debug)]
pub struct MemcachedOptions {
    pub(super) max_connections: usize,
    pub(super) connect_timeout: Duration,
    pub(super) timeout: Duration,
}

impl MemcachedOptions {
    /// Up to 16 connections, 1 s to connect, 2 s for a whole operation
    /// (waiting for a connection included).
    pub fn new() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        }
    }

    /// How many connections may be open at once (at least 1). Operations
    /// beyond that wait for a free one, within [`timeout`](Self::timeout).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long opening a connection may take before the store reports
    /// itself unavailable.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one operation may take in all, before the store reports
    /// itself unavailable. The connection it was using is dropped, never reused.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
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
pub(super) fn parse_url(url: &str) -> Result<String, StoreError> {
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
pub(super) fn check_prefix(prefix: &str) -> Result<(), StoreError> {
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

//! The Memcached test rigs shared by the engine and `cached_db` tests: stores
//! on the test server (directly or through a proxy), and a raw client to
//! look at and plant entries behind the store's back.

use async_memcached::{AsciiProtocol, Client, MetaProtocol};
use sessionkit::store::memcached::{MemcachedCache, MemcachedOptions, MemcachedStore};
use time::OffsetDateTime;

use super::codec;
use super::proxy::Proxy;
use super::services::{host_port, memcached_url, unique};

/// A prefix no other test run uses.
pub(crate) fn prefix() -> String {
    format!("{}:", unique("sk"))
}

/// The memcached key of a session entry, as the module docs lay it out.
pub(crate) fn entry_key(prefix: &str, session_key: &str) -> String {
    format!("{prefix}django.contrib.sessions.cache{session_key}")
}

/// The memcached key of a `cached_db` cache entry.
pub(crate) fn cache_key(prefix: &str, session_key: &str) -> String {
    format!("{prefix}django.contrib.sessions.cached_db{session_key}")
}

/// A store on `url` under `prefix`, signing with the test secret.
pub(crate) async fn open(url: &str, prefix: &str) -> MemcachedStore {
    MemcachedOptions::new()
        .prefix(prefix)
        .open(url)
        .await
        .expect("connect to the test memcached")
        .with_codec(codec())
}

/// A store on the test server under `prefix` with no keys of its own: the
/// session layer it is given to hands it the test secret (`attach`).
pub(crate) async fn for_layer(prefix: &str) -> MemcachedStore {
    MemcachedOptions::new()
        .prefix(prefix)
        .open(&memcached_url())
        .await
        .expect("connect to the test memcached")
}

/// A store on the test server under `prefix`.
pub(crate) async fn store(prefix: &str) -> MemcachedStore {
    open(&memcached_url(), prefix).await
}

/// A store on the test server through `proxy`, under a prefix of its own.
pub(crate) async fn store_through(proxy: &Proxy) -> MemcachedStore {
    open(&format!("memcache://{}", proxy.addr()), &prefix()).await
}

/// A `cached_db` cache on `url` under `prefix`.
pub(crate) async fn cache(url: &str, prefix: &str) -> MemcachedCache {
    MemcachedCache::new(open(url, prefix).await).expect("a prefix that fits")
}

/// A plain client, to look at and plant entries behind the store's back.
pub(crate) async fn raw() -> Client {
    Client::new(format!("tcp://{}", host_port(&memcached_url())))
        .await
        .expect("raw memcached client")
}

/// The stored bytes and memcached's remaining TTL (-1: none), or `None`
/// when absent.
pub(crate) async fn peek(raw: &mut Client, key: &str) -> Option<(Vec<u8>, i64)> {
    let item = raw
        .meta_get(key, false, None, Some(&["v", "t"]))
        .await
        .expect("raw mg")?;
    Some((
        item.data.unwrap_or_default(),
        item.ttl_remaining.unwrap_or(0),
    ))
}

/// Writes `value` under `key` for ten minutes.
pub(crate) async fn plant(raw: &mut Client, key: &str, value: &[u8]) {
    raw.set(key, value, Some(600), None).await.expect("plant");
}

/// The real time cut to microseconds, as Django (and the store) keep it.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000)
        .unwrap_or(now)
}

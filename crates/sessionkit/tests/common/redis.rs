//! The Redis test rigs shared by the engine, cluster and `cached_db` tests:
//! stores on the test server or cluster (directly or through a proxy), raw
//! connections to look behind the store's back, clean-up of a test's keys,
//! and private servers a test may stop.

use std::time::Duration as StdDuration;

use ::redis::aio::{ConnectionLike, MultiplexedConnection};
use ::redis::{cmd, Cmd, Value};
use sessionkit::store::redis::{RedisCache, RedisOptions, RedisStore};
use tempfile::TempDir;

use super::codec;
use super::proxy::Proxy;
use super::services::{redis_cluster_url, redis_url};

/// One server or the 3-node test cluster.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    Node,
    Cluster,
}

impl Mode {
    /// The URL of the test server(s) of this mode.
    pub(crate) fn url(self) -> String {
        match self {
            Self::Node => redis_url(),
            Self::Cluster => redis_cluster_url(),
        }
    }

    /// What a skipped test names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Node => "Redis",
            Self::Cluster => "Redis Cluster",
        }
    }

    /// `host:port` of every server of the mode (the seed nodes of a cluster).
    pub(crate) fn nodes(self) -> Vec<String> {
        let url = self.url();
        let hosts = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let hosts = hosts.rsplit_once('@').map_or(hosts, |(_, h)| h);
        let hosts = hosts.split(['/', '?']).next().unwrap_or(hosts);
        hosts.split(',').map(str::to_owned).collect()
    }
}

/// The Redis key of a session entry, as the module docs lay it out.
pub(crate) fn entry_key(prefix: &str, session_key: &str) -> String {
    format!("{prefix}django.contrib.sessions.cache{session_key}")
}

/// The Redis key of a `cached_db` cache entry.
pub(crate) fn cache_key(prefix: &str, session_key: &str) -> String {
    format!("{prefix}django.contrib.sessions.cached_db{session_key}")
}

/// A store on `url` (one server or a cluster) under `prefix`, signing with
/// the test secret.
pub(crate) async fn open(url: &str, prefix: &str) -> RedisStore {
    RedisOptions::new()
        .prefix(prefix)
        .open(url)
        .await
        .expect("connect to the test Redis")
        .with_codec(codec())
}

/// A store on `url` under `prefix` with no keys of its own: the session
/// layer it is given to hands it the test secret (`attach`), as an app's would.
pub(crate) async fn for_layer(url: &str, prefix: &str) -> RedisStore {
    RedisOptions::new()
        .prefix(prefix)
        .open(url)
        .await
        .expect("connect to the test Redis")
}

/// A `cached_db` cache on `url` under `prefix`, signing with the test secret.
pub(crate) async fn cache(url: &str, prefix: &str) -> RedisCache {
    RedisCache::new(open(url, prefix).await)
}

/// A store on the test server with a prefix of its own.
pub(crate) async fn store(prefix: &str) -> RedisStore {
    open(&redis_url(), prefix).await
}

/// A store on the test cluster with a prefix of its own.
pub(crate) async fn cluster_store(prefix: &str) -> RedisStore {
    open(&redis_cluster_url(), prefix).await
}

/// A store on the test server through `proxy`.
pub(crate) async fn store_through(proxy: &Proxy, prefix: &str) -> RedisStore {
    open(&format!("redis://{}", proxy.addr()), prefix).await
}

/// A plain connection to one server (`host:port`).
pub(crate) async fn node(addr: &str) -> MultiplexedConnection {
    ::redis::Client::open(format!("redis://{addr}"))
        .expect("a node URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a raw connection to a test Redis")
}

/// A plain connection to the test server.
pub(crate) async fn raw() -> MultiplexedConnection {
    node(&super::services::host_port(&redis_url())).await
}

/// Sends one command to the server of `mode` holding its key.
pub(crate) async fn send(mode: Mode, command: &Cmd) -> Value {
    async fn send(conn: &mut impl ConnectionLike, command: &Cmd) -> Value {
        command
            .query_async(conn)
            .await
            .expect("a raw Redis command")
    }
    match mode {
        Mode::Node => send(&mut raw().await, command).await,
        Mode::Cluster => {
            let nodes: Vec<String> = mode
                .nodes()
                .iter()
                .map(|n| format!("redis://{n}"))
                .collect();
            let client = ::redis::cluster::ClusterClient::new(nodes).expect("the cluster nodes");
            let mut conn = client
                .get_async_connection()
                .await
                .expect("a raw cluster connection");
            send(&mut conn, command).await
        }
    }
}

/// The keys under `prefix` (a test prefix: no glob characters) that the
/// server `addr` holds.
pub(crate) async fn keys_on(addr: &str, prefix: &str) -> Vec<String> {
    let mut conn = node(addr).await;
    let mut found = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN the test's keys");
        found.extend(keys);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// The keys under `prefix` on the test server.
pub(crate) async fn keys_under(prefix: &str) -> Vec<String> {
    keys_on(&super::services::host_port(&redis_url()), prefix).await
}

/// Deletes every key under `prefix`, on every server of `mode`.
pub(crate) async fn purge_on(mode: Mode, prefix: &str) {
    for addr in mode.nodes() {
        let keys = keys_on(&addr, prefix).await;
        let mut conn = node(&addr).await;
        for k in keys {
            let _: i64 = cmd("DEL")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .expect("delete a test key");
        }
    }
}

/// Deletes every key under `prefix` on the test server.
pub(crate) async fn purge(prefix: &str) {
    purge_on(Mode::Node, prefix).await;
}

/// A loopback address nothing listens on.
pub(crate) async fn closed_port() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    listener.local_addr().expect("its address")
}

/// Starts a `redis-server` of the test alone on `port` with `extra`
/// arguments (killed when dropped); `None` (the test skips) when no
/// `redis-server` is installed.
fn spawn_server(port: u16, extra: &[&std::ffi::OsStr]) -> Option<tokio::process::Child> {
    let spawned = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(child) = spawned else {
        assert!(
            !super::services_required(),
            "redis-server is not installed and SESSIONKIT_REQUIRE_SERVICES=1"
        );
        eprintln!("SKIPPED: redis-server is not installed");
        return None;
    };
    Some(child)
}

/// A plain `redis-server` of the test alone on `port`, answering.
pub(crate) async fn private_server(port: u16) -> Option<tokio::process::Child> {
    let child = spawn_server(port, &[])?;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(child);
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("the private redis-server did not start on port {port}");
}

/// A `redis-server` of the test alone in cluster mode, owning every slot,
/// with its port and its directory.
pub(crate) async fn private_cluster() -> Option<(tokio::process::Child, u16, TempDir)> {
    let port = closed_port().await.port();
    let dir = TempDir::new().expect("temp dir");
    let extra = [
        "--cluster-enabled".as_ref(),
        "yes".as_ref(),
        "--dir".as_ref(),
        dir.path().as_os_str(),
    ];
    let child = spawn_server(port, &extra)?;
    let client = ::redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a URL");
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(c) = client.get_multiplexed_async_connection().await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let mut conn = conn.expect("the private cluster node did not start");
    let mut add = cmd("CLUSTER");
    add.arg("ADDSLOTS");
    for slot in 0..16384 {
        add.arg(slot);
    }
    let () = add.query_async(&mut conn).await.expect("CLUSTER ADDSLOTS");
    for _ in 0..100 {
        let info: String = cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .expect("CLUSTER INFO");
        if info.contains("cluster_state:ok") {
            return Some((child, port, dir));
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("the private cluster did not reach cluster_state:ok");
}

/// The real time cut to microseconds, as Django (and the store) keep it.
pub(crate) fn real_now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now - time::Duration::nanoseconds(i64::from(now.nanosecond() % 1_000))
}

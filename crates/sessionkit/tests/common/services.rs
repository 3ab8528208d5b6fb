//! Where the test servers are, and the rule for a missing one: skip with a
//! printed reason, except under `SESSIONKIT_REQUIRE_SERVICES=1`, where it fails.

use std::time::Duration;

/// `postgres://…` of the test database (`SESSIONKIT_POSTGRES_URL`).
pub(crate) fn postgres_url() -> String {
    std::env::var("SESSIONKIT_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `mysql://…` of the test database (`SESSIONKIT_MYSQL_URL`).
pub(crate) fn mysql_url() -> String {
    std::env::var("SESSIONKIT_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// `redis://…` of the single-node test server (`SESSIONKIT_REDIS_URL`).
pub(crate) fn redis_url() -> String {
    std::env::var("SESSIONKIT_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `redis+cluster://…` of the test cluster (`SESSIONKIT_REDIS_CLUSTER_URL`),
/// started by `.ci/services.sh`.
pub(crate) fn redis_cluster_url() -> String {
    std::env::var("SESSIONKIT_REDIS_CLUSTER_URL")
        .unwrap_or_else(|_| "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002".into())
}

/// `memcache://…` of the test server (`SESSIONKIT_MEMCACHED_URL`).
pub(crate) fn memcached_url() -> String {
    std::env::var("SESSIONKIT_MEMCACHED_URL")
        .unwrap_or_else(|_| "memcache://127.0.0.1:11211".into())
}

/// `host:port` of the first server in a URL (`scheme://[user@]host:port[,…][/…]`).
pub(crate) fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let first = rest.split([',', '/', '?']).next().unwrap_or(rest);
    first.to_owned()
}

/// Whether the server behind `url` answers a TCP connect. When it does not:
/// panics under `SESSIONKIT_REQUIRE_SERVICES=1`, else prints why the test is
/// skipped and returns `false`.
pub(crate) async fn available(name: &str, url: &str) -> bool {
    let addr = host_port(url);
    let ok = matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(&addr)
        )
        .await,
        Ok(Ok(_))
    );
    if !ok {
        assert!(
            !super::services_required(),
            "{name} at {addr} is unreachable and SESSIONKIT_REQUIRE_SERVICES=1 (start it with .ci/services.sh)"
        );
        eprintln!("SKIPPED: {name} at {addr} is unreachable (run .ci/services.sh, or set SESSIONKIT_REQUIRE_SERVICES=1 to fail instead)");
    }
    ok
}

/// A name no other test run uses, for tables, key prefixes and directories.
pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        sessionkit::key::generate_key().get(..12).unwrap_or("x")
    )
}

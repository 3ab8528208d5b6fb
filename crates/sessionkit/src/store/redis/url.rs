//! Redis Cluster URLs: `redis+cluster://[user:password@]host:port,host:port,…`,
//! split into one `redis://` URL per seed node for the redis client.

use crate::error::StoreError;

/// Schemes of a cluster URL, and the node scheme each one stands for.
const SCHEMES: [(&str, &str); 2] = [("redis+cluster", "redis"), ("rediss+cluster", "rediss")];

/// Whether `url` names a Redis Cluster rather than a single server.
pub(super) fn is_cluster(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(scheme, _)| SCHEMES.iter().any(|(s, _)| scheme.eq_ignore_ascii_case(s)))
}

/// The seed nodes of a cluster URL, each as a `redis://` URL carrying the
/// shared credentials, path and query. Errors never quote the URL: it may
/// hold a password.
pub(super) fn cluster_nodes(url: &str) -> Result<Vec<String>, StoreError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("it has no scheme (expected redis+cluster://host:port,…)"))?;
    let node_scheme = SCHEMES
        .iter()
        .find(|(s, _)| scheme.eq_ignore_ascii_case(s))
        .map(|(_, node)| *node)
        .ok_or_else(|| bad("its scheme is not redis+cluster:// or rediss+cluster://"))?;

    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // The last `@` ends the credentials: a password may hold an encoded `@`
    // but the host list never does.
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };

    let mut nodes = Vec::new();
    for host in hosts.split(',') {
        let host = host.trim();
        if host.is_empty() {
            return Err(bad("its node list has an empty entry"));
        }
        let credentials = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        nodes.push(format!("{node_scheme}://{credentials}{host}{tail}"));
    }
    Ok(nodes)
}

fn bad(why: &str) -> StoreError {
    StoreError::Config(format!("invalid Redis Cluster URL: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_seed_nodes() {
        let nodes = cluster_nodes("redis+cluster://127.0.0.1:7000,127.0.0.1:7001, h:7002");
        assert_eq!(
            nodes.ok(),
            Some(vec![
                "redis://127.0.0.1:7000".to_owned(),
                "redis://127.0.0.1:7001".to_owned(),
                "redis://h:7002".to_owned(),
            ])
        );
    }

    #[test]
    fn credentials_and_query_go_to_every_node() {
        let nodes = cluster_nodes("redis+cluster://u:p%40ss@a:1,[::1]:2/?protocol=resp3");
        assert_eq!(
            nodes.ok(),
            Some(vec![
                "redis://u:p%40ss@a:1/?protocol=resp3".to_owned(),
                "redis://u:p%40ss@[::1]:2/?protocol=resp3".to_owned(),
            ])
        );
        let tls = cluster_nodes("rediss+cluster://a:1");
        assert_eq!(tls.ok(), Some(vec!["rediss://a:1".to_owned()]));
    }

    #[test]
    fn bad_urls_are_config_errors_that_hide_the_url() {
        for url in [
            "redis://secret@a:1",
            "secret@a:1",
            "redis+cluster://secret@",
            "redis+cluster://secret@a:1,,b:2",
        ] {
            match cluster_nodes(url) {
                Err(StoreError::Config(message)) => {
                    assert!(!message.contains("secret"), "{message}");
                }
                other => panic!("{url:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn tells_cluster_urls_apart() {
        assert!(is_cluster("redis+cluster://a:1,b:2"));
        assert!(is_cluster("REDIS+CLUSTER://a:1"));
        assert!(is_cluster("rediss+cluster://a:1"));
        assert!(!is_cluster("redis://a:1"));
        assert!(!is_cluster("unix:///tmp/redis.sock"));
        assert!(!is_cluster("cluster"));
    }
}

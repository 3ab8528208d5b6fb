//! Redis errors sorted into [`StoreError`] by what the caller can do.

use ::redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::error::StoreError;

/// A Redis error, with the source kept.
///
/// Not reaching the data — connection refused, dropped or timed out, a
/// cluster that is down, failing over or still loading — is
/// [`StoreError::Unavailable`]: the same request may well succeed later, and
/// the connection reconnects by itself. Everything else (a wrong type under
/// the key, a rejected script, bad credentials) is [`StoreError::Backend`].
pub(crate) fn from_redis(error: RedisError) -> StoreError {
    if is_unavailable(&error) {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

fn is_unavailable(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::ClusterDown
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::BusyLoading
                        | ServerErrorKind::ReadOnly
                )
        )
}

/// Whether the key holds another type than a hash (`WRONGTYPE`): not an
/// entry any session store wrote.
pub(super) fn is_wrong_type(error: &RedisError) -> bool {
    error.code() == Some("WRONGTYPE")
}

/// A URL or client setting the redis client refused. Its messages name the
/// problem ("Invalid database number"), never the URL, which may hold a
/// password.
pub(super) fn from_config(error: &RedisError) -> StoreError {
    StoreError::Config(format!("invalid Redis URL or client settings: {error}"))
}

/// A reply of a shape our commands and scripts never produce: something else
/// answered, or the key holds a value that is not ours.
#[derive(Debug, thiserror::Error)]
#[error("unexpected reply from Redis to {command}")]
pub(super) struct UnexpectedReply {
    pub(super) command: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaching_the_server_is_unavailable() {
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(from_redis(io), StoreError::Unavailable(_)));
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(matches!(from_redis(timeout), StoreError::Unavailable(_)));
        let down = RedisError::from((ErrorKind::Io, "Failed to create initial connections"));
        assert!(matches!(from_redis(down), StoreError::Unavailable(_)));
    }

    #[test]
    fn other_failures_are_backend_errors() {
        let typed = RedisError::from((ErrorKind::UnexpectedReturnType, "not a string"));
        assert!(matches!(from_redis(typed), StoreError::Backend(_)));
        let auth = RedisError::from((ErrorKind::AuthenticationFailed, "denied"));
        assert!(matches!(from_redis(auth), StoreError::Backend(_)));
    }
}

//! Memcached failures sorted into [`StoreError`] by what the caller can do.

use std::time::Duration;

use async_memcached::{Error, ErrorKind, Status};

use crate::error::StoreError;

/// Whether an error means the server could not be reached or the connection
/// broke (`Unavailable`: retry later, and do not reuse the connection), as
/// opposed to an answer we did not expect (`Backend`).
pub(super) fn is_transport(error: &Error) -> bool {
    matches!(
        error,
        Error::Connect(_) | Error::Io(_) | Error::ConnectionClosed
    )
}

/// The error a store method returns, the source kept.
pub(super) fn to_store_error(error: Error) -> StoreError {
    if is_transport(&error) {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

/// Whether the server refused a value for its size (`SERVER_ERROR object too
/// large for cache`; the limit is memcached's `-I`, 1 MiB by default).
pub(super) fn is_too_large(error: &Error) -> bool {
    matches!(
        error,
        Error::Protocol(Status::Error(ErrorKind::Server(message))) if message.contains("too large")
    )
}

/// An operation did not finish in time; its connection was dropped.
#[derive(Debug, thiserror::Error)]
#[error("memcached did not answer within {0:?}")]
pub(super) struct TimedOut(pub(super) Duration);

/// The server answered a command with a reply that command cannot have.
#[derive(Debug, thiserror::Error)]
#[error("unexpected memcached reply to {command}: {reply}")]
pub(super) struct Unexpected {
    pub(super) command: &'static str,
    pub(super) reply: String,
}

/// Every entry came back with CAS unique 0: the server runs with CAS
/// disabled (`-C`), and compare-and-set saves cannot work.
#[derive(Debug, thiserror::Error)]
#[error("memcached returned no CAS unique: is it running with -C (CAS disabled)?")]
pub(super) struct CasDisabled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting() {
        let io = Error::Io(std::io::ErrorKind::UnexpectedEof.into());
        assert!(matches!(to_store_error(io), StoreError::Unavailable(_)));
        let refused = Error::Connect(std::io::ErrorKind::ConnectionRefused.into());
        assert!(matches!(
            to_store_error(refused),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            to_store_error(Error::ConnectionClosed),
            StoreError::Unavailable(_)
        ));
        let client = Error::Protocol(Status::Error(ErrorKind::Client("bad data chunk".into())));
        assert!(matches!(to_store_error(client), StoreError::Backend(_)));
        let garbled = Error::Protocol(Status::Error(ErrorKind::Protocol(None)));
        assert!(matches!(to_store_error(garbled), StoreError::Backend(_)));
    }

    #[test]
    fn too_large() {
        let e = Error::Protocol(Status::Error(ErrorKind::Server(
            "object too large for cache".into(),
        )));
        assert!(is_too_large(&e));
        let oom = Error::Protocol(Status::Error(ErrorKind::Server("out of memory".into())));
        assert!(!is_too_large(&oom));
    }
}

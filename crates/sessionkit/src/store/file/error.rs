//! I/O errors sorted into [`StoreError`] by what the caller can do, with
//! every path (which holds a session key) kept out of them.

use std::io;

use crate::error::StoreError;

/// An I/O error as a store error, the source kept.
///
/// The directory gone (the only `NotFound` that is an error: a missing
/// session file is a value), a timeout, a stale NFS handle or a full disk
/// may pass: [`StoreError::Unavailable`]. Everything else (permissions, a
/// read-only file system, …) needs an operator: [`StoreError::Backend`].
pub(super) fn from_io(error: io::Error) -> StoreError {
    use io::ErrorKind::*;
    match error.kind() {
        NotFound
        | TimedOut
        | Interrupted
        | WouldBlock
        | StaleNetworkFileHandle
        | StorageFull
        | QuotaExceeded => StoreError::Unavailable(Box::new(error)),
        _ => StoreError::Backend(Box::new(error)),
    }
}

/// A blocking task that never finished: cancelled by a runtime shutting
/// down (unavailable), or panicked (a bug; the panic's own report has it).
pub(super) fn from_join(error: tokio::task::JoinError) -> StoreError {
    if error.is_cancelled() {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(BlockingTaskPanicked))
    }
}

/// `tempfile` wraps its errors with the temp file's path, and that name
/// starts with the session's file name: keep the kind (and OS code, when
/// there is one at the top), drop the path.
pub(super) fn scrub(error: io::Error) -> io::Error {
    match (error.raw_os_error(), error.get_ref()) {
        (Some(code), _) => io::Error::from_raw_os_error(code),
        (None, None) => error,
        (None, Some(_)) => io::Error::from(error.kind()),
    }
}

/// Times outside what the file system or the `time` crate can hold.
pub(super) fn time_out_of_range() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "session expiry out of the file system's time range",
    )
}

/// A file-store operation panicked on the blocking pool.
#[derive(Debug, thiserror::Error)]
#[error("file store task panicked")]
struct BlockingTaskPanicked;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed at /srv/sessions/sessionidsecretkey123")]
    struct WithPath;

    #[test]
    fn kinds() {
        let gone = io::Error::from(io::ErrorKind::NotFound);
        assert!(matches!(from_io(gone), StoreError::Unavailable(_)));
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(matches!(from_io(denied), StoreError::Backend(_)));
    }

    #[test]
    fn scrub_drops_paths() {
        let wrapped = io::Error::new(io::ErrorKind::PermissionDenied, WithPath);
        let clean = scrub(wrapped);
        assert_eq!(clean.kind(), io::ErrorKind::PermissionDenied);
        assert!(!clean.to_string().contains("secretkey"), "{clean}");
        let os = scrub(io::Error::from_raw_os_error(2));
        assert_eq!(os.raw_os_error(), Some(2));
    }
}

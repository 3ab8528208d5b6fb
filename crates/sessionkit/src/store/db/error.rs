//! sqlx errors sorted into [`StoreError`] by what the caller can do.

use crate::error::StoreError;

/// `sqlx` errors, with the source kept.
///
/// Reaching the database at all (pool exhausted or closed, I/O, the SQLite
/// worker thread gone, or the file locked past the busy timeout) is
/// [`StoreError::Unavailable`]: the same request may well succeed later.
/// Everything else is [`StoreError::Backend`].
pub(crate) fn from_sqlx(error: sqlx::Error) -> StoreError {
    let unavailable = match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => is_sqlite_busy(db.code().as_deref()),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

/// Whether an SQLite (extended) result code is `SQLITE_BUSY` (5): another
/// connection held the lock for longer than the busy timeout.
fn is_sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<u32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// `create` drew only keys that were already taken; with 165-bit random keys
/// this means the random source or the table is broken, not bad luck.
#[derive(Debug, thiserror::Error)]
#[error("no free session key after {attempts} attempts")]
pub(crate) struct NoFreeKey {
    pub(crate) attempts: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_problems_are_unavailable() {
        for e in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(matches!(from_sqlx(e), StoreError::Unavailable(_)));
        }
        let io = sqlx::Error::Io(std::io::Error::other("reset"));
        assert!(matches!(from_sqlx(io), StoreError::Unavailable(_)));
        let other = sqlx::Error::RowNotFound;
        assert!(matches!(from_sqlx(other), StoreError::Backend(_)));
    }

    #[test]
    fn busy_codes() {
        assert!(is_sqlite_busy(Some("5")));
        assert!(is_sqlite_busy(Some("517")));
        assert!(!is_sqlite_busy(Some("1555")));
        assert!(!is_sqlite_busy(None));
    }
}

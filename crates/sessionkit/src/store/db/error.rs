//! sqlx errors sorted into [`StoreError`] by what the caller can do.

use crate::error::StoreError;

/// `sqlx` errors, with the source kept.
///
/// Reaching the database at all (pool exhausted or closed, I/O, a TLS
/// failure, the SQLite worker thread gone) is [`StoreError::Unavailable`], and
/// so is a server that answers "not now" (see [`server_says_later`]): the same
/// request may well succeed later. Everything else is [`StoreError::Backend`].
pub(crate) fn from_sqlx(error: sqlx::Error) -> StoreError {
    let unavailable = match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => server_says_later(db.as_ref()),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

/// Whether `error`, met after a write was sent, proves the write was not
/// committed: the server refused a statement (and said so) while the
/// session went on. A connection the server ends (an administrator's kill, a
/// shutdown) can end it right after a commit, before the reply: unknown.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn refused_by_server(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    #[cfg(feature = "postgres")]
    if let Some(e) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let state = e.code();
        return !(state.starts_with("08") || matches!(state, "57P01" | "57P02" | "57P03"));
    }
    #[cfg(feature = "mysql")]
    if let Some(e) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // Shutdown in progress, query interrupted (KILL QUERY), connection
        // killed (MariaDB).
        return !matches!(e.number(), 1053 | 1317 | 1927);
    }
    true
}

/// Whether a database error means "try again later" rather than "this
/// statement is wrong". The codes mean different things on each database,
/// so each driver's error type is asked for its own.
fn server_says_later(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return is_sqlite_busy(db.code().as_deref());
    }
    #[cfg(feature = "postgres")]
    if let Some(e) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return is_postgres_later(e.code());
    }
    #[cfg(feature = "mysql")]
    if let Some(e) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return is_mysql_later(e.number());
    }
    false
}

/// Whether an SQLite (extended) result code is `SQLITE_BUSY` (5): another
/// connection held the lock for longer than the busy timeout.
#[cfg(feature = "sqlite")]
fn is_sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<u32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// PostgreSQL SQLSTATEs of a server that cannot serve us now: class 08
/// (connection exception), `53300` too many connections, `55P03` lock not
/// available (a lock timeout, like SQLite's busy), `57014` a statement
/// cancelled (our `statement_timeout`), `57P01`–`57P03` (admin or crash
/// shutdown, cannot connect now: a restart or a failover).
#[cfg(feature = "postgres")]
fn is_postgres_later(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || matches!(
            sqlstate,
            "53300" | "55P03" | "57014" | "57P01" | "57P02" | "57P03"
        )
}

/// MySQL/MariaDB error numbers of a server that cannot serve us now: 1040
/// too many connections, 1053 server shutdown in progress, 1205 lock wait
/// timeout (like SQLite's busy), 1927 connection killed (MariaDB), and a
/// statement over our time limit: 1969 (MariaDB's `max_statement_time`),
/// 3024 (MySQL's `max_execution_time`).
#[cfg(feature = "mysql")]
fn is_mysql_later(number: u16) -> bool {
    matches!(number, 1040 | 1053 | 1205 | 1927 | 1969 | 3024)
}

/// A write whose connection failed after it was sent: the server may or may
/// not have committed it, so it is neither retried nor reported as a conflict.
#[derive(Debug, thiserror::Error)]
#[error("the session write was sent but its reply was lost: it may or may not have been written")]
pub(crate) struct OutcomeUnknown(#[source] pub(crate) std::sync::Arc<sqlx::Error>);

/// The queue of writes waiting for the database is full: the server is far
/// behind, and a request fails at once rather than waiting without end.
#[derive(Debug, thiserror::Error)]
#[error("too many session writes are waiting for the database")]
pub(crate) struct QueueFull;

/// `error` carried as an sqlx I/O error, which [`from_sqlx`] reports as
/// [`StoreError::Unavailable`] (with `error` as the source): how the SQLite
/// writer, whose answers are sqlx results, says "not now" or "unknown".
#[cfg(feature = "sqlite")]
pub(crate) fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(error))
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

    #[cfg(feature = "sqlite")]
    #[test]
    fn busy_codes() {
        assert!(is_sqlite_busy(Some("5")));
        assert!(is_sqlite_busy(Some("517")));
        assert!(!is_sqlite_busy(Some("1555")));
        assert!(!is_sqlite_busy(None));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_later_states() {
        for code in [
            "08006", "08001", "53300", "55P03", "57014", "57P01", "57P03",
        ] {
            assert!(is_postgres_later(code), "{code}");
        }
        for code in ["23505", "42P01", "42703", "40001", "22007"] {
            assert!(!is_postgres_later(code), "{code}");
        }
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_later_numbers() {
        for n in [1040, 1053, 1205, 1927, 1969, 3024] {
            assert!(is_mysql_later(n), "{n}");
        }
        for n in [1062, 1146, 1054, 1213] {
            assert!(!is_mysql_later(n), "{n}");
        }
    }
}

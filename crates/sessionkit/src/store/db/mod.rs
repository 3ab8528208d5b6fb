//! The `db` engine: Django's `django_session` table, shared row for row with
//! a Django app on the same database.
//!
//! Rows are exactly Django's: `session_key` (32 chars of `[a-z0-9]`),
//! `session_data` (Django's signed, possibly compressed JSON, salt
//! `django.contrib.sessions.SessionStore`) and `expire_date` in Django's
//! column format for each database, to the microsecond: on SQLite the text
//! `YYYY-MM-DD HH:MM:SS[.ffffff]` in naive UTC, compared as text as Django
//! does; on PostgreSQL an aware `timestamp with time zone`; on MySQL and
//! MariaDB a naive UTC `datetime(6)` (Django's `USE_TZ=True`). The current
//! time is always a bound parameter, never the server's clock. The table is
//! created with Django's own DDL when missing (index names included); an
//! existing one is used as it is. A Django app that starts using a table
//! sessionkit made runs `manage.py migrate sessions --fake-initial`.
//!
//! Saves are compare-and-set on the stored `session_data`, with no schema
//! change: `UPDATE … WHERE session_key = ? AND session_data = ?`.
//!
//! Backends live in sibling files, one per database (`sqlite.rs`,
//! `postgres.rs`, `mysql.rs`, each behind the cargo feature of the same name),
//! with the constructors for it; [`DbStore`] holds one and keeps everything
//! that is the same for all of them.
//!
//! ```no_run
//! # #[cfg(all(feature = "sqlite", feature = "postgres"))]
//! # async fn demo(pool: sqlx::SqlitePool) -> Result<(), sessionkit::error::StoreError> {
//! use sessionkit::signing::{Codec, Keys, SecretKey};
//! use sessionkit::store::db::{DbOptions, DbStore};
//!
//! let keys = Keys::new(SecretKey::new("a long random secret shared with Django"), vec![])
//!     .expect("a non-empty secret");
//! let store = DbStore::sqlite("sqlite://sessions.sqlite3", Codec::sessions(&keys)).await?;
//! // The table a Django app on PostgreSQL uses:
//! let shared = DbStore::postgres("postgres://app@db.internal/app", Codec::sessions(&keys)).await?;
//! // Or a table of your own, in a pool you already have:
//! let custom = DbStore::from_sqlite_pool_with(
//!     pool,
//!     Codec::sessions(&keys),
//!     DbOptions::new().table("my_sessions"),
//! )
//! .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::key;
use crate::signing::Codec;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};

mod datetime;
mod ddl;
mod error;
#[cfg(all(feature = "fuzzing", feature = "sqlite"))]
#[path = "../../fuzzing/db.rs"]
pub(crate) mod fuzz;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_batch;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_batch;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod save_batch;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_writer;

use ddl::Table;
use error::{from_sqlx, NoFreeKey};
#[cfg(feature = "mysql")]
use mysql::MySqlBackend;
#[cfg(feature = "postgres")]
use postgres::PgBackend;
#[cfg(feature = "sqlite")]
use sqlite::SqliteBackend;

/// How many fresh keys `create` tries before giving up.
const CREATE_ATTEMPTS: usize = 10;
/// Rows deleted per statement by `clear_expired`, so a large purge never
/// holds the write lock for long.
const CLEAR_BATCH: u32 = 1000;

/// Options for a [`DbStore`].
#[derive(Clone, Debug)]
pub struct DbOptions {
    table: String,
}

impl DbOptions {
    /// Django's defaults: the table `django_session`.
    pub fn new() -> Self {
        Self {
            table: ddl::DEFAULT_TABLE.to_owned(),
        }
    }

    /// Uses another table. The name must match `[A-Za-z_][A-Za-z0-9_]{0,62}`
    /// (checked when the store is built, [`StoreError::Config`] otherwise).
    /// A table sessionkit creates gets Django's DDL, and its indexes the names
    /// Django would give them: `<table>_expire_date_<8 hex digits of
    /// md5(table + "expire_date")>` (and on PostgreSQL
    /// `<table>_session_key_<md5 of table + "session_key">_like`), shortened
    /// as Django shortens them when longer than the database allows (63
    /// characters on PostgreSQL, 64 on MySQL).
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }
}

impl Default for DbOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// A row as a backend read it, before decoding.
#[derive(Debug)]
struct StoredRow {
    /// The stored `session_data`, byte for byte (the version).
    data: Vec<u8>,
    /// The stored `expire_date`, or `None` when it could not be read.
    expires_at: Option<OffsetDateTime>,
}

/// The database behind a [`DbStore`].
#[derive(Debug)]
enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteBackend),
    #[cfg(feature = "postgres")]
    Postgres(PgBackend),
    #[cfg(feature = "mysql")]
    MySql(MySqlBackend),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
            #[cfg(feature = "mysql")]
            Backend::MySql(_) => "mysql",
        }
    }
}

/// Forwards a call to whichever backend the store holds. Every backend has
/// the same methods (`fetch_live`, `insert`, `update_if`, `is_live`,
/// `delete`, `delete_if`, `clear_expired_batch`, `touch`), with `sqlx::Error`
/// errors, except `update_if`, which sorts its own into [`StoreError`] (a
/// save whose reply was lost is unavailable, whatever the sqlx error).
macro_rules! dispatch {
    ($backend:expr, $b:ident => $call:expr) => {
        match $backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite($b) => $call,
            #[cfg(feature = "postgres")]
            Backend::Postgres($b) => $call,
            #[cfg(feature = "mysql")]
            Backend::MySql($b) => $call,
        }
    };
}

/// Django's db session engine: one row per session in `django_session`.
///
/// Built for one database by its constructors: `DbStore::sqlite`,
/// `DbStore::postgres`, `DbStore::mysql` (each behind the cargo feature of
/// that name), or `from_*_pool` for a pool you already have.
///
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct DbStore {
    shared: Arc<Shared>,
}

struct Shared {
    backend: Backend,
    codec: Codec,
    table: Table,
}

impl DbStore {
    fn new(backend: Backend, codec: Codec, table: Table) -> Self {
        Self {
            shared: Arc::new(Shared {
                backend,
                codec,
                table,
            }),
        }
    }

    /// The session table's name.
    pub fn table(&self) -> &str {
        self.shared.table.name()
    }

    /// Decodes a stored `session_data`. A bad signature, a key we do not
    /// hold, bad JSON or bytes that are not text give an empty dict, as
    /// Django's `decode` does ("Session data corrupted"); the key is kept.
    fn decode(&self, key: &str, stored: &[u8], now: OffsetDateTime) -> crate::store::SessionMap {
        // The db engine has no max_age on the signature: expire_date decides.
        let decoded = std::str::from_utf8(stored)
            .ok()
            .and_then(|text| self.shared.codec.decode(text, None, now).ok());
        match decoded {
            Some(decoded) => decoded.data,
            None => {
                tracing::warn!(
                    session = %key::log_tag(key),
                    table = %self.shared.table.name(),
                    "session data corrupted: loading it as an empty session"
                );
                crate::store::SessionMap::new()
            }
        }
    }
}

impl fmt::Debug for DbStore {
    // No keys, data or secrets: only what identifies the store.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStore")
            .field("backend", &self.shared.backend.name())
            .field("table", &self.shared.table.name())
            .finish_non_exhaustive()
    }
}

// Every key-taking call checks the key again: the public store API can be
// called with any string (an admin tool, a query parameter), and MySQL's
// case- and trailing-space-insensitive collations or PostgreSQL's refusal of
// NUL would otherwise reach, or fail on, a real session's row.
#[async_trait]
impl SessionStore for DbStore {
    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(None);
        }
        let row = dispatch!(&self.shared.backend, b => b.fetch_live(key, now).await)
            .map_err(from_sqlx)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let Some(expires_at) = row.expires_at else {
            // Without a readable expiry nothing says the session is still
            // valid: fail closed. The row stays for an operator to inspect.
            tracing::warn!(
                session = %key::log_tag(key),
                table = %self.shared.table.name(),
                "session expire_date unreadable: treating the session as expired"
            );
            return Ok(None);
        };
        let data = self.decode(key, &row.data, now);
        Ok(Some(Loaded {
            record: Record::new(data, expires_at),
            version: Version::new(row.data),
        }))
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let data = self.shared.codec.encode(&record.data, now);
        for _ in 0..CREATE_ATTEMPTS {
            let key = key::generate_key();
            let inserted = dispatch!(
                &self.shared.backend,
                b => b.insert(&key, &data, record.expires_at).await
            )
            .map_err(from_sqlx)?;
            if inserted {
                return Ok(Saved {
                    cookie_value: key,
                    version: Version::new(data),
                });
            }
        }
        Err(StoreError::Backend(Box::new(NoFreeKey {
            attempts: CREATE_ATTEMPTS,
        })))
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(SaveOutcome::Gone);
        }
        let data = self.shared.codec.encode(&record.data, now);
        let written = dispatch!(
            &self.shared.backend,
            b => b.update_if(key, &data, record.expires_at, expected.as_bytes(), now).await
        )?;
        if written {
            return Ok(SaveOutcome::Saved(Saved {
                cookie_value: key.to_owned(),
                version: Version::new(data),
            }));
        }
        // Only on the rare miss: was it a newer version, or no live row?
        let live =
            dispatch!(&self.shared.backend, b => b.is_live(key, now).await).map_err(from_sqlx)?;
        Ok(if live {
            SaveOutcome::Conflict
        } else {
            SaveOutcome::Gone
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !key::is_valid_key(key) {
            return Ok(());
        }
        dispatch!(&self.shared.backend, b => b.delete(key).await).map_err(from_sqlx)
    }

    /// One `DELETE … WHERE session_key = ? AND session_data = ?`: no save can
    /// land between the comparison and the delete. When it deletes nothing,
    /// a live row means a newer version (`false`); none means gone (`true`).
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(true);
        }
        let deleted = dispatch!(
            &self.shared.backend,
            b => b.delete_if(key, expected.as_bytes()).await
        )
        .map_err(from_sqlx)?;
        if deleted {
            return Ok(true);
        }
        let live =
            dispatch!(&self.shared.backend, b => b.is_live(key, now).await).map_err(from_sqlx)?;
        Ok(!live)
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted = dispatch!(
                &self.shared.backend,
                b => b.clear_expired_batch(now, CLEAR_BATCH).await
            )
            .map_err(from_sqlx)?;
            total += deleted;
            if deleted < u64::from(CLEAR_BATCH) {
                return Ok(total);
            }
        }
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(false);
        }
        dispatch!(&self.shared.backend, b => b.touch(key, expires_at, now).await).map_err(from_sqlx)
    }
}

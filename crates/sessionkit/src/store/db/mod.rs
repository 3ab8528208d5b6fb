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
//! each an implementation of the private `DbBackend` trait; everything that
//! is the same for all of them is written once over that trait
//! (`session_table.rs`).
//!
//! ```no_run
//! # #[cfg(all(feature = "sqlite", feature = "postgres"))]
//! # async fn demo(pool: sqlx::SqlitePool) -> Result<(), sessionkit::error::StoreError> {
//! use sessionkit::store::db::{DbOptions, DbStore};
//!
//! let store = DbStore::open("sqlite://sessions.sqlite3").await?;
//! // The table a Django app on PostgreSQL uses:
//! let shared = DbStore::open("postgres://app@db.internal/app").await?;
//! // Or a table of your own, in a pool you already have:
//! let custom = DbOptions::new().table("my_sessions").from_pool(pool).await?;
//! # Ok(()) }
//! ```
//!
//! A store signs with the keys of the [`SessionLayer`](crate::SessionLayer)
//! it is given to (its `SECRET_KEY`), so the secret is given once. Used
//! without a layer, a store takes them from
//! [`with_codec`](DbStore::with_codec).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::signing::Codec;
use crate::store::engine::SigningKeys;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};

mod backend;
mod datetime;
mod ddl;
pub(crate) mod error;
#[cfg(all(feature = "fuzzing", feature = "sqlite"))]
#[path = "../../fuzzing/db.rs"]
pub(crate) mod fuzz;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_batch;
mod options;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_batch;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod save_batch;
mod session_table;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_writer;
#[cfg(feature = "sqlite")]
#[doc(hidden)]
pub mod tool_support;

use backend::DbBackend;
use ddl::Table;
pub use options::{DbOptions, DbPool};
use session_table::SessionTable;

/// Django's db session engine: one row per session in `django_session`.
///
/// Built with [`DbStore::open`] from a database URL, or
/// [`DbStore::from_pool`] on a pool you already have; [`DbOptions`] for
/// another table. Cheap to clone; clones share the pool and the keys.
///
/// # The pool of `DbStore::open`
///
/// Every pool of the store's own has sqlx's statement logging off: its DEBUG
/// and slow-statement WARN lines would show each statement's text.
///
/// **SQLite** (`sqlite://path`): the file is created when missing unless the
/// URL sets `mode=`; a file created here is readable and writable by its
/// owner only (mode 0600 whatever the umask: sessions are credentials), and
/// so are the WAL files SQLite makes beside it. WAL mode,
/// `synchronous=NORMAL`, a 5 s busy timeout. Reads share a pool; writes go
/// through one connection of the store's own, and writes that queue up
/// meanwhile are committed together (each keeps its own outcome). That
/// connection lives in a task on the Tokio runtime that opened the store.
/// Another process (Django, say) writing the same file waits its turn
/// through the busy timeout.
///
/// **PostgreSQL** (`postgres://user:password@host:port/database`): sqlx's
/// defaults (10 connections) except a 3 s acquire timeout, so a dead server
/// answers 503 within seconds, and a health ping only for a connection idle
/// for over 30 s instead of before every query. `application_name` is
/// `sessionkit` unless the URL sets one. Each connection has `lock_timeout`
/// 3 s and `statement_timeout` 5 s (unless the URL's `options` set them), so
/// a locked or slow row answers 503 within seconds instead of holding a
/// request and a connection.
///
/// **MySQL and MariaDB** (`mysql://user:password@host:port/database`): the
/// same pool settings as PostgreSQL's, and the session `time_zone` pinned to
/// `+00:00` whatever the URL says, as Django's `USE_TZ=True` expects. Each
/// connection waits at most 3 s for a row lock (`innodb_lock_wait_timeout`)
/// and runs a statement for at most 5 s (`max_statement_time` on MariaDB,
/// `max_execution_time` for reads on MySQL).
///
/// On PostgreSQL and MySQL, saves that queue up while earlier ones are
/// running (at most half the pool's connections write at once) go to the
/// server together, as one statement or transaction, each save keeping its
/// own compare-and-set outcome and every value a bound parameter. A lone save
/// goes at once. The batching runs in a task on the Tokio runtime that opened
/// the store (also for a pool given to [`from_pool`](Self::from_pool)).
#[derive(Clone)]
pub struct DbStore {
    /// The session table on this store's database (a `SessionTable<B>` for
    /// its backend): the one place that knows which database it is.
    engine: Arc<dyn SessionStore>,
    shared: Arc<Shared>,
}

/// What the handles and the engine share.
struct Shared {
    /// Set once: given with `with_codec`, or by the first layer served.
    keys: SigningKeys,
    table: Table,
    pool: DbPool,
    database: &'static str,
}

impl DbStore {
    /// Opens the database at `url` with Django's table `django_session`;
    /// the same as `DbOptions::new().open(url)` (see [`DbOptions::open`]).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        DbOptions::new().open(url).await
    }

    /// Uses the caller's pool (a `SqlitePool`, `PgPool` or `MySqlPool`) with
    /// Django's table `django_session`; the same as
    /// `DbOptions::new().from_pool(pool)` (see [`DbOptions::from_pool`]).
    pub async fn from_pool(pool: impl Into<DbPool>) -> Result<Self, StoreError> {
        DbOptions::new().from_pool(pool).await
    }

    /// Signs with `codec` (Django's session salt: `SessionConfig::codec()`),
    /// for a store used without a [`SessionLayer`](crate::SessionLayer) (a
    /// tool, a test). A layer's keys then do not replace these. Keys are set
    /// once: a store that already has keys keeps them.
    #[must_use]
    pub fn with_codec(self, codec: Codec) -> Self {
        self.shared.keys.set(codec);
        self
    }

    /// The session table's name.
    pub fn table(&self) -> &str {
        self.shared.table.name()
    }

    /// The pool the store reads through (for tools such as the CLI's
    /// `stats`, and tests).
    pub fn pool(&self) -> &DbPool {
        &self.shared.pool
    }

    /// The store on `backend`, without keys yet.
    fn on<B: DbBackend>(backend: B, table: Table) -> Self {
        let shared = Arc::new(Shared {
            keys: SigningKeys::default(),
            table,
            pool: backend.pool(),
            database: B::NAME,
        });
        let engine = SessionTable {
            backend,
            shared: shared.clone(),
        };
        Self {
            engine: Arc::new(engine),
            shared,
        }
    }
}

impl fmt::Debug for DbStore {
    // No keys, data or secrets: only what identifies the store.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStore")
            .field("backend", &self.shared.database)
            .field("table", &self.shared.table.name())
            .finish_non_exhaustive()
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl SessionStore for DbStore {
    fn accepts(&self, cookie_value: &str) -> bool {
        self.engine.accepts(cookie_value)
    }
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        self.engine.load(key, now).await
    }
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.engine.create(record, now).await
    }
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.engine.save(key, record, expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.engine.delete(key).await
    }
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.engine.delete_if(key, expected, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.engine.clear_expired(now).await
    }
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.engine.touch(key, expires_at, now).await
    }
    fn saves_can_conflict(&self) -> bool {
        self.engine.saves_can_conflict()
    }
    fn attach(&self, config: &SessionConfig) {
        self.engine.attach(config);
    }
    fn engine_name(&self) -> &'static str {
        self.shared.database
    }
    /// Every call is a round trip to the database.
    fn immediate(&self) -> Option<&dyn crate::store::ImmediateStore> {
        None
    }
}

//! Building a [`DbStore`]: its settings ([`DbOptions`]), the database a URL
//! names, and the caller's own pools ([`DbPool`]).

use crate::error::StoreError;

use super::ddl::{self, Table};
#[cfg(feature = "mysql")]
use super::mysql::MySqlBackend;
#[cfg(feature = "postgres")]
use super::postgres::PgBackend;
#[cfg(feature = "sqlite")]
use super::sqlite::SqliteBackend;
use super::DbStore;

/// A connection pool of one of the databases the db engine runs on (each
/// behind the cargo feature of the same name): what
/// [`DbStore::from_pool`] takes and [`DbStore::pool`] gives back.
///
/// Each sqlx pool converts into it, so `DbStore::from_pool(pool)` takes a
/// `SqlitePool`, `PgPool` or `MySqlPool` as it is. Cheap to clone, as sqlx
/// pools are.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DbPool {
    /// An SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A MySQL or MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for DbPool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        Self::Sqlite(pool)
    }
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for DbPool {
    fn from(pool: sqlx::PgPool) -> Self {
        Self::Postgres(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for DbPool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        Self::MySql(pool)
    }
}

/// The settings of a [`DbStore`], and the way to build one with them:
/// `DbOptions::new().table("my_sessions").open(url)`.
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

    /// Opens the database at `url` with a pool of the store's own, and
    /// creates the session table with Django's DDL if it is missing.
    ///
    /// The scheme picks the database: `sqlite:`, `postgres:` or
    /// `postgresql:`, `mysql:` or `mariadb:`, each when its cargo feature is
    /// on; any other is a [`StoreError::Config`]. What each pool is set up
    /// with (timeouts, WAL, group commit) is told under
    /// [`DbStore`](DbStore#the-pool-of-dbstoreopen).
    pub async fn open(self, url: &str) -> Result<DbStore, StoreError> {
        let table = Table::new(&self.table)?;
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(DbStore::on(
                SqliteBackend::connect(url, &table).await?,
                table,
            )),
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                Ok(DbStore::on(PgBackend::connect(url, &table).await?, table))
            }
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => Ok(DbStore::on(
                MySqlBackend::connect(url, &table).await?,
                table,
            )),
            // The URL itself stays out: it may carry a password.
            other => Err(StoreError::Config(format!(
                "database URL scheme {other:?} is not supported by this build (enabled: {})",
                enabled_schemes()
            ))),
        }
    }

    /// Uses the caller's pool as it is configured (its size, timeouts and
    /// pragmas or session settings stay the caller's), creating the session
    /// table if it is missing.
    ///
    /// Session keys and data are always bound parameters, never statement
    /// text. Still, consider what [`open`](Self::open) sets up on its own
    /// pools: `disable_statement_logging()` on the connect options (sqlx's
    /// DEBUG and slow-statement lines show statement text), and on a server
    /// short lock and statement timeouts.
    pub async fn from_pool(self, pool: impl Into<DbPool>) -> Result<DbStore, StoreError> {
        let table = Table::new(&self.table)?;
        match pool.into() {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(pool) => Ok(DbStore::on(
                SqliteBackend::with_pool(pool, &table).await?,
                table,
            )),
            #[cfg(feature = "postgres")]
            DbPool::Postgres(pool) => Ok(DbStore::on(
                PgBackend::with_pool(pool, &table).await?,
                table,
            )),
            #[cfg(feature = "mysql")]
            DbPool::MySql(pool) => Ok(DbStore::on(
                MySqlBackend::with_pool(pool, &table).await?,
                table,
            )),
        }
    }
}

impl Default for DbOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL schemes this build opens, for the error naming them.
fn enabled_schemes() -> String {
    let schemes: [(&str, bool); 3] = [
        ("sqlite", cfg!(feature = "sqlite")),
        ("postgres", cfg!(feature = "postgres")),
        ("mysql", cfg!(feature = "mysql")),
    ];
    let on: Vec<&str> = schemes
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
    on.join(", ")
}

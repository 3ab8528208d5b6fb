//! The database server a test runs on, PostgreSQL or MySQL: where it is,
//! how it quotes a table name, and the pools and stores a test opens on it.
//! What differs between the two servers is here, so a test written once
//! runs on both.

use std::any::Any;

use sessionkit::store::db::{DbOptions, DbPool, DbStore};

use super::super::codec;
use super::super::services::{available, unique};

/// A test database server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Server {
    /// `SESSIONKIT_POSTGRES_URL`.
    #[cfg(feature = "postgres")]
    Postgres,
    /// `SESSIONKIT_MYSQL_URL` (MySQL or MariaDB).
    #[cfg(feature = "mysql")]
    MySql,
}

impl Server {
    /// The server's name in skip messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "postgres")]
            Server::Postgres => "PostgreSQL",
            #[cfg(feature = "mysql")]
            Server::MySql => "MySQL",
        }
    }

    /// The test database's URL.
    pub(crate) fn url(self) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Server::Postgres => super::super::services::postgres_url(),
            #[cfg(feature = "mysql")]
            Server::MySql => super::super::services::mysql_url(),
        }
    }

    /// Whether the server answers; see `services::available`.
    pub(crate) async fn available(self) -> bool {
        available(self.name(), &self.url()).await
    }

    /// `name` as the server quotes an identifier.
    pub(crate) fn quote(self, name: &str) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Server::Postgres => format!("\"{name}\""),
            #[cfg(feature = "mysql")]
            Server::MySql => format!("`{name}`"),
        }
    }

    /// A pool of at most `max` connections on the test database, for the
    /// test's own SQL or for a store on a pool of the caller's.
    pub(crate) async fn pool(self, max: u32) -> DbPool {
        let url = self.url();
        match self {
            #[cfg(feature = "postgres")]
            Server::Postgres => sqlx::postgres::PgPoolOptions::new()
                .max_connections(max)
                .connect(&url)
                .await
                .expect("connect to the test PostgreSQL")
                .into(),
            #[cfg(feature = "mysql")]
            Server::MySql => sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(max)
                .connect(&url)
                .await
                .expect("connect to the test MySQL")
                .into(),
        }
    }

    /// Runs one statement of the test's own.
    pub(crate) async fn execute(self, sql: &str) {
        let rows = match self.pool(1).await {
            #[cfg(feature = "postgres")]
            DbPool::Postgres(pool) => sqlx::query(sql).execute(&pool).await.map(|_| ()),
            #[cfg(feature = "mysql")]
            DbPool::MySql(pool) => sqlx::query(sql).execute(&pool).await.map(|_| ()),
            other => panic!("not a server pool: {other:?}"),
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Drops `table` if it is there.
    pub(crate) async fn drop_table(self, table: &str) {
        self.execute(&format!("DROP TABLE IF EXISTS {}", self.quote(table)))
            .await;
    }

    /// The session data stored for `key` in `table`, byte for byte.
    pub(crate) async fn stored_data(self, table: &str, key: &str) -> Vec<u8> {
        let quoted = self.quote(table);
        let rows = match self.pool(1).await {
            #[cfg(feature = "postgres")]
            DbPool::Postgres(pool) => {
                let sql = format!("SELECT session_data FROM {quoted} WHERE session_key = $1");
                sqlx::query_as::<_, (String,)>(&sql)
                    .bind(key)
                    .fetch_one(&pool)
                    .await
                    .map(|(data,)| data.into_bytes())
            }
            #[cfg(feature = "mysql")]
            DbPool::MySql(pool) => {
                let sql = format!(
                    "SELECT CAST(session_data AS BINARY) FROM {quoted} WHERE session_key = ?"
                );
                sqlx::query_as::<_, (Vec<u8>,)>(&sql)
                    .bind(key)
                    .fetch_one(&pool)
                    .await
                    .map(|(data,)| data)
            }
            other => panic!("not a server pool: {other:?}"),
        };
        rows.expect("read the row")
    }

    /// Holds the row of `key` in `table` locked (`SELECT … FOR UPDATE` in
    /// an open transaction) until the returned guard is dropped.
    pub(crate) async fn lock_row(self, table: &str, key: &str) -> Box<dyn Any + Send> {
        let quoted = self.quote(table);
        match self.pool(1).await {
            #[cfg(feature = "postgres")]
            DbPool::Postgres(pool) => {
                let mut tx = pool.begin().await.expect("begin");
                let sql = format!("SELECT 1 FROM {quoted} WHERE session_key = $1 FOR UPDATE");
                sqlx::query(&sql)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await
                    .expect("lock the row");
                Box::new(tx)
            }
            #[cfg(feature = "mysql")]
            DbPool::MySql(pool) => {
                let mut tx = pool.begin().await.expect("begin");
                let sql = format!("SELECT 1 FROM {quoted} WHERE session_key = ? FOR UPDATE");
                sqlx::query(&sql)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await
                    .expect("lock the row");
                Box::new(tx)
            }
            other => panic!("not a server pool: {other:?}"),
        }
    }

    /// A table name no other test uses.
    pub(crate) fn fresh_table(self) -> String {
        unique("sk_test")
    }

    /// A store with the test keys on `table`, with a pool of its own.
    pub(crate) async fn store(self, table: &str) -> DbStore {
        self.store_at(&self.url(), table).await
    }

    /// A store with the test keys on `table` of the database at `url` (the
    /// test server, or a proxy in front of it).
    pub(crate) async fn store_at(self, url: &str, table: &str) -> DbStore {
        DbOptions::new()
            .table(table)
            .open(url)
            .await
            .unwrap_or_else(|e| panic!("open a {} store: {e}", self.name()))
            .with_codec(codec())
    }
}

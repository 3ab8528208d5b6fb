//! [`SqlIndex`]: the index in a side table on SQLite, PostgreSQL or
//! MySQL/MariaDB, beside `django_session` and never in it.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::store::db::error::from_sqlx;
use crate::store::db::{DbPool, DbStore};

use super::index::EXPIRY_GRACE;
use super::{IndexEntry, SessionIndex};

/// Runs `$body` with `$p` bound to the concrete sqlx pool.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            DbPool::Postgres($p) => $body,
            #[cfg(feature = "mysql")]
            DbPool::MySql($p) => $body,
        }
    };
}

/// Reads an entry from a row of any of the three databases.
macro_rules! entry_of {
    ($row:expr) => {{
        use sqlx::Row;
        let row = $row;
        (|| -> Result<IndexEntry, sqlx::Error> {
            Ok(IndexEntry {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                session_key: row.try_get("session_key")?,
                created: from_micros(row.try_get("created")?),
                last_seen: from_micros(row.try_get("last_seen")?),
                expires_at: from_micros(row.try_get("expires_at")?),
                user_agent: row.try_get("user_agent")?,
                ip: row.try_get("ip")?,
            })
        })()
    }};
}

/// The table's default name.
pub const DEFAULT_INDEX_TABLE: &str = "sessionkit_user_session";

const COLUMNS: &str = "id, user_id, session_key, created, last_seen, expires_at, user_agent, ip";

/// The index in a table of its own (default `sessionkit_user_session`),
/// created if missing, on the pool of a [`DbStore`] or your own.
///
/// One row per logged-in session: `id` (the public id, primary key),
/// `user_id`, `session_key` (to delete the session on revocation; null for
/// signed cookies), `created`, `last_seen`, `expires_at` (Unix time in
/// microseconds), `user_agent`, `ip`; indexed on `user_id` and `expires_at`.
/// `django_session` is not touched. Pairs with every session engine: a file
/// or Memcached engine can keep its index in SQL.
#[derive(Clone, Debug)]
pub struct SqlIndex {
    pool: DbPool,
    sql: Statements,
}

#[derive(Clone, Debug)]
struct Statements {
    put: String,
    get: String,
    list: String,
    seen: String,
    remove: String,
    clear: String,
}

impl SqlIndex {
    /// The index on `pool`, in the table `sessionkit_user_session`.
    ///
    /// # Errors
    /// When the table cannot be created.
    pub async fn new(pool: impl Into<DbPool>) -> Result<Self, StoreError> {
        Self::with_table(pool, DEFAULT_INDEX_TABLE).await
    }

    /// The index on the pool of `store` (the same database as the sessions).
    ///
    /// # Errors
    /// When the table cannot be created.
    pub async fn for_store(store: &DbStore) -> Result<Self, StoreError> {
        Self::new(store.pool().clone()).await
    }

    /// The index on `pool`, in `table` (`[A-Za-z_][A-Za-z0-9_]{0,62}`),
    /// created if missing.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a bad name; the database's error when the
    /// table cannot be created.
    pub async fn with_table(pool: impl Into<DbPool>, table: &str) -> Result<Self, StoreError> {
        let index = Self::on(pool.into(), table)?;
        index.create_table(table).await?;
        Ok(index)
    }

    /// The index on `pool` in `table` if that table exists; `None`, with
    /// nothing created, if it does not. For tools that act on an index only
    /// where an app made one (`sessionkit clearsessions`).
    ///
    /// # Errors
    /// [`StoreError::Config`] for a bad name; the database's error when the
    /// schema cannot be read.
    pub async fn existing(
        pool: impl Into<DbPool>,
        table: &str,
    ) -> Result<Option<Self>, StoreError> {
        let index = Self::on(pool.into(), table)?;
        Ok(index.table_exists(table).await?.then_some(index))
    }

    fn on(pool: DbPool, table: &str) -> Result<Self, StoreError> {
        if !valid_table(table) {
            return Err(StoreError::Config(format!(
                "session index table name {table:?} must match [A-Za-z_][A-Za-z0-9_]{{0,62}}"
            )));
        }
        Ok(Self {
            sql: statements(&pool, table),
            pool,
        })
    }

    /// Whether `table` exists where the index's unquoted statements find it.
    async fn table_exists(&self, table: &str) -> Result<bool, StoreError> {
        match &self.pool {
            // The session table's lookup: SQLite names ignore case, quoted or not.
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(p) => {
                crate::store::db::tool_support::sqlite_table_exists(p, table).await
            }
            // The name unquoted, as the statements write it (folded to lower case).
            #[cfg(feature = "postgres")]
            DbPool::Postgres(p) => {
                sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
                    .bind(table)
                    .fetch_one(p)
                    .await
                    .map_err(from_sqlx)
            }
            #[cfg(feature = "mysql")]
            DbPool::MySql(p) => sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?",
            )
            .bind(table)
            .fetch_one(p)
            .await
            .map(|n| n > 0)
            .map_err(from_sqlx),
        }
    }

    async fn create_table(&self, table: &str) -> Result<(), StoreError> {
        let columns = "id varchar(32) NOT NULL PRIMARY KEY, user_id varchar(150) NOT NULL, \
             session_key varchar(40) NULL, created bigint NOT NULL, last_seen bigint NOT NULL, \
             expires_at bigint NOT NULL, user_agent varchar(512) NULL, ip varchar(45) NULL";
        let statements = match &self.pool {
            #[cfg(feature = "mysql")]
            DbPool::MySql(_) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {table} ({columns}, \
                 KEY {table}_user_id (user_id), KEY {table}_expires_at (expires_at))"
            )],
            #[allow(unreachable_patterns)]
            _ => vec![
                format!("CREATE TABLE IF NOT EXISTS {table} ({columns})"),
                format!("CREATE INDEX IF NOT EXISTS {table}_user_id ON {table} (user_id)"),
                format!("CREATE INDEX IF NOT EXISTS {table}_expires_at ON {table} (expires_at)"),
            ],
        };
        for sql in &statements {
            on_pool!(&self.pool, p => sqlx::query(sql).execute(p).await.map(|_| ()))
                .map_err(from_sqlx)?;
        }
        Ok(())
    }
}

fn valid_table(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && name.len() <= 63
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn statements(pool: &DbPool, t: &str) -> Statements {
    let upsert = match pool {
        #[cfg(feature = "mysql")]
        DbPool::MySql(_) => {
            "ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), \
             session_key = VALUES(session_key), created = VALUES(created), \
             last_seen = VALUES(last_seen), expires_at = VALUES(expires_at), \
             user_agent = VALUES(user_agent), ip = VALUES(ip)"
        }
        #[allow(unreachable_patterns)]
        _ => {
            "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
             session_key = excluded.session_key, created = excluded.created, \
             last_seen = excluded.last_seen, expires_at = excluded.expires_at, \
             user_agent = excluded.user_agent, ip = excluded.ip"
        }
    };
    let numbered = is_postgres(pool);
    let q = |sql: String| if numbered { dollars(&sql) } else { sql };
    Statements {
        put: q(format!(
            "INSERT INTO {t} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) {upsert}"
        )),
        get: q(format!(
            "SELECT {COLUMNS} FROM {t} WHERE user_id = ? AND id = ? AND expires_at > ?"
        )),
        list: q(format!(
            "SELECT {COLUMNS} FROM {t} WHERE user_id = ? AND expires_at > ?"
        )),
        seen: q(format!(
            "UPDATE {t} SET last_seen = ?, expires_at = ? WHERE user_id = ? AND id = ?"
        )),
        remove: q(format!("DELETE FROM {t} WHERE user_id = ? AND id = ?")),
        clear: q(format!("DELETE FROM {t} WHERE expires_at <= ?")),
    }
}

fn is_postgres(pool: &DbPool) -> bool {
    match pool {
        #[cfg(feature = "postgres")]
        DbPool::Postgres(_) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// `?` placeholders as PostgreSQL's `$1, $2, …` (no `?` occurs otherwise).
fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

fn micros(at: OffsetDateTime) -> i64 {
    // In range for any date a session can have (±292,000 years).
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The oldest `expires_at` still live at `now` (see `EXPIRY_GRACE`).
fn live_after(now: OffsetDateTime) -> i64 {
    micros(now - EXPIRY_GRACE)
}

#[async_trait]
impl SessionIndex for SqlIndex {
    async fn put(&self, e: &IndexEntry) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(&self.sql.put)
            .bind(&e.id)
            .bind(&e.user_id)
            .bind(e.session_key.as_deref())
            .bind(micros(e.created))
            .bind(micros(e.last_seen))
            .bind(micros(e.expires_at))
            .bind(e.user_agent.as_deref())
            .bind(e.ip.as_deref())
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(from_sqlx)
    }

    async fn get(
        &self,
        user_id: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IndexEntry>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(&self.sql.get)
                .bind(user_id)
                .bind(id)
                .bind(live_after(now))
                .fetch_optional(p)
                .await;
            row.and_then(|r| r.map(|r| entry_of!(r)).transpose())
        })
        .map_err(from_sqlx)
    }

    async fn list(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(&self.sql.list)
                .bind(user_id)
                .bind(live_after(now))
                .fetch_all(p)
                .await;
            rows.and_then(|rows| rows.into_iter().map(|r| entry_of!(r)).collect())
        })
        .map_err(from_sqlx)
    }

    async fn seen(
        &self,
        user_id: &str,
        id: &str,
        last_seen: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.pool, p => sqlx::query(&self.sql.seen)
            .bind(micros(last_seen))
            .bind(micros(expires_at))
            .bind(user_id)
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0))
        .map_err(from_sqlx)
    }

    async fn remove(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(&self.sql.remove)
            .bind(user_id)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(from_sqlx)
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        on_pool!(&self.pool, p => sqlx::query(&self.sql.clear)
            .bind(micros(now - EXPIRY_GRACE))
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(from_sqlx)
    }
}

//! The PostgreSQL schema as the db tests inspect it: a pool for the test's
//! own SQL, tables and schemas of the test's own, the columns and
//! indexes a table has, and Django's own DDL to compare with.

use sqlx::PgPool;

use super::super::services::{postgres_url, unique};

/// A plain pool on the test database, for the test's own SQL.
pub(crate) async fn admin() -> PgPool {
    PgPool::connect(&postgres_url())
        .await
        .expect("connect to the test PostgreSQL")
}

/// Drops `table` if it is there.
pub(crate) async fn drop_table(pool: &PgPool, table: &str) {
    sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\""))
        .execute(pool)
        .await
        .expect("drop the test table");
}

/// `url` with `search_path` set to `schema`: Django's default table name in
/// a schema no other test uses.
pub(crate) fn url_in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

pub(crate) async fn create_schema(pool: &PgPool) -> String {
    let schema = unique("sk_test");
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(pool)
        .await
        .expect("create a test schema");
    schema
}

pub(crate) async fn drop_schema(pool: &PgPool, schema: &str) {
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(pool)
        .await
        .expect("drop the test schema");
}

/// Columns as `information_schema` describes them.
pub(crate) async fn columns(
    pool: &PgPool,
    schema: &str,
    table: &str,
) -> Vec<(String, String, Option<i32>, String)> {
    sqlx::query_as(
        "SELECT column_name::text, data_type::text, character_maximum_length::int, \
         is_nullable::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read information_schema.columns")
}

/// `(indexname, indexdef)` of a table, by name.
pub(crate) async fn indexes(pool: &PgPool, schema: &str, table: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes \
         WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read pg_indexes")
}

/// Django's DDL for `django_session`, as `sqlmigrate sessions 0001` prints it.
pub(crate) const DJANGO_DDL: [&str; 3] = [
    "CREATE TABLE \"django_session\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
     \"session_data\" text NOT NULL, \"expire_date\" timestamp with time zone NOT NULL)",
    "CREATE INDEX \"django_session_session_key_c0390e0f_like\" ON \"django_session\" \
     (\"session_key\" varchar_pattern_ops)",
    "CREATE INDEX \"django_session_expire_date_a5c62663\" ON \"django_session\" (\"expire_date\")",
];

//! The MySQL schema as the db tests inspect it: a pool for the test's
//! own SQL, tables and databases of the test's own, the columns and
//! indexes a table has, and Django's own DDL to compare with.

use sqlx::MySqlPool;

use super::super::services::{mysql_url, unique};

/// A plain pool on the test database, for the test's own SQL.
pub(crate) async fn admin() -> MySqlPool {
    MySqlPool::connect(&mysql_url())
        .await
        .expect("connect to the test MySQL")
}

/// Drops `table` if it is there.
pub(crate) async fn drop_table(pool: &MySqlPool, table: &str) {
    sqlx::query(&format!("DROP TABLE IF EXISTS `{table}`"))
        .execute(pool)
        .await
        .expect("drop the test table");
}

/// `url` pointing at another database of the same server.
pub(crate) fn url_for_database(url: &str, database: &str) -> String {
    let (path, query) = url
        .split_once('?')
        .map_or((url, None), |(p, q)| (p, Some(q)));
    let base = path
        .strip_prefix("mysql://")
        .and_then(|rest| rest.split_once('/'))
        .map_or(path.to_owned(), |(authority, _)| {
            format!("mysql://{authority}")
        });
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A database of the test's own, so Django's default table name is free.
pub(crate) async fn create_database(pool: &MySqlPool) -> String {
    let database = unique("sk_test");
    sqlx::query(&format!("CREATE DATABASE `{database}`"))
        .execute(pool)
        .await
        .expect("create a test database");
    database
}

pub(crate) async fn drop_database(pool: &MySqlPool, database: &str) {
    sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(pool)
        .await
        .expect("drop the test database");
}

/// `(column, type, nullable, key)` as `information_schema` describes them.
pub(crate) async fn columns(
    pool: &MySqlPool,
    database: &str,
    table: &str,
) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), \
         CAST(is_nullable AS CHAR), CAST(column_key AS CHAR) \
         FROM information_schema.columns \
         WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
    )
    .bind(database)
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read information_schema.columns")
}

/// `(index, column, non_unique)` of a table, the primary key first.
pub(crate) async fn indexes(
    pool: &MySqlPool,
    database: &str,
    table: &str,
) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT CAST(index_name AS CHAR), CAST(column_name AS CHAR), CAST(non_unique AS SIGNED) \
         FROM information_schema.statistics \
         WHERE table_schema = ? AND table_name = ? ORDER BY non_unique, index_name, seq_in_index",
    )
    .bind(database)
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read information_schema.statistics")
}

pub(crate) async fn show_create(pool: &MySqlPool, database: &str, table: &str) -> String {
    let (_, ddl): (String, String) =
        sqlx::query_as(&format!("SHOW CREATE TABLE `{database}`.`{table}`"))
            .fetch_one(pool)
            .await
            .expect("SHOW CREATE TABLE");
    ddl
}

/// Django's DDL for `django_session` on MySQL (`sqlmigrate sessions 0001`).
pub(crate) const DJANGO_DDL: [&str; 2] = [
    "CREATE TABLE `django_session` (`session_key` varchar(40) NOT NULL PRIMARY KEY, \
     `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)",
    "CREATE INDEX `django_session_expire_date_a5c62663` ON `django_session` (`expire_date`)",
];

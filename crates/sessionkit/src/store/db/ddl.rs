//! The session table's name and Django's DDL for it on each database.
//!
//! The DDL is what Django's migration `sessions.0001_initial` runs, so a table
//! made by sessionkit is indistinguishable from Django's: same column types,
//! same index names (SQLite even keeps the statement text in `sqlite_master`).

use crate::error::StoreError;

use md5::{Digest, Md5};

/// Django's table name for sessions.
pub(crate) const DEFAULT_TABLE: &str = "django_session";

/// Django's `max_name_length()` per backend: SQLite has none, so Django's
/// fallback of 200 applies; PostgreSQL's `NAMEDATALEN - 1` and MySQL's 64.
#[cfg(feature = "sqlite")]
const SQLITE_MAX_NAME: usize = 200;
#[cfg(feature = "postgres")]
const POSTGRES_MAX_NAME: usize = 63;
#[cfg(feature = "mysql")]
const MYSQL_MAX_NAME: usize = 64;

/// A validated table name: `[A-Za-z_][A-Za-z0-9_]{0,62}`.
///
/// The name is spliced into SQL text (identifiers cannot be bound), so
/// nothing else is allowed in: no quote can ever reach the statement. 63
/// characters is the longest name PostgreSQL keeps without truncating it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Table(String);

impl Table {
    /// Checks `name`, or says why it cannot be a table name.
    pub(crate) fn new(name: &str) -> Result<Self, StoreError> {
        let mut bytes = name.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if first_ok && rest_ok && name.len() <= 63 {
            Ok(Self(name.to_owned()))
        } else {
            Err(StoreError::Config(
                "session table name must match [A-Za-z_][A-Za-z0-9_]{0,62}".to_owned(),
            ))
        }
    }

    /// The bare name.
    pub(crate) fn name(&self) -> &str {
        &self.0
    }

    /// The name quoted as a standard SQL identifier (`"name"`), as SQLite and
    /// PostgreSQL read it. Safe because the name holds no quote.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// The name quoted as MySQL reads it whatever its `sql_mode`
    /// (`` `name` ``). Safe because the name holds no backtick.
    #[cfg(feature = "mysql")]
    pub(crate) fn backticked(&self) -> String {
        format!("`{}`", self.0)
    }
}

/// The name Django gives an index of one column of `table`: its
/// `BaseDatabaseSchemaEditor._create_index_name(table, [column], suffix)`.
///
/// `<table>_<column>_<hash><suffix>`, where the hash is the first 8 hex
/// digits of `md5(table + column)` (Django's `names_digest`). When that is
/// longer than the backend's `max_length`, Django cuts the table and column
/// parts to `(max_length - len(hash + suffix)) / 2 - 1` characters each, and
/// a name that then starts with `_` or a digit gets a `D` in front and loses
/// its last character.
fn index_name(table: &Table, column: &str, suffix: &str, max_length: usize) -> String {
    let digest: String = Md5::digest(format!("{}{column}", table.name()).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut hash_suffix = format!("{}{suffix}", &digest[..8]);
    let full = format!("{}_{column}_{hash_suffix}", table.name());
    if full.len() <= max_length {
        return full;
    }
    // Django compares with `max_length / 3` as a float; for whole numbers
    // `3 * len > max_length` is the same test.
    if 3 * hash_suffix.len() > max_length {
        hash_suffix.truncate(max_length / 3);
    }
    // All of it is ASCII (a validated table name, our own column names), so
    // byte slicing is Python's character slicing.
    let part = (max_length - hash_suffix.len()) / 2 - 1;
    let cut = |s: &str| s[..s.len().min(part)].to_owned();
    let name = format!("{}_{}_{hash_suffix}", cut(table.name()), cut(column));
    if name.starts_with(|c: char| c == '_' || c.is_ascii_digit()) {
        format!("D{}", &name[..name.len() - 1])
    } else {
        name
    }
}

/// Django's `CREATE TABLE` and `CREATE INDEX` for SQLite, each with `IF NOT
/// EXISTS` inserted. SQLite drops that clause from the text it stores, so
/// `sqlite_master.sql` reads exactly as Django's migration wrote it.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_create(table: &Table) -> [String; 2] {
    let t = table.quoted();
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
             \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS \"{}\" ON {t} (\"expire_date\")",
            index_name(table, "expire_date", "", SQLITE_MAX_NAME)
        ),
    ]
}

/// Django's DDL for PostgreSQL, with `IF NOT EXISTS`: the table, the
/// `varchar_pattern_ops` index Django adds to every indexed `varchar` (for
/// `LIKE` outside the C locale), and the `expire_date` index.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_create(table: &Table) -> [String; 3] {
    let t = table.quoted();
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
             \"session_data\" text NOT NULL, \"expire_date\" timestamp with time zone NOT NULL)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS \"{}\" ON {t} (\"session_key\" varchar_pattern_ops)",
            index_name(table, "session_key", "_like", POSTGRES_MAX_NAME)
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS \"{}\" ON {t} (\"expire_date\")",
            index_name(table, "expire_date", "", POSTGRES_MAX_NAME)
        ),
    ]
}

/// Django's table for MySQL/MariaDB in one statement: MySQL has no `CREATE
/// INDEX IF NOT EXISTS`, so the `expire_date` index is declared inside the
/// `CREATE TABLE IF NOT EXISTS`, which makes table and index appear together
/// even when several processes start at once. The result (columns, index
/// name, `SHOW CREATE TABLE`) is the same as Django's two statements give.
#[cfg(feature = "mysql")]
pub(crate) fn mysql_create(table: &Table) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (`session_key` varchar(40) NOT NULL PRIMARY KEY, \
         `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL, \
         INDEX `{}` (`expire_date`))",
        table.backticked(),
        index_name(table, "expire_date", "", MYSQL_MAX_NAME)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(table: &str, column: &str, suffix: &str, max: usize) -> String {
        index_name(&Table::new(table).expect("valid"), column, suffix, max)
    }

    #[test]
    fn index_names_match_django() {
        // Reference values from Django's `_create_index_name` run in Python.
        for max in [63, 64, 200] {
            assert_eq!(
                name("django_session", "expire_date", "", max),
                "django_session_expire_date_a5c62663"
            );
            assert_eq!(
                name("django_session", "session_key", "_like", max),
                "django_session_session_key_c0390e0f_like"
            );
            assert_eq!(
                name("my_sessions", "expire_date", "", max),
                "my_sessions_expire_date_8a6b8a8d"
            );
            assert_eq!(
                name("my_sessions", "session_key", "_like", max),
                "my_sessions_session_key_769390aa_like"
            );
            assert_eq!(
                name("_x", "expire_date", "", max),
                "_x_expire_date_5e5c570b"
            );
        }
    }

    #[test]
    fn long_index_names_are_shortened_as_django_does() {
        // Reference values from Django's `_create_index_name` run in Python.
        let long = "a_rather_long_session_table_name_for_testing_x";
        let cases = [
            (long, "expire_date", "", 63, "a_rather_long_session_tabl_expire_date_8d00ce96"),
            (long, "expire_date", "", 64, "a_rather_long_session_table_expire_date_8d00ce96"),
            (long, "session_key", "_like", 63, "a_rather_long_session_ta_session_key_3013b3b5_like"),
            (&"s".repeat(42), "expire_date", "", 63, "ssssssssssssssssssssssssssssssssssssssssss_expire_date_9c3bb2ed"),
            (&"s".repeat(43), "expire_date", "", 63, "ssssssssssssssssssssssssss_expire_date_7688670a"),
            (&"s".repeat(43), "expire_date", "", 64, "sssssssssssssssssssssssssssssssssssssssssss_expire_date_7688670a"),
            (&"t".repeat(63), "expire_date", "", 200, "ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt_expire_date_0ec5d54d"),
            (&format!("_{}", "a".repeat(62)), "expire_date", "", 63, "D_aaaaaaaaaaaaaaaaaaaaaaaaa_expire_date_dd134b7"),
            (&format!("_{}", "a".repeat(62)), "session_key", "_like", 63, "D_aaaaaaaaaaaaaaaaaaaaaaa_session_key_b1a2be59_lik"),
        ];
        for (table, column, suffix, max, expected) in cases {
            assert_eq!(name(table, column, suffix, max), expected, "{table} {max}");
        }
    }

    #[test]
    fn table_names_are_identifiers() {
        for ok in ["django_session", "_x", "A1", &"t".repeat(63)] {
            assert!(Table::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "a\"b",
            "a`b",
            "a;drop",
            "sessions.main",
            "tablé",
            &"t".repeat(64),
        ] {
            assert!(
                matches!(Table::new(bad), Err(StoreError::Config(_))),
                "{bad}"
            );
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_ddl_is_djangos() {
        let [table, index] = sqlite_create(&Table::new(DEFAULT_TABLE).expect("valid"));
        assert_eq!(
            table.replace(" IF NOT EXISTS", ""),
            "CREATE TABLE \"django_session\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
             \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL)"
        );
        assert_eq!(
            index.replace(" IF NOT EXISTS", ""),
            "CREATE INDEX \"django_session_expire_date_a5c62663\" ON \"django_session\" \
             (\"expire_date\")"
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_ddl_is_djangos() {
        let ddl = postgres_create(&Table::new(DEFAULT_TABLE).expect("valid"));
        let plain: Vec<String> = ddl
            .iter()
            .map(|s| s.replace(" IF NOT EXISTS", ""))
            .collect();
        assert_eq!(
            plain,
            [
                "CREATE TABLE \"django_session\" (\"session_key\" varchar(40) NOT NULL PRIMARY \
                 KEY, \"session_data\" text NOT NULL, \"expire_date\" timestamp with time zone \
                 NOT NULL)",
                "CREATE INDEX \"django_session_session_key_c0390e0f_like\" ON \"django_session\" \
                 (\"session_key\" varchar_pattern_ops)",
                "CREATE INDEX \"django_session_expire_date_a5c62663\" ON \"django_session\" \
                 (\"expire_date\")",
            ]
        );
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_ddl_has_djangos_columns_and_index() {
        let ddl = mysql_create(&Table::new(DEFAULT_TABLE).expect("valid"));
        assert_eq!(
            ddl,
            "CREATE TABLE IF NOT EXISTS `django_session` (`session_key` varchar(40) NOT NULL \
             PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL, \
             INDEX `django_session_expire_date_a5c62663` (`expire_date`))"
        );
    }
}

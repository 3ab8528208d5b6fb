//! The session table's name and Django's DDL for it.
//!
//! The DDL text is exactly what Django's migration `sessions.0001_initial`
//! runs, so a table made by sessionkit is indistinguishable from Django's
//! (SQLite keeps the statement text in `sqlite_master`).

use crate::error::StoreError;

use md5::{Digest, Md5};

/// Django's table name for sessions.
pub(crate) const DEFAULT_TABLE: &str = "django_session";

/// A validated table name: `[A-Za-z_][A-Za-z0-9_]{0,62}`.
///
/// The name is spliced into SQL text (identifiers cannot be bound), so
/// nothing else is allowed in: no quote can ever reach the statement.
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

    /// The name quoted as an SQL identifier (`"name"`). Safe because the
    /// name holds no quote.
    pub(crate) fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// The name Django gives the `expire_date` index of this table:
    /// `<table>_expire_date_<first 8 hex of md5(table + "expire_date")>`, so
    /// `django_session_expire_date_a5c62663` for Django's own table.
    ///
    /// Django shortens names longer than the backend's limit; with at most 63
    /// characters of table name the result (at most 84) fits SQLite's 200, so
    /// the shortening never applies here.
    pub(crate) fn expire_date_index(&self) -> String {
        let digest: String = Md5::digest(format!("{}expire_date", self.0).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}_expire_date_{}", self.0, &digest[..8])
    }
}

/// Django's `CREATE TABLE` and `CREATE INDEX` for SQLite, each with `IF NOT
/// EXISTS` inserted. SQLite drops that clause from the text it stores, so
/// `sqlite_master.sql` reads exactly as Django's migration wrote it.
pub(crate) fn sqlite_create(table: &Table) -> [String; 2] {
    let t = table.quoted();
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
             \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS \"{}\" ON {t} (\"expire_date\")",
            table.expire_date_index()
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_match_django() {
        // Reference values from Python: hashlib.md5((t + "expire_date").encode()).
        let name = |t: &str| Table::new(t).map(|t| t.expire_date_index()).ok();
        assert_eq!(
            name("django_session").as_deref(),
            Some("django_session_expire_date_a5c62663")
        );
        assert_eq!(
            name("my_sessions").as_deref(),
            Some("my_sessions_expire_date_8a6b8a8d")
        );
        assert_eq!(name("_x").as_deref(), Some("_x_expire_date_5e5c570b"));
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

    #[test]
    fn default_ddl_is_djangos() {
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
}

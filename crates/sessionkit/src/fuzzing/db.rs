//! The `fuzzing` shim inside `store::db`: reaches the private `datetime` module.

use time::OffsetDateTime;

use super::datetime;

/// A SQLite `expire_date` as read back from the table (`None`: unreadable).
pub fn sqlite_datetime_parse(text: &[u8]) -> Option<OffsetDateTime> {
    datetime::parse(text)
}

/// The text written to SQLite's `expire_date` for `at`.
pub fn sqlite_datetime_format(at: OffsetDateTime) -> String {
    datetime::format(at)
}

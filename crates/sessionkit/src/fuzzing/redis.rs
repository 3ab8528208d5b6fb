//! The `fuzzing` shim inside `store::redis`: reaches its private reply and
//! expiry parsers.

use ::redis::Value;
use time::OffsetDateTime;

use super::{expiry, reply};
use crate::error::StoreError;

/// A session entry's `session_data` and `expire_date`, each `None` when missing.
pub type RedisFields = (Option<Vec<u8>>, Option<Vec<u8>>);

/// An `HMGET session_data expire_date` reply as a load reads it.
pub fn redis_fields(reply: Value) -> Result<RedisFields, StoreError> {
    reply::fields(reply).map(|f| (f.data, f.expire_date))
}

/// A stored `expire_date` (Unix microseconds as text) as a load reads it.
pub fn redis_from_micros(stored: &[u8]) -> Option<OffsetDateTime> {
    expiry::from_micros(stored)
}

/// The `expire_date` a save writes for `at`.
pub fn redis_to_micros(at: OffsetDateTime) -> i64 {
    expiry::to_micros(at)
}

//! Internals exposed for the fuzz targets in `fuzz/` and nothing else: this
//! module exists only with the `fuzzing` feature, is hidden from the docs and
//! is not part of the API (no semver promise). Every function forwards to the
//! crate's own code unchanged, so a target exercises exactly what a request
//! or a backend reply reaches.
//!
//! Internals that live in private modules are reached through a small shim
//! declared inside their parent (`signing`, `store::db`, `store::memcached`,
//! `store::redis`), whose files sit beside this one.

use serde_json::Value;

pub use crate::signing::fuzz::{compress_if_smaller, decompress_capped, MAX_DECOMPRESSED};

#[cfg(feature = "sqlite")]
pub use crate::store::db::fuzz::{sqlite_datetime_format, sqlite_datetime_parse};

#[cfg(feature = "memcached")]
pub use crate::store::memcached::fuzz::{
    memcached_entry_encode, memcached_entry_parse, memcached_fallback_expiry,
    memcached_token_from_version, memcached_token_to_version,
};

#[cfg(feature = "redis")]
pub use crate::store::redis::fuzz::{
    redis_fields, redis_from_micros, redis_to_micros, RedisFields,
};

/// `python_json::parse`: the slow-path reader of JSON that only Python writes
/// (`NaN`, huge integers, lone surrogates). `None` when the text is not JSON.
pub fn python_json_parse(bytes: &[u8]) -> Option<Value> {
    crate::signing::python_json::parse(bytes)
}

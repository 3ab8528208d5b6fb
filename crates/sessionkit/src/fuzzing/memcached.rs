//! The `fuzzing` shim inside `store::memcached`: reaches its private entry
//! format and version token.

use time::OffsetDateTime;

use super::entry::{self, Token};
use crate::store::Version;

/// A stored value split as a load splits it: the expiry (when readable) and
/// the signed bytes after it.
pub fn memcached_entry_parse(value: &[u8]) -> (Option<OffsetDateTime>, &[u8]) {
    let parsed = entry::parse(value);
    (parsed.expires_at, parsed.signed)
}

/// The bytes a save stores for `signed` expiring at `expires_at`.
pub fn memcached_entry_encode(expires_at: OffsetDateTime, signed: &[u8]) -> Vec<u8> {
    entry::encode(expires_at, signed)
}

/// The expiry reported for an entry whose own is unreadable, from the TTL
/// memcached reports (a hostile server chooses it).
pub fn memcached_fallback_expiry(
    ttl_remaining: Option<i64>,
    now: OffsetDateTime,
) -> OffsetDateTime {
    entry::fallback_expiry(ttl_remaining, now)
}

/// The CAS unique and digest inside a version (`None`: not this engine's).
pub fn memcached_token_from_version(version: &Version) -> Option<(u64, [u8; 32])> {
    Token::from_version(version).map(|t| (t.cas, t.digest))
}

/// The version a load or save hands out for an entry.
pub fn memcached_token_to_version(cas: u64, signed: &[u8]) -> Version {
    Token::new(cas, signed).to_version()
}

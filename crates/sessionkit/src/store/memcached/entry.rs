//! What a session looks like inside memcached, the TTL it is written with,
//! and the versions built from it.
//!
//! An entry is `<expires_at>:<signed>`: the expiry in Unix microseconds
//! (decimal), a colon, then Django's signed session. Memcached's TTL only has
//! whole seconds and cannot be read back by `gets`, so the exact expiry rides
//! inside the value; the TTL just lets memcached reclaim the entry.

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::store::Version;

/// The longest TTL memcached takes as relative seconds; anything larger is an
/// absolute Unix time (memcached's `REALTIME_MAXDELTA`, 30 days).
pub(super) const MAX_RELATIVE_TTL: i64 = 30 * 24 * 60 * 60;

/// An entry as read back: the expiry, if the prefix was readable, and the
/// bytes after it (the whole value when it was not).
#[derive(Debug, PartialEq)]
pub(super) struct Entry<'a> {
    pub(super) expires_at: Option<OffsetDateTime>,
    pub(super) signed: &'a [u8],
}

/// The bytes stored for a session.
pub(super) fn encode(expires_at: OffsetDateTime, signed: &[u8]) -> Vec<u8> {
    let stamp = unix_micros(expires_at).to_string();
    let mut out = Vec::with_capacity(stamp.len() + 1 + signed.len());
    out.extend_from_slice(stamp.as_bytes());
    out.push(b':');
    out.extend_from_slice(signed);
    out
}

/// Splits a stored value. Never fails: a value that is not ours (another
/// writer, a truncated write) has no expiry and is all "signed" bytes, which
/// then fail to verify and load as an empty session.
pub(super) fn parse(value: &[u8]) -> Entry<'_> {
    let unreadable = Entry {
        expires_at: None,
        signed: value,
    };
    let Some(colon) = value.iter().position(|&b| b == b':') else {
        return unreadable;
    };
    let (stamp, rest) = (&value[..colon], &value[colon + 1..]);
    let digits = stamp.strip_prefix(b"-").unwrap_or(stamp);
    // At most 19 digits, so the parse below can only fail on range.
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return unreadable;
    }
    let expires_at = std::str::from_utf8(stamp)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(from_unix_micros);
    match expires_at {
        Some(t) => Entry {
            expires_at: Some(t),
            signed: rest,
        },
        None => unreadable,
    }
}

fn unix_micros(t: OffsetDateTime) -> i64 {
    // Every OffsetDateTime (years ±9999) fits an i64 of microseconds.
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
}

fn from_unix_micros(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

/// Memcached's exptime for an entry that must stay until `expires_at`, or
/// `None` when it has already expired at `now` (then nothing is written).
///
/// The time left is rounded up to whole seconds, plus one: memcached's clock
/// ticks once a second, so an entry written just before a tick could
/// otherwise vanish up to a second early. Beyond 30 days memcached reads the
/// number as an absolute Unix time, counted on `wall_unix` (the real clock,
/// which is memcached's, not the layer's injectable one). Past what memcached
/// can hold (an `i32`, January 2038), the entry gets no TTL at all (`0`): the
/// expiry inside the value still ends it for `load`, and memcached's LRU
/// reclaims it.
pub(super) fn exptime(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    wall_unix: i64,
) -> Option<i64> {
    let left = expires_at - now;
    if !left.is_positive() {
        return None;
    }
    let rounded_up = left.whole_seconds() + i64::from(left.subsec_nanoseconds() > 0);
    let ttl = rounded_up.saturating_add(1);
    if ttl <= MAX_RELATIVE_TTL {
        return Some(ttl);
    }
    let absolute = wall_unix.saturating_add(ttl);
    Some(if absolute <= i64::from(i32::MAX) {
        absolute
    } else {
        0
    })
}

/// The expiry reported for an entry whose own was unreadable: memcached's
/// remaining TTL when it has one, else Django's default session age.
///
/// The TTL comes from the server, so it is not trusted to be sane: one too
/// large for the calendar (a hostile or broken server) is capped at the last
/// instant `OffsetDateTime` holds instead of panicking in the addition.
pub(super) fn fallback_expiry(ttl_remaining: Option<i64>, now: OffsetDateTime) -> OffsetDateTime {
    let left = match ttl_remaining {
        Some(secs) if secs >= 0 => Duration::seconds(secs.max(1)),
        _ => Duration::weeks(2),
    };
    now.checked_add(left).unwrap_or(LATEST)
}

/// The last instant an `OffsetDateTime` (UTC) can hold.
const LATEST: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC);

/// SHA-256 of an entry's signed part: what a version compares when the CAS
/// unique alone cannot decide (see [`Token`]).
pub(super) fn digest(signed: &[u8]) -> [u8; 32] {
    Sha256::digest(signed).into()
}

/// What a [`Version`] of this engine holds: memcached's CAS unique of the
/// entry as read or written (0 when unknown), and the digest of its signed
/// part.
///
/// The unique makes the usual save a single compare-and-set. It also changes
/// when only the expiry moved (a `touch` rewrites the entry), which must not
/// make a concurrent save fail; so when the unique no longer matches, the save
/// reads the entry again and goes ahead if its signed part is still the one
/// this version was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) cas: u64,
    pub(super) digest: [u8; 32],
}

/// Marks a version as this engine's, so another engine's bytes never parse.
const TAG: u8 = b'm';
const TOKEN_LEN: usize = 1 + 8 + 32;

impl Token {
    pub(super) fn new(cas: u64, signed: &[u8]) -> Self {
        Self {
            cas,
            digest: digest(signed),
        }
    }

    pub(super) fn to_version(self) -> Version {
        let mut bytes = Vec::with_capacity(TOKEN_LEN);
        bytes.push(TAG);
        bytes.extend_from_slice(&self.cas.to_be_bytes());
        bytes.extend_from_slice(&self.digest);
        Version::new(bytes)
    }

    /// The token inside `version`, or `None` for bytes this engine never made.
    pub(super) fn from_version(version: &Version) -> Option<Self> {
        let bytes = version.as_bytes();
        if bytes.len() != TOKEN_LEN || bytes[0] != TAG {
            return None;
        }
        let cas = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
        let digest = bytes[9..].try_into().ok()?;
        Some(Self { cas, digest })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn entries_round_trip_to_the_microsecond() {
        for t in [
            datetime!(2026-03-01 12:34:56.789012 UTC),
            datetime!(2026-03-01 12:34:56 UTC),
            datetime!(1969-12-31 23:59:59.999999 UTC),
            datetime!(9999-12-31 23:59:59.999999 UTC),
        ] {
            let value = encode(t, b"payload:ts:sig");
            let entry = parse(&value);
            assert_eq!(entry.expires_at, Some(t));
            assert_eq!(entry.signed, b"payload:ts:sig");
        }
    }

    #[test]
    fn nanoseconds_are_cut_as_django_keeps_microseconds() {
        let t = datetime!(2026-03-01 12:00:00.123456789 UTC);
        let entry_bytes = encode(t, b"x");
        assert_eq!(
            parse(&entry_bytes).expires_at,
            Some(datetime!(2026-03-01 12:00:00.123456 UTC))
        );
    }

    #[test]
    fn foreign_values_have_no_expiry_and_keep_all_bytes() {
        for value in [
            &b""[..],
            b"no colon at all",
            b":leading colon",
            b"12a:xyz",
            b"-:xyz",
            b"99999999999999999999:xyz",
            b"\x80\x05\x95pickle:",
            b"\xff\xfe:x",
        ] {
            let entry = parse(value);
            assert_eq!(entry.expires_at, None, "{value:?}");
            assert_eq!(entry.signed, value);
        }
        // In i64 range, outside OffsetDateTime's.
        let entry = parse(b"9223372036854775807:x");
        assert_eq!(entry.expires_at, None);
    }

    #[test]
    fn exptime_rounds_up_and_adds_a_second() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        let wall = now.unix_timestamp();
        assert_eq!(exptime(now + Duration::microseconds(1), now, wall), Some(2));
        assert_eq!(exptime(now + Duration::seconds(1), now, wall), Some(2));
        assert_eq!(
            exptime(now + Duration::milliseconds(1500), now, wall),
            Some(3)
        );
        assert_eq!(
            exptime(now + Duration::weeks(2), now, wall),
            Some(1_209_601)
        );
    }

    #[test]
    fn past_expiries_write_nothing() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        for past in [
            now,
            now - Duration::microseconds(1),
            now - Duration::days(30),
        ] {
            assert_eq!(exptime(past, now, now.unix_timestamp()), None);
        }
    }

    #[test]
    fn beyond_thirty_days_is_absolute_on_the_wall_clock() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        // The layer's clock may differ from the real one memcached keeps.
        let wall = now.unix_timestamp() + 3600;
        let thirty = Duration::seconds(MAX_RELATIVE_TTL - 1);
        assert_eq!(exptime(now + thirty, now, wall), Some(MAX_RELATIVE_TTL));
        let forty = Duration::days(40);
        assert_eq!(
            exptime(now + forty, now, wall),
            Some(wall + forty.whole_seconds() + 1)
        );
    }

    #[test]
    fn beyond_2038_has_no_ttl() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        let far = datetime!(2100-01-01 00:00:00 UTC);
        assert_eq!(exptime(far, now, now.unix_timestamp()), Some(0));
        let max = datetime!(9999-12-31 23:59:59.999999 UTC);
        assert_eq!(exptime(max, now, now.unix_timestamp()), Some(0));
    }

    #[test]
    fn fallback_expiry_follows_memcached_ttl() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        assert_eq!(fallback_expiry(Some(60), now), now + Duration::seconds(60));
        assert_eq!(fallback_expiry(Some(0), now), now + Duration::seconds(1));
        assert_eq!(fallback_expiry(Some(-1), now), now + Duration::weeks(2));
        assert_eq!(fallback_expiry(None, now), now + Duration::weeks(2));
    }

    #[test]
    fn a_hostile_ttl_is_capped_not_a_panic() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        for ttl in [i64::MAX, i64::MAX / 2, 400_000_000_000] {
            assert_eq!(fallback_expiry(Some(ttl), now), LATEST, "{ttl}");
        }
        let last_day = datetime!(9999-12-31 00:00:00 UTC);
        assert_eq!(fallback_expiry(None, last_day), LATEST);
        assert_eq!(
            fallback_expiry(Some(i64::MIN), now),
            now + Duration::weeks(2)
        );
    }

    #[test]
    fn tokens_round_trip_and_foreign_versions_do_not_parse() {
        let token = Token::new(42, b"signed");
        assert_eq!(Token::from_version(&token.to_version()), Some(token));
        assert_ne!(Token::new(42, b"other").digest, token.digest);
        for foreign in [
            Version::new(Vec::new()),
            Version::new(*b"1"),
            Version::new(vec![b'm'; TOKEN_LEN - 1]),
            Version::new(vec![b'x'; TOKEN_LEN]),
            Version::new(b"eyJhIjoxfQ:1uWxyz:signature".to_vec()),
        ] {
            assert_eq!(Token::from_version(&foreign), None);
        }
    }
}

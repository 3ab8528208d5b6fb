//! Session expiry in Redis: the exact expiry kept in the entry, and the TTL
//! that lets Redis reclaim it.
//!
//! The entry keeps `expires_at` in Unix microseconds, so a load returns it
//! exactly and compares it with the session layer's `now` (its clock may be
//! injected). The TTL, counted down on the server's clock in milliseconds, is
//! only how Redis drops the entry once it is of no use: `expires_at - now`
//! plus a second of grace, so that neither the rounding nor a caller's clock
//! a little behind the server's makes Redis drop a session the caller still
//! sees live.

use time::{Duration, OffsetDateTime};

/// Added to every TTL; see the module docs.
const GRACE_MS: i64 = 1_000;

/// The longest TTL we write. Redis rejects one whose deadline overflows its
/// millisecond clock; this is far beyond any session yet far from that.
const MAX_TTL_MS: i64 = i64::MAX / 4;

/// The TTL in milliseconds for a record expiring at `expires_at`: the time
/// left, rounded up, plus the grace; `None` when it has expired at `now`
/// (then nothing may be written).
pub(super) fn ttl_ms(expires_at: OffsetDateTime, now: OffsetDateTime) -> Option<i64> {
    let left = (expires_at - now).whole_nanoseconds();
    if left <= 0 {
        return None;
    }
    let ms = (left + 999_999) / 1_000_000;
    let ms = i64::try_from(ms).unwrap_or(MAX_TTL_MS);
    Some(ms.saturating_add(GRACE_MS).min(MAX_TTL_MS))
}

/// `at` in whole Unix microseconds, as the entry stores it (Django keeps
/// microseconds; finer parts are cut).
pub(super) fn to_micros(at: OffsetDateTime) -> i64 {
    // Every `OffsetDateTime` (years ±9999) fits: about 2.5e17 µs.
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
}

/// The instant a stored `expire_date` names, or `None` when it is not a
/// number of Unix microseconds we could have written.
pub(super) fn from_micros(stored: &[u8]) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(stored).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = text.parse().ok()?;
    OffsetDateTime::UNIX_EPOCH.checked_add(Duration::microseconds(micros))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

    #[test]
    fn ttl_rounds_up_and_refuses_the_past() {
        assert_eq!(
            ttl_ms(NOW + Duration::weeks(2), NOW),
            Some(1_209_600_000 + GRACE_MS)
        );
        assert_eq!(
            ttl_ms(NOW + Duration::microseconds(1), NOW),
            Some(1 + GRACE_MS)
        );
        assert_eq!(
            ttl_ms(NOW + Duration::microseconds(1_001), NOW),
            Some(2 + GRACE_MS)
        );
        assert_eq!(ttl_ms(NOW, NOW), None);
        assert_eq!(ttl_ms(NOW - Duration::microseconds(1), NOW), None);
        assert_eq!(ttl_ms(NOW - Duration::days(30), NOW), None);
    }

    #[test]
    fn far_expiries_are_capped() {
        let far = datetime!(9999-12-31 23:59:59 UTC);
        let ttl = ttl_ms(far, datetime!(1970-01-01 0:00 UTC));
        assert!(ttl.is_some_and(|ms| ms > 0 && ms <= MAX_TTL_MS));
    }

    #[test]
    fn micros_round_trip() {
        for at in [
            NOW,
            datetime!(1970-01-01 0:00 UTC),
            datetime!(1969-12-31 23:59:59.999999 UTC),
            datetime!(9999-12-31 23:59:59.999999 UTC),
            datetime!(-9999-01-01 0:00 UTC),
        ] {
            let stored = to_micros(at).to_string();
            assert_eq!(from_micros(stored.as_bytes()), Some(at), "{at}");
        }
        assert_eq!(to_micros(NOW), 1_772_368_496_789_012);
        let nanos = NOW + Duration::nanoseconds(999);
        assert_eq!(to_micros(nanos), to_micros(NOW));
    }

    #[test]
    fn unreadable_expiries() {
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1.5",
            b"1e6",
            b"abc",
            b"\xff",
            b"99999999999999999999999",
        ] {
            assert_eq!(from_micros(bad), None, "{bad:?}");
        }
    }
}

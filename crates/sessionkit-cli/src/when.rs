//! Times on the command line: `--now` (a Unix time) and `--max-age` (a
//! duration), both in decimal seconds.
//!
//! They are parsed as decimal text, not through `f64`, so a boundary such as
//! `1718452800.001` is exactly what the operator typed (Django's own
//! `max_age` checks are tested to the millisecond in the vectors).

use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};

/// A non-negative number of seconds (`--max-age`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seconds(pub Duration);

/// An instant given as Unix seconds (`--now`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixTime(pub OffsetDateTime);

/// Why a time argument was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTime(&'static str);

impl fmt::Display for BadTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BadTime {}

impl FromStr for Seconds {
    type Err = BadTime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let nanos = decimal_nanos(s)?;
        if nanos < 0 {
            return Err(BadTime("expected a number of seconds that is not negative"));
        }
        let nanos = i64::try_from(nanos).map_err(|_| BadTime("too many seconds"))?;
        Ok(Self(Duration::nanoseconds(nanos)))
    }
}

impl FromStr for UnixTime {
    type Err = BadTime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OffsetDateTime::from_unix_timestamp_nanos(decimal_nanos(s)?)
            .map(Self)
            .map_err(|_| BadTime("Unix time out of range"))
    }
}

/// `[-]digits[.digits]` as nanoseconds: at most 12 integer digits (past
/// year 30000) and 9 fraction digits, so it cannot overflow.
fn decimal_nanos(s: &str) -> Result<i128, BadTime> {
    const SHAPE: BadTime = BadTime("expected seconds such as 1717243200 or 0.5");
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(SHAPE);
    }
    if whole.len() > 12 || fraction.len() > 9 {
        return Err(BadTime(
            "expected at most 12 digits before the point and 9 after",
        ));
    }
    let whole: i128 = whole.parse().map_err(|_| SHAPE)?;
    let mut nanos: i128 = 0;
    for (i, b) in fraction.bytes().enumerate() {
        nanos += i128::from(b - b'0') * 10i128.pow(8 - i as u32);
    }
    let total = whole * 1_000_000_000 + nanos;
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds() {
        assert_eq!(decimal_nanos("0"), Ok(0));
        assert_eq!(decimal_nanos("1.5"), Ok(1_500_000_000));
        assert_eq!(
            decimal_nanos("1718452800.001"),
            Ok(1_718_452_800_001_000_000)
        );
        assert_eq!(decimal_nanos("-2.000000001"), Ok(-2_000_000_001));
        assert_eq!(decimal_nanos("7."), Ok(7_000_000_000));
        for bad in [
            "",
            ".5",
            "-",
            "1e5",
            "+1",
            "1.2.3",
            " 1",
            "1_000",
            "٣",
            "1.0000000001",
        ] {
            assert!(decimal_nanos(bad).is_err(), "{bad:?}");
        }
        assert!(decimal_nanos(&"9".repeat(13)).is_err());
    }

    #[test]
    fn max_age_is_not_negative() {
        assert!("-1".parse::<Seconds>().is_err());
        assert_eq!("60".parse::<Seconds>(), Ok(Seconds(Duration::seconds(60))));
    }

    #[test]
    fn unix_time_range() {
        assert_eq!(
            "0".parse::<UnixTime>().map(|t| t.0),
            Ok(OffsetDateTime::UNIX_EPOCH)
        );
        // Beyond what `time` can hold: an error, never a panic.
        let _ = "999999999999".parse::<UnixTime>();
    }
}

//! `expire_date` values as Django writes them on each database.
//!
//! Python's `datetime` holds microseconds, so every instant we write or
//! compare with is cut (not rounded) to microseconds first: the same instant
//! Django would have written, whatever the driver does with nanoseconds.
//!
//! SQLite: Django stores `str(naive_utc_datetime)` as TEXT,
//! `YYYY-MM-DD HH:MM:SS[.ffffff]`, and compares the column as text
//! (`expire_date > '2024-…'`). Every value we write or compare with must
//! therefore be in exactly that shape, or the lexicographic order stops
//! matching time order for Django and for us.
//!
//! PostgreSQL keeps an aware `timestamp with time zone`; MySQL with
//! `USE_TZ=True` a naive UTC `datetime(6)`.

#[cfg(feature = "sqlite")]
use time::{Date, Month, Time};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The earliest instant Python's `datetime` can hold; earlier instants are
/// clamped to it so the text stays four-digit and ordered.
#[cfg(feature = "sqlite")]
const EARLIEST: OffsetDateTime = time::macros::datetime!(0001-01-01 0:00 UTC);

/// `at` cut to whole microseconds, in UTC. An instant whose UTC form falls
/// outside the range `time` can hold is clamped to that range.
pub(crate) fn micros(at: OffsetDateTime) -> OffsetDateTime {
    let at = at
        .checked_to_offset(UtcOffset::UTC)
        .unwrap_or(if at.year() < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        });
    at - Duration::nanoseconds(i64::from(at.nanosecond() % 1_000))
}

/// `at` as the naive UTC value Django's MySQL backend writes with
/// `USE_TZ=True`, cut to microseconds.
#[cfg(feature = "mysql")]
pub(crate) fn naive_utc(at: OffsetDateTime) -> PrimitiveDateTime {
    let at = micros(at);
    PrimitiveDateTime::new(at.date(), at.time())
}

/// `at` in Django's SQLite text form: UTC, a space between date and time,
/// microseconds only when non-zero (Python's `str(datetime)`).
#[cfg(feature = "sqlite")]
pub(crate) fn format(at: OffsetDateTime) -> String {
    let at = micros(at).max(EARLIEST);
    let (date, time) = (at.date(), at.time());
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        time.hour(),
        time.minute(),
        time.second(),
    );
    // Python keeps microseconds; finer digits are cut, not rounded, as
    // `datetime` itself would never have had them.
    let micros = time.microsecond();
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out
}

/// Parses a stored `expire_date`. Accepts Django's form, and also 1 to 9
/// fraction digits (a hand-written row); anything else is `None`.
#[cfg(feature = "sqlite")]
pub(crate) fn parse(text: &[u8]) -> Option<OffsetDateTime> {
    let (main, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
        None => (text, None),
    };
    if main.len() != 19
        || main[4] != b'-'
        || main[7] != b'-'
        || main[10] != b' '
        || main[13] != b':'
        || main[16] != b':'
    {
        return None;
    }
    let year = digits(&main[0..4])?;
    let month = Month::try_from(u8::try_from(digits(&main[5..7])?).ok()?).ok()?;
    let day = u8::try_from(digits(&main[8..10])?).ok()?;
    let hour = u8::try_from(digits(&main[11..13])?).ok()?;
    let minute = u8::try_from(digits(&main[14..16])?).ok()?;
    let second = u8::try_from(digits(&main[17..19])?).ok()?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) => digits(f)? * 10u32.pow(9 - f.len() as u32),
        Some(_) => return None,
    };
    let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// ASCII digits as a number; at most 9 of them, so it cannot overflow.
#[cfg(feature = "sqlite")]
fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn micros_cuts_and_never_rounds() {
        assert_eq!(
            micros(datetime!(2024-01-02 03:04:05.123456999 UTC)),
            datetime!(2024-01-02 03:04:05.123456 UTC)
        );
        assert_eq!(
            micros(datetime!(2030-05-17 09:30:00.000000999 +05:30)),
            datetime!(2030-05-17 04:00:00 UTC)
        );
        assert_eq!(
            micros(datetime!(1999-12-31 23:59:59.9999999 UTC)),
            datetime!(1999-12-31 23:59:59.999999 UTC)
        );
        assert_eq!(
            micros(datetime!(9999-12-31 23:30:00 -01:00)),
            datetime!(9999-12-31 23:59:59.999999 UTC)
        );
        assert_eq!(
            micros(datetime!(-9999-01-01 0:30 +01:00)),
            datetime!(-9999-01-01 0:00 UTC)
        );
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn naive_utc_is_the_utc_wall_clock() {
        assert_eq!(
            naive_utc(datetime!(2030-05-17 09:30:00.000123999 +05:30)),
            datetime!(2030-05-17 04:00:00.000123)
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn formats_like_python_str() {
        assert_eq!(
            format(datetime!(2024-06-15 12:00:00.25 UTC)),
            "2024-06-15 12:00:00.250000"
        );
        assert_eq!(
            format(datetime!(2024-06-15 12:00:00 UTC)),
            "2024-06-15 12:00:00"
        );
        assert_eq!(
            format(datetime!(2030-05-17 09:30:00.000123 +05:30)),
            "2030-05-17 04:00:00.000123"
        );
        assert_eq!(
            format(datetime!(2024-01-02 03:04:05.000000999 UTC)),
            "2024-01-02 03:04:05"
        );
        assert_eq!(
            format(datetime!(0001-01-01 0:00 UTC) - time::Duration::DAY),
            "0001-01-01 00:00:00"
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn parses_what_it_formats() {
        for at in [
            datetime!(2024-06-15 12:00:00.25 UTC),
            datetime!(2099-01-01 0:00 UTC),
            datetime!(2030-05-17 04:00:00.000123 UTC),
        ] {
            assert_eq!(parse(format(at).as_bytes()), Some(at));
        }
        assert_eq!(
            parse(b"2024-06-15 12:00:00.5"),
            Some(datetime!(2024-06-15 12:00:00.5 UTC))
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn refuses_other_shapes() {
        for bad in [
            &b""[..],
            b"2024-06-15T12:00:00",
            b"2024-06-15 12:00:00Z",
            b"2024-06-15 12:00:00.",
            b"2024-06-15 12:00:00.1234567890",
            b"2024-13-15 12:00:00",
            b"2024-02-30 12:00:00",
            b"2024-06-15 24:00:00",
            b"+024-06-15 12:00:00",
            b"garbage",
            "2024-06-15 12:00:0\u{e9}".as_bytes(),
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}

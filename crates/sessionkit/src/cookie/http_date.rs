//! Django's `http_date` (`email.utils.formatdate(epoch, usegmt=True)`), the
//! format of a cookie's `expires` attribute.

use time::{Month, OffsetDateTime, Weekday};

/// `Sat, 15 Jun 2024 12:00:00 GMT` for a whole number of seconds since the
/// epoch. Django floors a fractional epoch first; callers pass the floor.
///
/// Never panics: an epoch outside years 1..=9999 is clamped to that range,
/// where Python would raise instead.
pub fn http_date(epoch_seconds: i64) -> String {
    let mut out = String::with_capacity(29);
    push_http_date(&mut out, epoch_seconds);
    out
}

/// [`http_date`], appended to `out`: a cookie is written into one buffer,
/// with no formatting machinery (this runs on every response that saves).
pub(crate) fn push_http_date(out: &mut String, epoch_seconds: i64) {
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const MIN: i64 = -62_135_596_800;
    const MAX: i64 = 253_402_300_799;
    let at = OffsetDateTime::from_unix_timestamp(epoch_seconds.clamp(MIN, MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let two = |out: &mut String, n: u8| {
        out.push(char::from(b'0' + n / 10));
        out.push(char::from(b'0' + n % 10));
    };
    out.push_str(weekday(at.weekday()));
    out.push_str(", ");
    two(out, at.day());
    out.push(' ');
    out.push_str(month(at.month()));
    out.push(' ');
    // Years 1..=9999 after the clamp: four digits, zero-padded.
    let year = at.year().clamp(1, 9999) as u16;
    two(out, (year / 100) as u8);
    two(out, (year % 100) as u8);
    out.push(' ');
    two(out, at.hour());
    out.push(':');
    two(out, at.minute());
    out.push(':');
    two(out, at.second());
    out.push_str(" GMT");
}

/// The floor of `at` as seconds since the epoch, as Python's `time.gmtime`
/// rounds a float.
pub(crate) fn floor_epoch(at: OffsetDateTime) -> i64 {
    // `unix_timestamp` already floors: the sub-second part is never negative.
    at.unix_timestamp()
}

fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

fn month(month: Month) -> &'static str {
    match month {
        Month::January => "Jan",
        Month::February => "Feb",
        Month::March => "Mar",
        Month::April => "Apr",
        Month::May => "May",
        Month::June => "Jun",
        Month::July => "Jul",
        Month::August => "Aug",
        Month::September => "Sep",
        Month::October => "Oct",
        Month::November => "Nov",
        Month::December => "Dec",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_like_python() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_718_452_800), "Sat, 15 Jun 2024 12:00:00 GMT");
        assert_eq!(http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
    }

    #[test]
    fn extremes_are_clamped_not_panics() {
        assert_eq!(http_date(i64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(http_date(i64::MIN), "Mon, 01 Jan 0001 00:00:00 GMT");
    }

    #[test]
    fn floor_of_negative_fractions() {
        assert_eq!(floor_epoch(datetime!(1969-12-31 23:59:59.5 UTC)), -1);
        assert_eq!(
            floor_epoch(datetime!(2024-06-01 12:00:00.25 UTC)),
            1_717_243_200
        );
    }
}

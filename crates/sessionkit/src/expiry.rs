//! Django's session expiry rules (spec §6), on the `_session_expiry` value kept
//! inside the session dict.
//!
//! The value is what Django stores: an integer number of seconds (sliding: counted
//! from every save), `0` for "expire at browser close", or an ISO 8601 string from
//! `datetime.isoformat()` for an absolute time. Keeping it in the record is what
//! makes a custom expiry survive the next request.

use serde_json::Value;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The dict key Django keeps a session's custom expiry under.
pub const EXPIRY_KEY: &str = "_session_expiry";

/// The furthest, in seconds, an expiry computed here reaches from "now",
/// either way: about 317 years.
///
/// Django has no bound: it raises `OverflowError` once a date passes Python's
/// year 9999. The `time` crate panics instead (its `+` expects), so every
/// offset a request can influence (`SESSION_COOKIE_AGE`, an integer
/// `_session_expiry`, [`Expiry::After`]) is clamped to this, which keeps
/// `now ± offset` inside `time`'s ±9999 years for any real clock. No session
/// needs more, and `SESSION_COOKIE_AGE` is refused beyond it.
#[doc(hidden)] // Django's arithmetic, for tests and the harness: not an API
pub const MAX_OFFSET_SECONDS: i64 = 10_000_000_000;

/// `now + offset`, with `offset` clamped to ±[`MAX_OFFSET_SECONDS`] and the
/// result to `time`'s range: never a panic, whatever the offset.
#[doc(hidden)] // Django's arithmetic, for tests and the harness: not an API
pub fn offset_from(now: OffsetDateTime, offset: Duration) -> OffsetDateTime {
    let limit = Duration::seconds(MAX_OFFSET_SECONDS);
    now.saturating_add(offset.clamp(-limit, limit))
}

/// A custom expiry for one session, as Django's `set_expiry` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Back to the default (`SESSION_COOKIE_AGE`, or browser close when
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`): removes `_session_expiry`.
    Default,
    /// Expire at browser close (Django's `set_expiry(0)`); the server copy still
    /// lives `SESSION_COOKIE_AGE`.
    BrowserClose,
    /// Expire this many seconds after each save (sliding). Negative values are
    /// stored as Django stores them (the session is expired at once).
    Seconds(i64),
    /// Expire this long after now: stored as an absolute time, as Django does
    /// with a `timedelta`. Clamped to [`MAX_OFFSET_SECONDS`] either way, where
    /// Django would raise `OverflowError`.
    After(Duration),
    /// Expire at this absolute time, kept with its UTC offset.
    At(OffsetDateTime),
}

impl Expiry {
    /// The `_session_expiry` value to store, or `None` to remove it.
    pub fn to_value(self, now: OffsetDateTime) -> Option<Value> {
        match self {
            Expiry::Default => None,
            Expiry::BrowserClose => Some(Value::from(0)),
            Expiry::Seconds(s) => Some(Value::from(s)),
            Expiry::After(d) => Some(Value::String(isoformat(offset_from(now, d)))),
            Expiry::At(at) => Some(Value::String(isoformat(at))),
        }
    }
}

/// Python's truthiness for a JSON value: what `if not expiry` tests.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Django's `get_expiry_age`: whole seconds until expiry, measured from `now`.
///
/// No expiry → `cookie_age`; a number → that number (not relative to `now`:
/// Django returns it as is); a date string → `floor(expiry − now)`.
#[doc(hidden)] // Django's arithmetic, for tests and the harness: not an API
pub fn expiry_age(expiry: Option<&Value>, now: OffsetDateTime, cookie_age: i64) -> i64 {
    let Some(v) = expiry.filter(|v| truthy(v)) else {
        return cookie_age;
    };
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .unwrap_or(cookie_age),
        Value::Bool(true) => 1,
        Value::String(s) => match parse_isoformat(s) {
            Some(at) => (at - now).floor_seconds(),
            None => cookie_age,
        },
        // Python would raise on a list or dict here; the default is the safe reading.
        _ => cookie_age,
    }
}

/// Django's `get_expiry_date`: when the session expires if saved at `now`.
#[doc(hidden)] // Django's arithmetic, for tests and the harness: not an API
pub fn expiry_date(expiry: Option<&Value>, now: OffsetDateTime, cookie_age: i64) -> OffsetDateTime {
    if let Some(Value::String(s)) = expiry {
        if let Some(at) = parse_isoformat(s) {
            return at;
        }
    }
    let seconds = match expiry.filter(|v| truthy(v)) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(cookie_age as f64),
        Some(Value::Bool(true)) => 1.0,
        _ => cookie_age as f64,
    };
    // Clamp so a hostile or absurd stored number can never overflow the date
    // (`seconds_f64` itself panics beyond `i64` seconds; JSON has no NaN).
    let limit = MAX_OFFSET_SECONDS as f64;
    offset_from(now, Duration::seconds_f64(seconds.clamp(-limit, limit)))
}

/// Django's `get_expire_at_browser_close`.
#[doc(hidden)] // Django's arithmetic, for tests and the harness: not an API
pub fn expire_at_browser_close(expiry: Option<&Value>, setting: bool) -> bool {
    match expiry {
        None | Some(Value::Null) => setting,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::Bool(b)) => !*b,
        Some(_) => false,
    }
}

trait FloorSeconds {
    fn floor_seconds(self) -> i64;
}

impl FloorSeconds for Duration {
    // Python's `delta.days * 86400 + delta.seconds` floors toward minus infinity.
    fn floor_seconds(self) -> i64 {
        let whole = self.whole_seconds();
        if self.subsec_nanoseconds() < 0 {
            whole - 1
        } else {
            whole
        }
    }
}

/// Python's `datetime.isoformat()` for an aware datetime: microseconds omitted
/// when zero, offset as `+HH:MM` (`+HH:MM:SS` when it has seconds).
#[doc(hidden)] // Django's arithmetic, for tests and the harness: not an API
pub fn isoformat(at: OffsetDateTime) -> String {
    let (y, mo, d) = (at.year(), at.month() as u8, at.day());
    let (h, mi, s, us) = (at.hour(), at.minute(), at.second(), at.microsecond());
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if us != 0 {
        out.push_str(&format!(".{us:06}"));
    }
    let off = at.offset();
    let total = off.whole_seconds();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60));
    if !abs.is_multiple_of(60) {
        out.push_str(&format!(":{:02}", abs % 60));
    }
    out
}

/// Python's `datetime.fromisoformat` for the shapes Django writes:
/// `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,6}]][Z|±HH:MM[:SS]]`. A value without an offset
/// is read as UTC (Django runs with `USE_TZ=True`). `None` for anything else.
#[doc(hidden)] // Django's arithmetic, for tests and the harness: not an API
pub fn parse_isoformat(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() < 16 || !b.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' {
        return None;
    }
    let year = num(0..4)? as i32;
    let month = Month::try_from(num(5..7)? as u8).ok()?;
    let day = num(8..10)? as u8;
    let hour = num(11..13)? as u8;
    let minute = num(14..16)? as u8;
    let mut i = 16;
    let (mut second, mut micro) = (0u8, 0u32);
    if b.get(i) == Some(&b':') {
        second = num(i + 1..i + 3)? as u8;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let digits = end - start;
            if digits == 0 || digits > 6 {
                return None;
            }
            micro = num(start..end)? * 10u32.pow((6 - digits) as u32);
            i = end;
        }
    }
    let offset = match &s[i..] {
        "" | "Z" => UtcOffset::UTC,
        rest => {
            let sign: i32 = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = &rest[1..];
            let rb = r.as_bytes();
            if rb.len() < 5 || rb[2] != b':' {
                return None;
            }
            let oh = num(i + 1..i + 3)? as i32;
            let om = num(i + 4..i + 6)? as i32;
            let os = match rb.len() {
                5 => 0,
                8 if rb[5] == b':' => num(i + 7..i + 9)? as i32,
                _ => return None,
            };
            UtcOffset::from_whole_seconds(sign * (oh * 3600 + om * 60 + os)).ok()?
        }
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let t = Time::from_hms_micro(hour, minute, second, micro).ok()?;
    Some(PrimitiveDateTime::new(date, t).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const REF: OffsetDateTime = datetime!(2024-06-01 12:00:00.25 UTC);
    const AGE: i64 = 1_209_600;

    #[test]
    fn age_defaults_and_numbers() {
        assert_eq!(expiry_age(None, REF, AGE), AGE);
        assert_eq!(expiry_age(Some(&Value::from(0)), REF, AGE), AGE);
        assert_eq!(expiry_age(Some(&Value::from(300)), REF, AGE), 300);
        assert_eq!(expiry_age(Some(&Value::from(-10)), REF, AGE), -10);
        assert_eq!(expiry_age(Some(&Value::Null), REF, AGE), AGE);
    }

    #[test]
    fn age_from_dates_floors() {
        let v = Value::from("2024-06-02T12:00:00.250000+00:00");
        assert_eq!(expiry_age(Some(&v), REF, AGE), 86_400);
        let v = Value::from("2099-01-01T00:00:00+00:00");
        assert_eq!(expiry_age(Some(&v), REF, AGE), 2_353_665_599);
        let v = Value::from("2030-05-17T09:30:00.000123+05:30");
        assert_eq!(expiry_age(Some(&v), REF, AGE), 187_977_599);
        // half a second in the past floors to -1, as Python does
        let v = Value::from("2024-06-01T11:59:59.750000+00:00");
        assert_eq!(expiry_age(Some(&v), REF, AGE), -1);
    }

    #[test]
    fn dates() {
        assert_eq!(
            expiry_date(None, REF, AGE),
            datetime!(2024-06-15 12:00:00.25 UTC)
        );
        assert_eq!(
            expiry_date(Some(&Value::from(300)), REF, AGE),
            datetime!(2024-06-01 12:05:00.25 UTC)
        );
        assert_eq!(
            expiry_date(Some(&Value::from(0)), REF, AGE),
            datetime!(2024-06-15 12:00:00.25 UTC)
        );
        let v = Value::from("2030-05-17T09:30:00.000123+05:30");
        assert_eq!(
            expiry_date(Some(&v), REF, AGE),
            datetime!(2030-05-17 04:00:00.000123 UTC)
        );
    }

    #[test]
    fn browser_close() {
        assert!(!expire_at_browser_close(None, false));
        assert!(expire_at_browser_close(None, true));
        assert!(expire_at_browser_close(Some(&Value::from(0)), false));
        assert!(expire_at_browser_close(Some(&Value::from(0.0)), false));
        assert!(!expire_at_browser_close(Some(&Value::from(10)), true));
        assert!(!expire_at_browser_close(Some(&Value::from("0")), true));
    }

    #[test]
    fn isoformat_matches_python() {
        assert_eq!(
            isoformat(datetime!(2024-06-02 12:00:00.25 UTC)),
            "2024-06-02T12:00:00.250000+00:00"
        );
        assert_eq!(
            isoformat(datetime!(2099-01-01 0:00 UTC)),
            "2099-01-01T00:00:00+00:00"
        );
        assert_eq!(
            isoformat(datetime!(2030-05-17 09:30:00.000123 +05:30)),
            "2030-05-17T09:30:00.000123+05:30"
        );
        assert_eq!(
            isoformat(datetime!(2030-05-17 09:30 -03:00)),
            "2030-05-17T09:30:00-03:00"
        );
    }

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        for s in [
            "2024-06-02T12:00:00.250000+00:00",
            "2099-01-01T00:00:00+00:00",
            "2030-05-17T09:30:00.000123+05:30",
            "2030-05-17T09:30:00-03:00",
        ] {
            assert_eq!(isoformat(parse_isoformat(s).unwrap()), s);
        }
        assert_eq!(
            parse_isoformat("2024-06-01 12:00"),
            Some(datetime!(2024-06-01 12:00 UTC))
        );
        assert_eq!(
            parse_isoformat("2024-06-01T12:00:00.5Z"),
            Some(datetime!(2024-06-01 12:00:00.5 UTC))
        );
        for bad in [
            "",
            "2024",
            "2024-13-01T00:00:00",
            "2024-06-01T25:00:00",
            "2024-06-01T12:00:00+5",
            "2024-06-01T12:00:00.1234567",
            "2024-06-01T12:00:00+00:00x",
            "é024-06-01T12:00:00",
        ] {
            assert_eq!(parse_isoformat(bad), None, "{bad}");
        }
    }

    #[test]
    fn set_expiry_values() {
        assert_eq!(Expiry::Default.to_value(REF), None);
        assert_eq!(Expiry::BrowserClose.to_value(REF), Some(Value::from(0)));
        assert_eq!(Expiry::Seconds(300).to_value(REF), Some(Value::from(300)));
        assert_eq!(
            Expiry::After(Duration::hours(1)).to_value(REF),
            Some(Value::from("2024-06-01T13:00:00.250000+00:00"))
        );
    }

    /// An app passing a user-chosen duration cannot panic the request (review
    /// L2c): the offset is clamped to about 317 years either way.
    #[test]
    fn enormous_after_is_clamped() {
        let far = REF + Duration::seconds(MAX_OFFSET_SECONDS);
        let near = REF - Duration::seconds(MAX_OFFSET_SECONDS);
        for (d, at) in [
            (Duration::MAX, far),
            (Duration::seconds(i64::MAX / 2), far),
            (Duration::MIN, near),
        ] {
            assert_eq!(
                Expiry::After(d).to_value(REF),
                Some(Value::from(isoformat(at))),
                "{d}"
            );
        }
        // Even at the edge of `time`'s range the result saturates.
        let edge = datetime!(9999-12-31 23:00 UTC);
        assert!(Expiry::After(Duration::days(2)).to_value(edge).is_some());
        assert_eq!(
            offset_from(edge, Duration::days(2)),
            OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX)
        );
    }

    #[test]
    fn absurd_cookie_age_is_clamped() {
        let far = REF + Duration::seconds(MAX_OFFSET_SECONDS);
        assert_eq!(expiry_date(None, REF, i64::MAX), far);
        assert_eq!(expiry_date(Some(&Value::from(i64::MAX)), REF, AGE), far);
        assert_eq!(expiry_date(Some(&Value::from(f64::MAX)), REF, AGE), far);
    }
}

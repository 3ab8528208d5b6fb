//! Where a file session's expiry lives: in its `_session_expiry`, or in the
//! file's modification time.
//!
//! Django's file engine has no expiry field. At load it takes
//! `_session_expiry` when that is a date, and otherwise counts from the
//! file's mtime: `mtime + SESSION_COOKIE_AGE` (no expiry, or `0`), or
//! `mtime + n` for an integer `n` (our decision: Django never expires those).
//! So the store writes each file with the mtime that makes this rule give
//! back the record's `expires_at`; when the session layer and the store
//! agree on the cookie age, that mtime is simply the time of the save.

use std::time::{Duration as StdDuration, SystemTime};

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::expiry::{expiry_date, parse_isoformat, EXPIRY_KEY};
use crate::store::SessionMap;

/// How a session's expiry follows from its file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Rule {
    /// An absolute `_session_expiry` date: the mtime plays no part.
    At(OffsetDateTime),
    /// This long after the file's mtime.
    AfterMtime(Duration),
}

impl Rule {
    /// The rule for a session dict, with Django's cookie age as the default.
    pub(super) fn of(data: &SessionMap, cookie_age: i64) -> Self {
        let value = data.get(EXPIRY_KEY);
        if let Some(Value::String(s)) = value {
            if let Some(at) = parse_isoformat(s) {
                return Rule::At(at);
            }
        }
        // `expiry_date` knows Python's truthiness and clamps absurd numbers;
        // asked at the epoch it gives the offset without any overflow risk.
        let epoch = OffsetDateTime::UNIX_EPOCH;
        Rule::AfterMtime(expiry_date(value, epoch, cookie_age) - epoch)
    }

    /// When a file with this rule and this mtime expires; `None` when that
    /// time cannot be represented (a file with an absurd mtime).
    pub(super) fn deadline(self, mtime: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Rule::At(at) => Some(at),
            Rule::AfterMtime(after) => mtime.checked_add(after),
        }
    }

    /// The mtime that makes [`deadline`](Self::deadline) give `expires_at`.
    /// With an absolute date the mtime is free, and `now` is the honest one.
    pub(super) fn mtime_for(
        self,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        match self {
            Rule::At(_) => Some(now),
            Rule::AfterMtime(after) => expires_at.checked_sub(after),
        }
    }
}

/// A file time as a date; `None` beyond the years the `time` crate holds.
pub(super) fn from_system(t: SystemTime) -> Option<OffsetDateTime> {
    let nanos = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok()?,
        Err(before) => -i128::try_from(before.duration().as_nanos()).ok()?,
    };
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// A date as a file time; `None` where the platform's clock cannot hold it.
pub(super) fn to_system(t: OffsetDateTime) -> Option<SystemTime> {
    let secs = t.unix_timestamp();
    let subsec = StdDuration::new(0, t.nanosecond());
    let whole = StdDuration::from_secs(secs.unsigned_abs());
    let at_second = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(whole)?
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(whole)?
    };
    at_second.checked_add(subsec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const AGE: i64 = 1_209_600;
    const NOW: OffsetDateTime = datetime!(2024-06-01 12:00:00.25 UTC);

    fn data(value: Value) -> SessionMap {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn rules_follow_django() {
        assert_eq!(
            Rule::of(&data(json!({})), AGE),
            Rule::AfterMtime(Duration::seconds(AGE))
        );
        for browser_close in [json!(0), json!(null), json!(false), json!("")] {
            let d = data(json!({ EXPIRY_KEY: browser_close }));
            assert_eq!(Rule::of(&d, AGE), Rule::AfterMtime(Duration::seconds(AGE)));
        }
        let d = data(json!({ EXPIRY_KEY: 600 }));
        assert_eq!(Rule::of(&d, AGE), Rule::AfterMtime(Duration::seconds(600)));
        let d = data(json!({ EXPIRY_KEY: -10 }));
        assert_eq!(Rule::of(&d, AGE), Rule::AfterMtime(Duration::seconds(-10)));
        let d = data(json!({ EXPIRY_KEY: "2024-06-01T14:00:00.250000+00:00" }));
        assert_eq!(
            Rule::of(&d, AGE),
            Rule::At(datetime!(2024-06-01 14:00:00.25 UTC))
        );
        let d = data(json!({ EXPIRY_KEY: "not a date" }));
        assert_eq!(Rule::of(&d, AGE), Rule::AfterMtime(Duration::seconds(AGE)));
    }

    #[test]
    fn mtime_gives_back_the_expiry() {
        let expires_at = NOW + Duration::minutes(10) + Duration::microseconds(123);
        for value in [
            json!({}),
            json!({ EXPIRY_KEY: 600 }),
            json!({ EXPIRY_KEY: 0.5 }),
        ] {
            let rule = Rule::of(&data(value), AGE);
            let mtime = rule.mtime_for(expires_at, NOW).unwrap();
            assert_eq!(rule.deadline(mtime), Some(expires_at));
        }
        // The session layer's own expiry and the store's agree: mtime = now.
        let rule = Rule::of(&data(json!({})), AGE);
        assert_eq!(rule.mtime_for(NOW + Duration::seconds(AGE), NOW), Some(NOW));
        let at = Rule::At(datetime!(2030-01-01 0:00 UTC));
        assert_eq!(at.mtime_for(expires_at, NOW), Some(NOW));
    }

    #[test]
    fn absurd_times_do_not_panic() {
        let rule = Rule::AfterMtime(Duration::seconds(AGE));
        let max = datetime!(+9999-12-31 23:59:59.999999999 UTC);
        assert_eq!(rule.deadline(max), None);
        let min = datetime!(-9999-01-01 0:00 UTC);
        assert_eq!(rule.mtime_for(min, NOW), None);
        assert!(to_system(min).is_none() || from_system(to_system(min).unwrap()) == Some(min));
    }

    #[test]
    fn system_time_round_trips() {
        for t in [
            NOW,
            datetime!(1969-12-31 23:59:58.5 UTC),
            datetime!(1900-01-01 0:00:00.000001 UTC),
            OffsetDateTime::UNIX_EPOCH,
        ] {
            let system = to_system(t).unwrap();
            assert_eq!(from_system(system), Some(t));
        }
    }
}

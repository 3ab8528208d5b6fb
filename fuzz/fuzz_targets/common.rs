//! Helpers shared by the targets (each includes this file as a module).
#![allow(dead_code)]

use time::OffsetDateTime;

/// The first and last Unix second `time` can hold (years -9999 and 9999).
const MIN_UNIX: i64 = -377_705_116_800;
const MAX_UNIX: i64 = 253_402_300_799;

/// Any instant `time` can hold, to the nanosecond, chosen by the fuzzer.
pub fn instant(secs: i64, nanos: u32) -> OffsetDateTime {
    let span = (MAX_UNIX - MIN_UNIX + 1) as i128;
    let secs = (MIN_UNIX as i128 + (secs as i128).rem_euclid(span)) as i64;
    OffsetDateTime::from_unix_timestamp(secs)
        .expect("in range")
        .replace_nanosecond(nanos % 1_000_000_000)
        .expect("in range")
}

/// An instant a wall clock can show (1970 to 2199), chosen by the fuzzer.
pub fn wall_clock(secs: i64, nanos: u32) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs.rem_euclid(7_258_118_400))
        .expect("in range")
        .replace_nanosecond(nanos % 1_000_000_000)
        .expect("in range")
}

/// `at` cut to whole microseconds (what every store keeps).
pub fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .expect("in range")
}

/// The fixed "now" of targets that do not fuzz it.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("in range")
}

//! F6: `_session_expiry`, which Django (or anyone holding the key) wrote.
//! `parse_isoformat` round-trips through `isoformat`; the expiry helpers never
//! panic, for any stored value and any `SESSION_COOKIE_AGE`, at any `now` a
//! wall clock can show (1970–2200). A `now` within ~317 years of `time`'s
//! limits (year ±9999) still panics in `expiry_date` (`now + 1e10 s`):
//! reported, not a request-reachable case.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessionkit::__fuzz;
use sessionkit::expiry::{
    expire_at_browser_close, expiry_age, expiry_date, isoformat, parse_isoformat,
};

#[derive(Arbitrary, Debug)]
struct Input {
    /// The stored value as JSON text (Python's JSON: NaN, 1e400, huge ints).
    stored: Vec<u8>,
    now_secs: i64,
    now_nanos: u32,
    cookie_age: i64,
    browser_close: bool,
}

fuzz_target!(|input: Input| {
    let now = common::wall_clock(input.now_secs, input.now_nanos);
    if let Ok(text) = std::str::from_utf8(&input.stored) {
        if let Some(at) = parse_isoformat(text) {
            assert_eq!(
                parse_isoformat(&isoformat(at)),
                Some(at),
                "isoformat round trip"
            );
        }
    }
    let value = __fuzz::python_json_parse(&input.stored)
        .or_else(|| std::str::from_utf8(&input.stored).ok().map(|s| s.into()));
    let _ = expiry_age(value.as_ref(), now, input.cookie_age);
    let _ = expiry_date(value.as_ref(), now, input.cookie_age);
    let _ = expire_at_browser_close(value.as_ref(), input.browser_close);
});

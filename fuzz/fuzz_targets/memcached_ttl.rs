//! F7 (memcached TTL): the expiry of an entry whose own is unreadable comes
//! from the TTL memcached reports, which a hostile or broken server chooses.
//! Any TTL, at any `now`, must give a date, never a panic (finding L2b).
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use sessionkit::__fuzz;

fuzz_target!(|input: (Option<i64>, i64, u32)| {
    let (ttl, secs, nanos) = input;
    // `now` is the wall clock: any year from 1970 to 2200 is plausible.
    let now = common::wall_clock(secs, nanos);
    let _ = __fuzz::memcached_fallback_expiry(ttl, now);
});

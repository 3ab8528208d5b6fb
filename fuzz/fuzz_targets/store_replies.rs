//! F7: what a compromised or broken backend can send back. Memcached entries
//! and version tokens, Redis `HMGET` replies and expiries, SQLite
//! `expire_date` text: no panic on any bytes, and what we write reads back
//! exactly (to the microsecond).
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use redis::Value;
use sessionkit::__fuzz;
use sessionkit::store::Version;

/// A Redis reply of any shape, to a bounded depth.
fn reply(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=6)? {
        0 => Value::Nil,
        1 => Value::Int(u.arbitrary()?),
        2 => Value::BulkString(u.arbitrary()?),
        3 => Value::Okay,
        4 => Value::SimpleString(u.arbitrary()?),
        5 => Value::Boolean(u.arbitrary()?),
        _ if depth < 3 => {
            let n = u.int_in_range(0..=5)?;
            Value::Array(
                (0..n)
                    .map(|_| reply(u, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => Value::Nil,
    })
}

#[derive(Arbitrary, Debug)]
enum Input {
    MemcachedValue(Vec<u8>),
    MemcachedRoundTrip {
        secs: i64,
        nanos: u32,
        signed: Vec<u8>,
    },
    MemcachedVersion(Vec<u8>),
    MemcachedToken {
        cas: u64,
        signed: Vec<u8>,
    },
    RedisReply(Vec<u8>),
    RedisExpiry(Vec<u8>),
    RedisRoundTrip {
        secs: i64,
        nanos: u32,
    },
    SqliteText(Vec<u8>),
    SqliteRoundTrip {
        secs: i64,
        nanos: u32,
    },
}

fuzz_target!(|input: Input| match input {
    Input::MemcachedValue(bytes) => {
        let (_, signed) = __fuzz::memcached_entry_parse(&bytes);
        assert!(bytes.ends_with(signed));
    }
    Input::MemcachedRoundTrip {
        secs,
        nanos,
        signed,
    } => {
        let at = common::instant(secs, nanos);
        let stored = __fuzz::memcached_entry_encode(at, &signed);
        let (expires_at, rest) = __fuzz::memcached_entry_parse(&stored);
        assert_eq!(
            (expires_at, rest),
            (Some(common::to_micros(at)), signed.as_slice())
        );
    }
    Input::MemcachedVersion(bytes) => {
        let _ = __fuzz::memcached_token_from_version(&Version::new(bytes));
    }
    Input::MemcachedToken { cas, signed } => {
        let version = __fuzz::memcached_token_to_version(cas, &signed);
        let (back_cas, _) = __fuzz::memcached_token_from_version(&version).expect("our token");
        assert_eq!(back_cas, cas);
    }
    Input::RedisReply(bytes) => {
        if let Ok(v) = reply(&mut Unstructured::new(&bytes), 0) {
            let _ = __fuzz::redis_fields(v);
        }
    }
    Input::RedisExpiry(bytes) => {
        let _ = __fuzz::redis_from_micros(&bytes);
    }
    Input::RedisRoundTrip { secs, nanos } => {
        let at = common::instant(secs, nanos);
        let stored = __fuzz::redis_to_micros(at).to_string();
        assert_eq!(
            __fuzz::redis_from_micros(stored.as_bytes()),
            Some(common::to_micros(at))
        );
    }
    Input::SqliteText(bytes) => {
        let _ = __fuzz::sqlite_datetime_parse(&bytes);
    }
    Input::SqliteRoundTrip { secs, nanos } => {
        let at = common::instant(secs, nanos);
        if at.year() >= 1 {
            let text = __fuzz::sqlite_datetime_format(at);
            assert_eq!(
                __fuzz::sqlite_datetime_parse(text.as_bytes()),
                Some(common::to_micros(at)),
                "{text}"
            );
        }
    }
});

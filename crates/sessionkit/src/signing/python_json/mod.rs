//! Values Python's JSON holds that `serde_json::Value` cannot, kept as raw
//! tokens so they go back to Django byte for byte.
//!
//! Python's `json.loads` accepts `NaN`, `Infinity` and `-Infinity`, integers of
//! any size and strings with lone surrogates (`"\ud800"`). Django signs whatever
//! a view put in the session, so a session may hold any of them. Failing to
//! decode such a session would load it empty and the next save would erase it
//! (login included), so each such value is kept as a **raw marker** instead: a
//! one-entry object whose key is [`RAW_JSON_KEY`] and whose value is the token
//! as Python's `json.dumps` writes it. The writer puts the token back verbatim.
//!
//! | Django wrote | the session holds | sessionkit writes back |
//! |---|---|---|
//! | `NaN` (`Infinity`, `-Infinity`) | `{RAW_JSON_KEY: "NaN"}` (…) | `NaN` (…) |
//! | `1e400`, which Python reads as infinity | `{RAW_JSON_KEY: "Infinity"}` | `Infinity` |
//! | `1180591620717411303424` | `{RAW_JSON_KEY: "1180591620717411303424"}` | the same digits |
//! | `"\ud800x"` | `{RAW_JSON_KEY: "\"\\ud800x\""}` | `"\ud800x"` |
//! | a key `"\udc00"` | the key `RAW_JSON_KEY + "\"\\udc00\""` | `"\udc00"` |
//!
//! Only values `Value` cannot hold become markers: integers within `i64`/`u64`
//! and every float serde_json can read stay numbers, and strings whose
//! surrogates are all paired stay strings. A token is kept in the form Python
//! would write it back (`\uD800` → `\ud800`, `\/` → `/`, `1e400` → `Infinity`),
//! so the bytes Django gets back are the bytes it would have written itself.
//!
//! ```
//! use serde_json::json;
//! use sessionkit::signing::python_json::{raw_token, raw_value, RAW_JSON_KEY};
//! use sessionkit::signing::json::to_python_json;
//!
//! let big = raw_value("1180591620717411303424").expect("an integer beyond u64");
//! assert_eq!(big, json!({ RAW_JSON_KEY: "1180591620717411303424" }));
//! assert_eq!(raw_token(&big), Some("1180591620717411303424"));
//! assert_eq!(to_python_json(&json!({"n": big})), r#"{"n":1180591620717411303424}"#);
//!
//! // Anything else shaped like a marker is plain data, written as an object.
//! let fake = json!({ RAW_JSON_KEY: "1, \"injected\": 2" });
//! assert_eq!(raw_token(&fake), None);
//! assert!(to_python_json(&fake).starts_with(r#"{"\u0000sessionkit:python-json":"#));
//! ```

use serde_json::{Map, Value};

/// The key of a raw marker, and the prefix of a key that stands for a
/// lone-surrogate key. It starts with a NUL so real data cannot hit it by
/// accident; data that carries it on purpose is only ever written back as one
/// of the tokens accepted here, never as arbitrary JSON.
pub const RAW_JSON_KEY: &str = "\u{0}sessionkit:python-json";

/// How deep arrays and objects may nest before the payload is refused.
/// Python stops near 1000 (its recursion limit); 512 keeps the recursive
/// parser, and `Value`'s recursive drop, well inside a 2 MiB thread stack even
/// in debug builds.
pub const MAX_DEPTH: usize = 512;

/// The raw token a marker stands for (`NaN`, `Infinity`, `-Infinity`, an
/// integer beyond `i64`/`u64`, or a quoted string holding a lone surrogate),
/// or `None` if `value` is not a marker.
///
/// An object that has the marker's shape but not one of these tokens (in the
/// form Python writes it) is not a marker: it is plain data.
pub fn raw_token(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => object_token(map),
        _ => None,
    }
}

/// The raw string token a map key stands for (a quoted string holding a lone
/// surrogate, as Python writes it), or `None` for an ordinary key.
pub fn raw_key_token(key: &str) -> Option<&str> {
    let token = key.strip_prefix(RAW_JSON_KEY)?;
    is_string_token(token).then_some(token)
}

/// A marker for `token`, which must be a value `Value` cannot hold, written as
/// Python writes it; `None` otherwise (use an ordinary `Value` for the rest).
pub fn raw_value(token: &str) -> Option<Value> {
    is_value_token(token).then(|| marker(token.to_owned()))
}

#[inline]
pub(crate) fn object_token(map: &Map<String, Value>) -> Option<&str> {
    if map.len() != 1 {
        return None;
    }
    match map.iter().next() {
        Some((key, Value::String(token))) if key == RAW_JSON_KEY && is_value_token(token) => {
            Some(token)
        }
        _ => None,
    }
}

/// Whether a value serde_json read may have lost an integer: serde_json turns
/// an integer beyond `i64`/`u64` into a float, which is then at least 2^63 in
/// magnitude. A float token that large (`1e+19`) also matches; parsing again
/// gives the same value for it, so that only costs time.
pub(crate) fn may_hold_big_int(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64() && n.as_f64().is_some_and(|f| f.abs() >= TWO_POW_63),
        Value::Array(items) => items.iter().any(may_hold_big_int),
        Value::Object(map) => map.values().any(may_hold_big_int),
        _ => false,
    }
}

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

fn marker(token: String) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(RAW_JSON_KEY.to_owned(), Value::String(token));
    Value::Object(map)
}

fn is_value_token(token: &str) -> bool {
    match token.as_bytes().first() {
        Some(b'"') => is_string_token(token),
        _ => matches!(token, "NaN" | "Infinity" | "-Infinity") || is_big_int_token(token),
    }
}

/// An integer as Python writes it (no `+`, no leading zero) that fits neither
/// `i64` nor `u64`.
fn is_big_int_token(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token).as_bytes();
    matches!(digits.first(), Some(b'1'..=b'9'))
        && digits.iter().all(u8::is_ascii_digit)
        && token.parse::<i64>().is_err()
        && token.parse::<u64>().is_err()
}

/// A quoted string exactly as Python's `json.dumps` (`ensure_ascii`) writes it,
/// holding at least one lone surrogate.
fn is_string_token(token: &str) -> bool {
    let Some(inner) = token
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .map(str::as_bytes)
    else {
        return false;
    };
    let mut lone = false;
    let mut high = false;
    let mut i = 0;
    while let Some(&b) = inner.get(i) {
        let unit = match b {
            b'\\' => match inner.get(i + 1) {
                Some(b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f') => {
                    i += 2;
                    None
                }
                Some(b'u') => {
                    let Some(unit) = inner.get(i + 2..i + 6).and_then(lower_hex4) else {
                        return false;
                    };
                    if !python_escapes_as_u(unit) {
                        return false;
                    }
                    i += 6;
                    Some(unit)
                }
                _ => return false,
            },
            b'"' => return false,
            0x20..=0x7e => {
                i += 1;
                None
            }
            _ => return false,
        };
        match unit {
            Some(0xd800..=0xdbff) => {
                lone |= high;
                high = true;
            }
            Some(0xdc00..=0xdfff) => {
                lone |= !high;
                high = false;
            }
            _ => {
                lone |= high;
                high = false;
            }
        }
    }
    lone || high
}

/// Units Python's `ensure_ascii` writes as `\uXXXX` rather than as themselves
/// or a short escape.
fn python_escapes_as_u(unit: u16) -> bool {
    unit >= 0x7f || (unit < 0x20 && !matches!(unit, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d))
}

fn lower_hex4(hex: &[u8]) -> Option<u16> {
    hex.iter().try_fold(0u16, |acc, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u16::from(digit))
    })
}

mod parse;
#[cfg(test)]
mod tests;

pub(crate) use parse::{parse, starts_object};

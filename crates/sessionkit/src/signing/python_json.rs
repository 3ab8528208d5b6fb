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

use serde_json::{Map, Number, Value};

use super::json::push_u_escape;

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

fn any_hex4(hex: &[u8]) -> Option<u16> {
    hex.iter().try_fold(0u16, |acc, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        Some(acc << 4 | u16::from(digit))
    })
}

/// Parses `bytes` as Python's `json.loads(bytes.decode("latin-1"))` does, with
/// markers for what `Value` cannot hold. `None` where Python raises, or when
/// nesting goes beyond [`MAX_DEPTH`].
///
/// This is the slow path, taken only after serde_json refused the payload (or
/// may have turned an integer into a float), so it favours being plainly
/// correct over being fast. Numbers serde_json can read are read by serde_json,
/// so both paths give identical values.
pub(crate) fn parse(bytes: &[u8]) -> Option<Value> {
    let mut p = Parser { bytes, pos: 0 };
    let value = p.value(0)?;
    p.skip_ws();
    (p.pos == bytes.len()).then_some(value)
}

/// Whether the first token of `bytes` opens an object.
pub(crate) fn starts_object(bytes: &[u8]) -> bool {
    let mut p = Parser { bytes, pos: 0 };
    p.skip_ws();
    p.peek() == Some(b'{')
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

enum Text {
    Plain(String),
    /// Holds a lone surrogate: the token as Python writes it.
    Raw(String),
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn skip_digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word.as_bytes()).then(|| self.pos = end)
    }

    /// `depth` counts the arrays and objects around this value.
    fn value(&mut self, depth: usize) -> Option<Value> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => Some(match self.string()? {
                Text::Plain(s) => Value::String(s),
                Text::Raw(token) => marker(token),
            }),
            b'n' => self.literal("null").map(|()| Value::Null),
            b't' => self.literal("true").map(|()| Value::Bool(true)),
            b'f' => self.literal("false").map(|()| Value::Bool(false)),
            b'N' => self.literal("NaN").map(|()| marker("NaN".into())),
            b'I' => self.literal("Infinity").map(|()| marker("Infinity".into())),
            b'-' if self.peek_at(1) == Some(b'I') => self
                .literal("-Infinity")
                .map(|()| marker("-Infinity".into())),
            _ => self.number(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = match self.string()? {
                Text::Plain(s) => s,
                Text::Raw(token) => format!("{RAW_JSON_KEY}{token}"),
            };
            self.skip_ws();
            if self.peek() != Some(b':') {
                return None;
            }
            self.pos += 1;
            let value = self.value(depth)?;
            // Python's dict: a repeated key keeps its first place and its last value,
            // which is also what the ordered `Map::insert` does.
            map.insert(key, value);
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(Value::Object(map));
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(Value::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// A string as UTF-16 units, which is all a Python string read from ASCII
    /// escapes can be: Python pairs `\ud83d\ude00` into one code point and
    /// `json.dumps` splits it again, so the units round-trip either way.
    fn string(&mut self) -> Option<Text> {
        self.pos += 1;
        // Most strings are printable ASCII without escapes: take them whole.
        let rest = self.bytes.get(self.pos..)?;
        let plain = rest
            .iter()
            .position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1f | 0x80..=0xff))?;
        if rest.get(plain) == Some(&b'"') {
            let text = std::str::from_utf8(rest.get(..plain)?).ok()?.to_owned();
            self.pos += plain + 1;
            return Some(Text::Plain(text));
        }
        let mut units: Vec<u16> = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            let unit = match b {
                b'"' => break,
                b'\\' => {
                    let escape = self.peek()?;
                    self.pos += 1;
                    match escape {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => {
                            let unit = any_hex4(self.bytes.get(self.pos..self.pos + 4)?)?;
                            self.pos += 4;
                            unit
                        }
                        _ => return None,
                    }
                }
                // Python's strict mode refuses raw control characters.
                0x00..=0x1f => return None,
                // Django decodes the payload as latin-1: each byte is one char.
                _ => u16::from(b),
            };
            units.push(unit);
        }
        Some(match String::from_utf16(&units) {
            Ok(s) => Text::Plain(s),
            Err(_) => Text::Raw(python_string_token(&units)),
        })
    }

    /// Python's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`.
    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.skip_digits();
            }
            _ => return None,
        }
        let mut float = false;
        if self.peek() == Some(b'.') && matches!(self.peek_at(1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.skip_digits();
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let before = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.skip_digits() > 0 {
                float = true;
            } else {
                // Not part of the number; Python then fails on the `e`, and so do we.
                self.pos = before;
            }
        }
        let token = std::str::from_utf8(self.bytes.get(start..self.pos)?).ok()?;
        if float {
            // The grammar is checked, so serde_json only refuses a float that
            // overflows, which Python reads as an infinity.
            return Some(match serde_json::from_str::<Number>(token) {
                Ok(n) => Value::Number(n),
                Err(_) if token.starts_with('-') => marker("-Infinity".into()),
                Err(_) => marker("Infinity".into()),
            });
        }
        Some(if let Ok(u) = token.parse::<u64>() {
            Value::from(u)
        } else if let Ok(i) = token.parse::<i64>() {
            Value::from(i)
        } else {
            marker(token.to_owned())
        })
    }
}

/// A string's units as Python's `json.dumps` (`ensure_ascii`) writes them.
fn python_string_token(units: &[u16]) -> String {
    let mut out = String::with_capacity(units.len() * 6 + 2);
    out.push('"');
    for &unit in units {
        match unit {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(unit as u8)),
            _ => push_u_escape(unit, &mut out),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raw(token: &str) -> Value {
        json!({ RAW_JSON_KEY: token })
    }

    fn parsed(text: &str) -> Value {
        match parse(text.as_bytes()) {
            Some(v) => v,
            None => panic!("Python reads {text:?}"),
        }
    }

    #[test]
    fn non_finite_floats_become_markers() {
        assert_eq!(
            parsed("[NaN, Infinity,-Infinity ]"),
            json!([raw("NaN"), raw("Infinity"), raw("-Infinity")])
        );
        // Python reads an overflowing float as an infinity and writes it back so.
        assert_eq!(
            parsed("[1e400,-1E+400,1.5e99999999999999999999]"),
            json!([raw("Infinity"), raw("-Infinity"), raw("Infinity")])
        );
        assert_eq!(parsed("[1e-400, 0e99999]"), json!([0.0, 0.0]));
    }

    #[test]
    fn integers_beyond_64_bits_become_markers() {
        assert_eq!(
            parsed("[1180591620717411303424,-9223372036854775809,18446744073709551616]"),
            json!([
                raw("1180591620717411303424"),
                raw("-9223372036854775809"),
                raw("18446744073709551616")
            ])
        );
        assert_eq!(
            parsed("[18446744073709551615,-9223372036854775808,0,-7]"),
            json!([u64::MAX, i64::MIN, 0, -7])
        );
        let long = format!("[{}]", "9".repeat(5000));
        assert_eq!(parsed(&long), json!([raw(&"9".repeat(5000))]));
    }

    #[test]
    fn floats_read_as_serde_json_reads_them() {
        for text in [
            "0.1",
            "-0.0",
            "1e+16",
            "1e-05",
            "1.2345678901234568e+17",
            "5e-324",
            "1.7976931348623157e+308",
            "2.2250738585072014e-308",
            "1e+19",
            "12345678901234567890123.5",
            "0.30000000000000004",
        ] {
            let want: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => panic!("{text}: {e}"),
            };
            let got = parsed(text);
            assert_eq!(got, want, "{text}");
            assert_eq!(
                got.as_f64().map(f64::to_bits),
                want.as_f64().map(f64::to_bits)
            );
        }
    }

    #[test]
    fn lone_surrogates_become_markers_in_python_form() {
        assert_eq!(parsed(r#""\ud800x""#), raw(r#""\ud800x""#));
        // Upper-case hex, `\/` and a raw latin-1 byte are written back as Python would.
        assert_eq!(
            parse(b"\"\\uDC00\\/\xe9\\u00E9\\n\\u0041\"").unwrap_or_default(),
            raw(r#""\udc00/\u00e9\u00e9\nA""#)
        );
        // A high surrogate before something other than a low one is lone too.
        assert_eq!(
            parsed(r#"["\ud83d\ud83d\ude00", "\ude00\ud83d", "\ud83d\u0041"]"#),
            json!([
                raw(r#""\ud83d\ud83d\ude00""#),
                raw(r#""\ude00\ud83d""#),
                raw(r#""\ud83dA""#)
            ])
        );
        // Paired surrogates and everything else stay plain strings.
        assert_eq!(
            parsed(r#""\ud83d\ude00 \u00e9 \"\\\/\b\f\n\r\t""#),
            json!("😀 é \"\\/\u{8}\u{c}\n\r\t")
        );
        assert_eq!(parse(b"\"caf\xe9\"").unwrap_or_default(), json!("café"));
    }

    #[test]
    fn lone_surrogate_keys_keep_their_token() {
        let v = parsed(r#"{"\ud800":1,"a":2}"#);
        let Some(map) = v.as_object() else {
            panic!("an object: {v}")
        };
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, [format!("{RAW_JSON_KEY}\"\\ud800\"").as_str(), "a"]);
        assert_eq!(raw_key_token(keys[0]), Some(r#""\ud800""#));
        assert_eq!(raw_key_token("a"), None);
        assert_eq!(raw_key_token(&format!("{RAW_JSON_KEY}\"a\"")), None);
    }

    #[test]
    fn markers_nest_and_duplicates_keep_first_place_last_value() {
        let v = parsed(r#"{"a":{"b":[NaN,{"c":1e999}]},"d":1,"a":[-Infinity],"d":2}"#);
        assert_eq!(v, json!({"a": [raw("-Infinity")], "d": 2}));
        assert_eq!(
            serde_json::to_string(&v).ok(),
            Some(format!(
                r#"{{"a":[{{"{}":"-Infinity"}}],"d":2}}"#,
                "\\u0000sessionkit:python-json"
            ))
        );
        // Same as serde_json for what both read.
        let text = r#"{"z":1,"y":{"k":[1,2.5,"s",null,true,false]},"z":3}"#;
        assert_eq!(parse(text.as_bytes()), serde_json::from_str(text).ok());
    }

    #[test]
    fn depth_is_limited() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_some());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(deep.as_bytes()), None);
        let objects = format!(
            "{}1{}",
            r#"{"a":"#.repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(objects.as_bytes()), None);
        // Far beyond the limit, unclosed: refused without recursing that far.
        assert_eq!(parse("[{\"a\":".repeat(1_000_000).as_bytes()), None);
    }

    #[test]
    fn what_python_refuses_is_refused() {
        for text in [
            "",
            " ",
            "[",
            "]",
            "{",
            "[1,]",
            "[,1]",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            "{1:2}",
            "01",
            "1.",
            ".5",
            "1e",
            "1e+",
            "-",
            "--1",
            "+1",
            "nan",
            "inf",
            "-NaN",
            "Infinit",
            "-Inf",
            "NULL",
            "tru",
            r#""a"#,
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            "\"\t\"",
            "\"\u{0}\"",
            "[1] [2]",
            "1 2",
            "[1}",
            r#"{"a":1]"#,
            "\u{feff}1",
            "0x1",
        ] {
            assert_eq!(parse(text.as_bytes()), None, "{text:?}");
        }
        // Python reads a raw latin-1 byte or DEL in a string, and whitespace around.
        assert_eq!(parse(b" \n\t\r\"\x7f\xff\" "), Some(json!("\u{7f}ÿ")));
    }

    #[test]
    fn garbage_never_panics() {
        // A small deterministic generator (xorshift) over JSON-ish bytes.
        let alphabet = b"{}[]\",:\\u0123456789abcdefABCDEF.eE+-NaInfityrlsx \n\xe9\x00";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let len = (state % 40) as usize;
            let mut text = Vec::with_capacity(len);
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            if let Some(v) = parse(&text) {
                // Whatever is read writes back as JSON that reads the same again.
                let again = super::super::json::to_python_json(&v);
                assert_eq!(parse(again.as_bytes()), Some(v), "{text:?}");
            }
        }
    }

    #[test]
    fn every_cut_and_flip_of_a_rich_document_is_safe() {
        let doc = br#" {"a":[NaN,-Infinity,1e400,-12345678901234567890123,0.5,-0,1E+2],
            "\ud800k":{"s":"\ud83d\ude00\udc00\u00E9\/\"\\","t":true,"f":false,"n":null},
            "a":{}} "#;
        assert!(parse(doc).is_some());
        for cut in 0..doc.len() {
            let _ = parse(&doc[..cut]);
            for flip in [0x01, 0x20, 0x80, 0xff] {
                let mut bytes = doc.to_vec();
                bytes[cut] ^= flip;
                if let Some(v) = parse(&bytes) {
                    let again = super::super::json::to_python_json(&v);
                    assert_eq!(parse(again.as_bytes()), Some(v));
                }
            }
        }
    }

    #[test]
    fn objects_at_the_depth_limit_parse_write_and_drop() {
        let n = MAX_DEPTH - 1;
        let text = format!("{}NaN{}", r#"{"k":["#.repeat(n / 2), "]}".repeat(n / 2));
        let v = parsed(&text);
        assert_eq!(super::super::json::to_python_json(&v), text);
    }

    #[test]
    fn tokens_are_validated() {
        for good in [
            "NaN",
            "Infinity",
            "-Infinity",
            "18446744073709551616",
            "-9223372036854775809",
            r#""\ud800""#,
            r#""a\udc00\"\\\n\r\t\b\f\u0001\u007f\u00e9""#,
            r#""\ud83d\ude00\ud83d""#,
        ] {
            assert!(raw_value(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "nan",
            "1",
            "-1",
            "18446744073709551615",
            "-9223372036854775808",
            "018446744073709551616",
            "+18446744073709551616",
            "-0",
            "1e400",
            "18446744073709551616.0",
            r#""plain""#,
            r#""\ud83d\ude00""#,
            r#""\uD800""#,
            r#""\ud800\u0041""#,
            r#""\ud800\/""#,
            r#""\ud800é""#,
            "\"\\ud800\u{1}\"",
            r#""\ud800"#,
            r#""\ud800"x"#,
            r#""\ud800""a""#,
            r#""\ud800\""#,
            r#"1,"x":2"#,
            r#""\ud800",{"#,
        ] {
            assert_eq!(raw_value(bad), None, "{bad}");
            assert_eq!(raw_token(&raw(bad)), None, "{bad}");
        }
        assert_eq!(raw_token(&json!({ RAW_JSON_KEY: 1 })), None);
        assert_eq!(raw_token(&json!({ RAW_JSON_KEY: "NaN", "b": 1 })), None);
        assert_eq!(raw_token(&json!({ "x": "NaN" })), None);
        assert_eq!(raw_token(&json!("NaN")), None);
    }

    #[test]
    fn big_int_check_only_sees_large_floats() {
        assert!(!may_hold_big_int(
            &json!({"a": [1, -1, u64::MAX, i64::MIN, 1e18, "1e30", {"b": null}]})
        ));
        assert!(may_hold_big_int(&json!({"a": [{"b": 1.2e21}]})));
        assert!(may_hold_big_int(&json!([-9.3e18])));
    }
}

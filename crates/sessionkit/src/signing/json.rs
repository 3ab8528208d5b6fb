//! A JSON writer that produces exactly Python's
//! `json.dumps(obj, separators=(",", ":"))`, which is what Django signs.
//!
//! Byte-identical output matters because the signature covers these bytes: the
//! same session must encode to the same string in Rust and in Django. Python's
//! choices reproduced here: no whitespace, insertion order, `ensure_ascii`
//! (everything outside `0x20..=0x7E` escaped, lowercase hex, surrogate pairs
//! beyond the BMP), `/` left alone, and floats in `repr` form (`1.0`, `1e-05`,
//! `1e+16`). serde_json's own writer differs on all of the last three.
//!
//! Values `Value` cannot hold (`NaN`, integers beyond 64 bits, lone surrogates)
//! arrive as raw markers (see [`python_json`](super::python_json)) and are
//! written back as their token.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use super::python_json::{object_token, raw_key_token};

/// `v` as Python's compact `json.dumps` writes it.
///
/// ```
/// use sessionkit::signing::json::to_python_json;
/// let v = serde_json::json!({"é": [1.0, 1e-5, 1e16, "a/b"]});
/// assert_eq!(to_python_json(&v), r#"{"\u00e9":[1.0,1e-05,1e+16,"a/b"]}"#);
/// ```
pub fn to_python_json(v: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_python_json(v, &mut out);
    out
}

/// Appends `v` as Python's compact `json.dumps` writes it to `out`.
pub fn write_python_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Markers have one entry, so most objects cost just this length test.
            if map.len() == 1 {
                if let Some(token) = object_token(map) {
                    out.push_str(token);
                    return;
                }
            }
            write_object(map, out);
        }
    }
}

/// Appends a JSON object; lets the codec write a session map without wrapping it
/// in a `Value` first. The map itself is always written as an object (a session
/// is a dict even if it looks like a marker); its values may be markers.
pub(crate) fn write_object(map: &Map<String, Value>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Keys standing for a lone-surrogate key start with NUL, which real keys
        // almost never do: one byte compare per key.
        match k.as_bytes().first() {
            Some(0) => match raw_key_token(k) {
                Some(token) => out.push_str(token),
                None => write_str(k, out),
            },
            _ => write_str(k, out),
        }
        out.push(':');
        write_python_json(v, out);
    }
    out.push('}');
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        if b < 0x80 {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                _ => push_u_escape(u16::from(b), out),
            }
            i += 1;
        } else {
            // `i` sits on a char boundary: only whole chars are ever skipped.
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            let mut units = [0u16; 2];
            for &unit in c.encode_utf16(&mut units).iter() {
                push_u_escape(unit, out);
            }
            i += c.len_utf8();
        }
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

pub(super) fn push_u_escape(unit: u16, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

fn write_number(n: &Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        write_float(f, out);
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, closest to the
/// exact value (ties to even), laid out in fixed notation when the decimal exponent is
/// in `-4..16`, else as `d.ddde±XX`.
fn write_float(f: f64, out: &mut String) {
    if !f.is_finite() {
        // serde_json numbers are always finite (non-finite values come as markers);
        // this is what Python would write.
        out.push_str(if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    let abs = f.abs();
    let mut shortest = StackStr::default();
    let _ = write!(shortest, "{abs:e}");
    // Rust and Python agree on how many digits are needed, but when two shortest
    // candidates are equally close (1403437000000000.25 → `.2` or `.3`) Rust
    // rounds up where Python rounds half to even. The correctly rounded string
    // with that many digits is Python's choice whenever it round-trips.
    let digits = shortest
        .as_str()
        .bytes()
        .take_while(|&b| b != b'e')
        .filter(u8::is_ascii_digit)
        .count();
    let mut rounded = StackStr::default();
    let _ = write!(rounded, "{abs:.*e}", digits.saturating_sub(1));
    let round_trips = rounded.as_str().parse::<f64>().is_ok_and(|r| r == abs);
    let sci = if round_trips {
        rounded.as_str()
    } else {
        shortest.as_str()
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (lead, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));

    if f.is_sign_negative() {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        // Digits as one run with the point after `exp + 1` of them.
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(lead);
            out.push_str(rest);
        } else {
            let point = point as usize;
            let int_from_rest = point - 1;
            out.push_str(lead);
            if rest.len() >= int_from_rest {
                out.push_str(&rest[..int_from_rest]);
                let frac = &rest[int_from_rest..];
                out.push('.');
                out.push_str(if frac.is_empty() { "0" } else { frac });
            } else {
                out.push_str(rest);
                out.extend(std::iter::repeat_n('0', int_from_rest - rest.len()));
                out.push_str(".0");
            }
        }
    } else {
        out.push_str(lead);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    }
}

/// A fixed buffer for one `{:e}` float (at most 24 bytes), so no allocation.
#[derive(Default)]
struct StackStr {
    buf: [u8; 32],
    len: usize,
}

impl StackStr {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64) -> String {
        let mut s = String::new();
        write_float(f, &mut s);
        s
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e15, "1500000000000000.0"),
            (1234567890123456.8, "1234567890123456.8"),
            (123456789.125, "123456789.125"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (6.02214, "6.02214"),
            (1e22, "1e+22"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (1e100, "1e+100"),
            (0.3, "0.3"),
            (2.0 / 3.0, "0.6666666666666666"),
            (12345.678, "12345.678"),
            (1403437000000000.2, "1403437000000000.2"),
        ];
        for (f, want) in cases {
            assert_eq!(float(f), want, "{f:e}");
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        let v = Value::String("a\"\\\n\r\t\u{8}\u{c}\u{1}\u{7f}é😀/~ ".into());
        assert_eq!(
            to_python_json(&v),
            r#""a\"\\\n\r\t\b\f\u0001\u007f\u00e9\ud83d\ude00/~ ""#
        );
    }

    #[test]
    fn containers_are_compact_and_ordered() {
        let v = serde_json::json!({"z": [1, -2, null, true, false], "a": {}, "m": []});
        assert_eq!(
            to_python_json(&v),
            r#"{"z":[1,-2,null,true,false],"a":{},"m":[]}"#
        );
        assert_eq!(
            to_python_json(&serde_json::json!(u64::MAX)),
            u64::MAX.to_string()
        );
    }
}

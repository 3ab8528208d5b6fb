//! The slow path: Python's `json.loads`, with markers for what
//! `serde_json::Value` cannot hold.

use serde_json::{Map, Number, Value};

use super::super::json::push_u_escape;
use super::{marker, MAX_DEPTH, RAW_JSON_KEY};

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

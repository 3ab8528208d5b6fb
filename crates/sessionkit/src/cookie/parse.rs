//! Reading the `Cookie` request header exactly as Django's
//! `django.http.cookie.parse_cookie` does, so a Rust service and a Django app
//! behind the same proxy see the same session key.

use http::header::COOKIE;
use http::HeaderMap;

/// Parses one `Cookie` header into `(name, value)` pairs, in header order.
///
/// Django's rules (spec §8.1): split on `;`, split each chunk on its first `=`
/// (a chunk without one is a value with the empty name), strip whitespace as
/// Python's `str.strip()` does, skip chunks that end up empty, and unquote the
/// value as Python's `http.cookies._unquote`. Duplicates are all kept; a
/// caller that wants Django's dict takes the last one. Never panics.
pub fn parse_cookie(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(parse_chunk)
        .map(|(key, value)| (key.to_owned(), unquote(value)))
        .collect()
}

/// The value of cookie `name` across **every** `Cookie` header of a request.
///
/// HTTP/2 may split cookies into several headers; Django's ASGI handler joins
/// them with `"; "`, which is what reading them in order amounts to. The last
/// duplicate wins, as in Django's dict. Bytes that are not UTF-8 are replaced
/// as Django's WSGI handler does (`decode(errors="replace")`): since `;` and `=`
/// are ASCII they survive, so a bad pair never hides the others.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_value_from(headers.get_all(COOKIE).iter().map(|h| h.as_bytes()), name)
}

/// [`cookie_value`] over raw `Cookie` header values, in request order: what
/// an adapter whose header types are not the `http` crate's passes in.
pub(crate) fn cookie_value_from<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
) -> Option<String> {
    let mut last = None;
    for header in values {
        // Valid UTF-8 (every real cookie header) is checked by the fast
        // validator; only a bad one pays for the replacing decoder.
        let text = match std::str::from_utf8(header) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(header),
        };
        let mut found = None;
        for chunk in text.split(';') {
            if let Some((key, value)) = parse_chunk(chunk) {
                if key == name {
                    found = Some(value);
                }
            }
        }
        // Unquoted (allocated) once, for the winner only; the borrow of
        // `text` ends with this header.
        if let Some(value) = found.take() {
            last = Some(unquote(value));
        }
    }
    last
}

/// One `name=value` chunk, stripped, still quoted; `None` when empty.
fn parse_chunk(chunk: &str) -> Option<(&str, &str)> {
    let (key, value) = chunk.split_once('=').unwrap_or(("", chunk));
    let (key, value) = (py_strip(key), py_strip(value));
    if key.is_empty() && value.is_empty() {
        return None;
    }
    Some((key, value))
}

/// Python's `str.strip()`: Rust's `White_Space` plus the ASCII separators
/// U+001C..U+001F, which Python also counts as whitespace.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Python's `http.cookies._unquote`: only a value wrapped in double quotes is
/// decoded; inside, `\ooo` (first digit 0-3) is that code point and `\c` is
/// `c` — except a newline, which Python's `.` does not match.
pub(crate) fn unquote(value: &str) -> String {
    let inner = match value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) if value.len() >= 2 => inner,
        _ => return value.to_owned(),
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut ahead = chars.clone();
        if let Some(code) = octal_escape([ahead.next(), ahead.next(), ahead.next()]) {
            out.push(code);
            chars.nth(2);
            continue;
        }
        match chars.peek() {
            Some(&next) if next != '\n' => {
                out.push(next);
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// `[0-3][0-7][0-7]` as a code point (always at most U+00FF).
fn octal_escape([a, b, c]: [Option<char>; 3]) -> Option<char> {
    let digit = |d: Option<char>, max: u32| d?.to_digit(8).filter(|v| *v <= max);
    let value = digit(a, 3)? * 64 + digit(b, 7)? * 8 + digit(c, 7)?;
    char::from_u32(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(header: &str) -> std::collections::HashMap<String, String> {
        parse_cookie(header).into_iter().collect()
    }

    #[test]
    fn quoted_values_are_unquoted_like_python() {
        assert_eq!(unquote(r#""a\073b""#), "a;b");
        assert_eq!(unquote(r#""with\"quote""#), "with\"quote");
        assert_eq!(unquote(r#""back\\slash""#), "back\\slash");
        assert_eq!(unquote(r#""\377""#), "\u{ff}");
        // 4 is not a valid first octal digit: `\4` is just `4`.
        assert_eq!(unquote(r#""\400""#), "400");
        assert_eq!(unquote(r#""\07""#), "07");
        assert_eq!(unquote("\"a\\\nb\""), "a\\\nb");
        assert_eq!(unquote(r#""trailing\""#), "trailing\\");
        assert_eq!(unquote(r#""""#), "");
        assert_eq!(unquote(r#"""#), "\"");
        assert_eq!(unquote(r#"no"quotes""#), "no\"quotes\"");
        assert_eq!(unquote("\"é\\101\""), "éA");
    }

    #[test]
    fn chunks_follow_django() {
        let parsed = parse_cookie(" a = 1 ;; b=\"x y\" ; bare ;=;  ; c=");
        let expected = [("a", "1"), ("b", "x y"), ("", "bare"), ("c", "")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(parsed, expected);
        assert_eq!(map("x=\u{1c}v\u{a0}")["x"], "v");
    }

    #[test]
    fn garbage_never_panics() {
        let inputs = [
            String::new(),
            ";;;;".into(),
            "=".into(),
            "\"".into(),
            "\\".into(),
            "a=\"\\".into(),
            "a=\"\\3\"".into(),
            "a=\"\\37\"".into(),
            "ключ=значение; 🍪=\"\\🍪\"".into(),
            "\0\u{1}\u{7f}=\u{fffd}".into(),
            "a=b;".repeat(100_000),
            "\"\\".repeat(50_000),
        ];
        for input in &inputs {
            let _ = parse_cookie(input);
        }
        assert_eq!(map("ключ=значение")["ключ"], "значение");
        assert_eq!(parse_cookie(&"a=b;".repeat(100_000)).len(), 100_000);
    }

    #[test]
    fn every_cookie_header_is_read_and_the_last_wins() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("sessionid=first; a=1"));
        headers.append(COOKIE, HeaderValue::from_static("b=2"));
        headers.append(COOKIE, HeaderValue::from_static("sessionid=\"last\"; c=3"));
        assert_eq!(cookie_value(&headers, "sessionid").as_deref(), Some("last"));
        assert_eq!(cookie_value(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie_value(&headers, "missing"), None);
        assert_eq!(cookie_value(&HeaderMap::new(), "sessionid"), None);
    }

    #[test]
    fn non_utf8_bytes_do_not_hide_other_pairs() {
        let mut headers = HeaderMap::new();
        let raw = HeaderValue::from_bytes(b"bad=\xff\xfe; sessionid=abcdefgh12; x=\xe2;y=1")
            .expect("obs-text is a valid header value");
        headers.append(COOKIE, raw);
        assert_eq!(
            cookie_value(&headers, "sessionid").as_deref(),
            Some("abcdefgh12")
        );
        assert_eq!(cookie_value(&headers, "y").as_deref(), Some("1"));
        assert_eq!(
            cookie_value(&headers, "bad").as_deref(),
            Some("\u{fffd}\u{fffd}")
        );
    }

    #[test]
    fn a_huge_header_is_fine() {
        let mut big = "junk=\"\\\\\\".repeat(20_000);
        big.push_str("; sessionid=abcdefgh12");
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_str(&big).expect("ascii"));
        assert_eq!(
            cookie_value(&headers, "sessionid").as_deref(),
            Some("abcdefgh12")
        );
    }
}

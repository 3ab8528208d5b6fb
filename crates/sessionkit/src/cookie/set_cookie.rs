//! Writing `Set-Cookie` values byte for byte as Django does: CPython's
//! `http.cookies.Morsel.OutputString()` for what `HttpResponse.set_cookie`
//! and `delete_cookie` store (spec §8.4).

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::http_date::{floor_epoch, push_http_date};
use crate::config::{SameSite, SessionConfig};

/// `expires` of a deleted cookie, as Django hard-codes it.
const EPOCH_DATE: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// The session cookie's `Set-Cookie` value, as Django's middleware writes it.
///
/// `max_age` is the session's expiry age in seconds (it may be negative);
/// `None` makes a browser-session cookie, without `expires` or `Max-Age`.
/// `expires` is `http_date(floor(now + max_age))`. Attributes come in
/// Python's order: `Domain`, `expires`, `HttpOnly`, `Max-Age`, `Path`,
/// `SameSite`, `Secure`; empty ones are skipped, as Python skips them.
pub fn set_cookie(
    config: &SessionConfig,
    value: &str,
    max_age: Option<i64>,
    now: OffsetDateTime,
) -> String {
    let expires = max_age.map(|age| Expires::At(floor_epoch(now).saturating_add(age)));
    Attributes {
        name: &config.cookie_name,
        value,
        domain: config.cookie_domain.as_deref(),
        expires,
        httponly: config.cookie_httponly,
        max_age,
        path: &config.cookie_path,
        samesite: config.cookie_samesite,
        secure: config.cookie_secure,
    }
    .render()
}

/// The `Set-Cookie` value that removes the session cookie, as Django's
/// `HttpResponse.delete_cookie(name, path, domain, samesite)`.
///
/// Never `HttpOnly`; `Secure` only when browsers would otherwise ignore the
/// header: `SameSite=None`, or a `__Secure-`/`__Host-` name.
pub fn delete_cookie(config: &SessionConfig) -> String {
    let name = &config.cookie_name;
    let secure = name.starts_with("__Secure-")
        || name.starts_with("__Host-")
        || config.cookie_samesite == Some(SameSite::None);
    Attributes {
        name,
        value: "",
        domain: config.cookie_domain.as_deref(),
        expires: Some(Expires::Text(EPOCH_DATE)),
        httponly: false,
        max_age: Some(0),
        path: &config.cookie_path,
        samesite: config.cookie_samesite,
        secure,
    }
    .render()
}

/// A cookie's `expires`: a fixed text, or a time formatted straight into
/// the header.
enum Expires {
    Text(&'static str),
    At(i64),
}

/// One morsel, fields in Python's (alphabetical) output order.
struct Attributes<'a> {
    name: &'a str,
    value: &'a str,
    domain: Option<&'a str>,
    expires: Option<Expires>,
    httponly: bool,
    max_age: Option<i64>,
    path: &'a str,
    samesite: Option<SameSite>,
    secure: bool,
}

impl Attributes<'_> {
    /// Written into one buffer sized for the usual cookie: no per-attribute
    /// strings (this runs on every response that saves a session).
    fn render(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + self.value.len() + 112);
        out.push_str(self.name);
        out.push('=');
        push_quoted(&mut out, self.value);
        if let Some(domain) = self.domain.filter(|d| !d.is_empty()) {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        match &self.expires {
            Some(Expires::Text(text)) => {
                out.push_str("; expires=");
                out.push_str(text);
            }
            Some(Expires::At(epoch)) => {
                out.push_str("; expires=");
                push_http_date(&mut out, *epoch);
            }
            None => {}
        }
        if self.httponly {
            out.push_str("; HttpOnly");
        }
        if let Some(age) = self.max_age {
            // Writing to a String cannot fail.
            let _ = write!(out, "; Max-Age={age}");
        }
        if !self.path.is_empty() {
            out.push_str("; Path=");
            out.push_str(self.path);
        }
        if let Some(samesite) = self.samesite {
            out.push_str("; SameSite=");
            out.push_str(samesite.as_str());
        }
        if self.secure {
            out.push_str("; Secure");
        }
        out
    }
}

/// [`quote`], appended to `out`; a value that needs no quoting (every session
/// key and signed value) is copied as it is.
fn push_quoted(out: &mut String, value: &str) {
    if needs_no_quotes(value) {
        out.push_str(value);
    } else {
        out.push_str(&quote(value));
    }
}

/// Python's `http.cookies._quote`: values made only of cookie-legal
/// characters pass as they are; anything else (the empty string included) is
/// double-quoted, with `"` and `\` backslash-escaped and other code points
/// below 256 outside the unescaped set written as `\ooo`.
pub(crate) fn quote(value: &str) -> String {
    if needs_no_quotes(value) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_legal(c) || " ()/<=>?@[]{}".contains(c) => out.push(c),
            // Writing to a String cannot fail.
            c if u32::from(c) < 256 => {
                let _ = write!(out, "\\{:03o}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A non-empty value of legal characters only. A table lookup per byte: the
/// check runs over every cookie value sent. A byte of a multi-byte character
/// is never legal, as the character is not.
fn needs_no_quotes(value: &str) -> bool {
    const LEGAL: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 128 {
            table[b] = is_legal(b as u8 as char);
            b += 1;
        }
        table
    };
    !value.is_empty() && value.bytes().all(|b| LEGAL[usize::from(b)])
}

/// Python's `_LegalChars`: ASCII letters, digits and ``!#$%&'*+-.^_`|~:``.
const fn is_legal(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '#'
                | '$'
                | '%'
                | '&'
                | '\''
                | '*'
                | '+'
                | '-'
                | '.'
                | '^'
                | '_'
                | '`'
                | '|'
                | '~'
                | ':'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_python() {
        assert_eq!(quote("abc123:._-"), "abc123:._-");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("é\u{1}\"\\;,"), r#""\351\001\"\\\073\054""#);
        assert_eq!(quote("x\u{100}"), "\"x\u{100}\"");
    }

    fn config() -> SessionConfig {
        SessionConfig::new("k".repeat(50)).expect("non-empty secret")
    }

    #[test]
    fn prefixed_names_are_deleted_with_secure() {
        let mut config = config();
        config.cookie_name = "__Host-sessionid".into();
        config.cookie_samesite = Some(SameSite::Strict);
        assert_eq!(
            delete_cookie(&config),
            "__Host-sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; \
             Path=/; SameSite=Strict; Secure"
        );
        config.cookie_name = "plain".into();
        config.cookie_samesite = None;
        config.cookie_domain = Some(String::new());
        config.cookie_path = String::new();
        assert_eq!(
            delete_cookie(&config),
            "plain=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"
        );
    }

    #[test]
    fn extreme_ages_do_not_panic() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let far = set_cookie(&config(), "v", Some(i64::MAX), now);
        assert!(
            far.contains("expires=Fri, 31 Dec 9999 23:59:59 GMT"),
            "{far}"
        );
        assert!(far.contains(&format!("Max-Age={}", i64::MAX)), "{far}");
        let past = set_cookie(&config(), "v", Some(i64::MIN), now);
        assert!(
            past.contains("expires=Mon, 01 Jan 0001 00:00:00 GMT"),
            "{past}"
        );
    }

    #[test]
    fn odd_values_are_quoted() {
        let cookie = set_cookie(&config(), "a b;é", None, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            cookie,
            "sessionid=\"a b\\073\\351\"; HttpOnly; Path=/; SameSite=Lax"
        );
    }

    #[test]
    fn quoting_round_trips_through_parse() {
        for value in [
            "",
            "a b",
            "semi;colon",
            "q\"uote",
            "back\\slash",
            "é",
            "\u{1}",
        ] {
            let quoted = quote(value);
            assert_eq!(super::super::parse::unquote(&quoted), value, "{quoted}");
        }
    }
}

//! F1: the `Cookie` header. `cookie_value` over several headers must agree
//! with `parse_cookie` over the same headers joined by `"; "` (Django's ASGI
//! rule, last duplicate wins), for any bytes, and neither may panic.
#![no_main]

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sessionkit::cookie::{cookie_value, parse_cookie};

fuzz_target!(|data: &[u8]| {
    // Byte 0x00 (which no header value may hold) splits the input into headers.
    let mut headers = HeaderMap::new();
    let mut texts = Vec::new();
    for part in data.split(|&b| b == 0) {
        let Ok(value) = HeaderValue::from_bytes(part) else {
            continue;
        };
        texts.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        headers.append(COOKIE, value);
    }
    let joined = texts.join("; ");
    let expected = parse_cookie(&joined)
        .into_iter()
        .filter(|(name, _)| name == "sessionid")
        .map(|(_, value)| value)
        .last();
    assert_eq!(cookie_value(&headers, "sessionid"), expected);
    for (_, value) in parse_cookie(&String::from_utf8_lossy(data)) {
        // Decoding only shrinks or replaces: `\ooo` gives at most U+00FF
        // (2 bytes for 4), a byte that is not UTF-8 gives U+FFFD (3 for 1).
        assert!(value.len() <= 3 * data.len());
    }
});

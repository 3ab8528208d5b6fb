//! Django's base62 timestamps: digits, then `A-Z`, then `a-z`; `-` for negatives.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encodes `n` as Django's `b62_encode` does (`0` → `"0"`, `-62` → `"-10"`).
pub fn encode(n: i64) -> String {
    let mut s = String::with_capacity(12);
    encode_into(n, &mut s);
    s
}

/// Appends the base62 form of `n` to `out`.
pub(crate) fn encode_into(n: i64, out: &mut String) {
    if n < 0 {
        out.push('-');
    }
    let mut v = n.unsigned_abs();
    // 62^11 > u64::MAX, so 11 digits always suffice.
    let mut buf = [0u8; 11];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = ALPHABET[(v % 62) as usize];
        v /= 62;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&b| char::from(b)));
}

/// Decodes as Django's `b62_decode` does, or `None` where Python raises or the
/// number does not fit an `i64`.
///
/// Mirrors Python's quirks: leading zeros are accepted, `""` is refused, and a
/// lone `"-"` decodes to 0.
pub fn decode(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let mut v: u64 = 0;
    for b in digits.bytes() {
        v = v.checked_mul(62)?.checked_add(digit(b)?)?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

fn digit(b: u8) -> Option<u64> {
    let d = match b {
        b'0'..=b'9' => b - b'0',
        b'A'..=b'Z' => b - b'A' + 10,
        b'a'..=b'z' => b - b'a' + 36,
        _ => return None,
    };
    Some(u64::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_extremes() {
        for n in [0, 1, 61, 62, -1, -62, i64::MAX, i64::MIN, i64::MIN + 1] {
            assert_eq!(decode(&encode(n)), Some(n), "{n}");
        }
    }

    #[test]
    fn python_quirks_and_overflow() {
        assert_eq!(decode(""), None);
        assert_eq!(decode("-"), Some(0));
        assert_eq!(decode("007"), Some(7));
        assert_eq!(decode("--1"), None);
        assert_eq!(decode("1:"), None);
        assert_eq!(decode("é"), None);
        assert_eq!(decode("zzzzzzzzzzzz"), None);
        assert_eq!(decode(&"1".repeat(5000)), None);
    }
}

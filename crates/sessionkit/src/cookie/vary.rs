//! `Vary: Cookie`, added as Django's `patch_vary_headers(response, ("Cookie",))`.

use http::header::VARY;
use http::{HeaderMap, HeaderValue};

/// Adds `Cookie` to the response's `Vary`, keeping what is there.
///
/// Every `Vary` header is read (in order) and split on commas with the
/// whitespace around them; `Cookie` is appended unless present in any case;
/// the result is one header joined with `", "`, or `*` when `*` was listed.
/// Unlike Django, empty list items are dropped (HTTP ignores them).
pub fn patch_vary(headers: &mut HeaderMap) {
    // The usual case, on every response that touched the session: nothing
    // to merge with, so nothing to allocate.
    if !headers.contains_key(VARY) {
        headers.insert(VARY, HeaderValue::from_static("Cookie"));
        return;
    }
    let value = vary_with_cookie(headers.get_all(VARY).iter().map(|v| v.as_bytes()));
    // Bytes taken from valid header values, joined by ", ", are valid again;
    // should that ever fail, the existing headers stay untouched.
    if let Ok(value) = HeaderValue::from_bytes(&value) {
        headers.insert(VARY, value);
    }
}

/// The one `Vary` value to set, given every `Vary` value the response has,
/// in order (the rules of [`patch_vary`]): for an adapter whose header
/// types are not the `http` crate's.
pub(crate) fn vary_with_cookie<'a>(existing: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut items: Vec<&[u8]> = Vec::new();
    for value in existing {
        for item in value.split(|b| *b == b',') {
            let item = item.trim_ascii();
            if !item.is_empty() {
                items.push(item);
            }
        }
    }
    if items.iter().any(|item| *item == b"*") {
        return b"*".to_vec();
    }
    if !items
        .iter()
        .any(|item| item.eq_ignore_ascii_case(b"cookie"))
    {
        items.push(b"Cookie");
    }
    items.join(&b", "[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary_after(existing: &[&'static str]) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for value in existing {
            headers.append(VARY, HeaderValue::from_static(value));
        }
        patch_vary(&mut headers);
        headers
            .get_all(VARY)
            .iter()
            .map(|v| v.to_str().unwrap_or("<bytes>").to_owned())
            .collect()
    }

    #[test]
    fn merges_every_vary_header() {
        assert_eq!(vary_after(&[]), ["Cookie"]);
        assert_eq!(
            vary_after(&["Accept-Encoding"]),
            ["Accept-Encoding, Cookie"]
        );
        assert_eq!(
            vary_after(&["Accept-Encoding ,Origin", "Accept-Language"]),
            ["Accept-Encoding, Origin, Accept-Language, Cookie"]
        );
        assert_eq!(vary_after(&["Origin", "COOKIE"]), ["Origin, COOKIE"]);
        assert_eq!(vary_after(&["Origin", "*"]), ["*"]);
        assert_eq!(vary_after(&[" , "]), ["Cookie"]);
    }
}

//! File names: Django's `SESSION_COOKIE_NAME + session_key`, and the only
//! way a path is ever built from a key.

use std::path::{Path, PathBuf};

use crate::error::StoreError;
use crate::key;

/// Django's default `SESSION_COOKIE_NAME`, the default file-name prefix.
pub(super) const DEFAULT_PREFIX: &str = "sessionid";

/// The longest prefix accepted: with a 40-character key and the temp-file
/// suffix, a name stays well under the usual 255-byte limit.
const MAX_PREFIX: usize = 128;

/// A checked file-name prefix: the characters of an RFC 6265 cookie-name
/// token, so it can hold no `/`, `\`, NUL or space and never leaves the directory.
#[derive(Clone, Debug)]
pub(super) struct Prefix(String);

impl Prefix {
    pub(super) fn new(prefix: String) -> Result<Self, StoreError> {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if prefix.is_empty() || prefix.len() > MAX_PREFIX || !prefix.bytes().all(token) {
            return Err(StoreError::Config(format!(
                "file session prefix {prefix:?} must be 1 to {MAX_PREFIX} cookie-name characters"
            )));
        }
        Ok(Self(prefix))
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }

    /// The path of `key`'s file in `dir`, or `None` for anything that is not
    /// a session key: nothing else ever becomes a path.
    pub(super) fn path(&self, dir: &Path, key: &str) -> Option<PathBuf> {
        key::is_valid_key(key).then(|| dir.join(self.file_name(key)))
    }

    /// Django's file name for `key`. Only for keys already checked.
    pub(super) fn file_name(&self, key: &str) -> String {
        format!("{}{key}", self.0)
    }

    /// The session key a directory entry is the file of, if any. Temp files
    /// (`…_out_…`), the lock directory and foreign files have none.
    pub(super) fn key_of<'a>(&self, file_name: &'a str) -> Option<&'a str> {
        file_name
            .strip_prefix(self.0.as_str())
            .filter(|k| key::is_valid_key(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for ok in ["sessionid", "my.session-id_2", "a"] {
            assert!(Prefix::new(ok.into()).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_PREFIX + 1);
        for bad in ["", "../x", "a/b", "a\\b", "a\0b", "a b", "a;b", "sé", &long] {
            assert!(Prefix::new(bad.into()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_only_for_keys() {
        let p = Prefix::new(DEFAULT_PREFIX.into()).unwrap();
        let dir = Path::new("/srv/sessions");
        assert_eq!(
            p.path(dir, "abcdefgh1234"),
            Some(PathBuf::from("/srv/sessions/sessionidabcdefgh1234"))
        );
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "abcdefgh/../x",
            "abcdefgh\0",
            "",
        ] {
            assert_eq!(p.path(dir, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_of_names() {
        let p = Prefix::new(DEFAULT_PREFIX.into()).unwrap();
        assert_eq!(p.key_of("sessionidabcdefgh1234"), Some("abcdefgh1234"));
        for other in [
            "sessionidabcdefgh1234_out_x1y2z3ab",
            "sessionid",
            "sessionidshort",
            ".sessionkit-locks",
            "othersabcdefgh1234",
            "sessionidABCDEFGH1234",
        ] {
            assert_eq!(p.key_of(other), None, "{other}");
        }
    }
}

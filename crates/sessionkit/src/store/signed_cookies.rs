//! Django's `signed_cookies` engine: the whole session lives in the cookie,
//! signed (`signing.dumps(…, compress=True, salt="django.contrib.sessions.backends.signed_cookies")`).
//!
//! There is no server copy, so there is nothing to compare-and-set against:
//! every save wins, `delete` and `clear_expired` have nothing to do, and a
//! logout cannot revoke a copied cookie (Django's own caveat). The signature's
//! timestamp is the last save; a cookie older than `SESSION_COOKIE_AGE` is
//! expired, whatever `set_expiry` said (Django #19201).

use std::fmt;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::expiry::{offset_from, MAX_OFFSET_SECONDS};
use crate::key::log_tag;
use crate::signing::Codec;

use super::{Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version};

/// Browsers drop a cookie whose name and value exceed this many bytes.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The session in a signed cookie.
#[derive(Clone)]
pub struct SignedCookieStore {
    codec: Codec,
    /// `SESSION_COOKIE_AGE`, clamped to ±[`MAX_OFFSET_SECONDS`].
    max_age: Duration,
    max_value_bytes: usize,
}

impl SignedCookieStore {
    /// A store signing with `config`'s keys and Django's signed-cookies salt,
    /// expiring cookies after `config.cookie_age`, refusing values that would
    /// make the cookie (name, `=`, value) longer than 4096 bytes.
    ///
    /// `config.cookie_age` is a public field, so it may hold what
    /// [`SessionConfig::from_env`] refuses: it is clamped to about 317 years
    /// either way ([`MAX_OFFSET_SECONDS`]), so no cookie can overflow a date.
    pub fn new(config: &SessionConfig) -> Self {
        let age = config
            .cookie_age
            .clamp(-MAX_OFFSET_SECONDS, MAX_OFFSET_SECONDS);
        Self {
            codec: config.signed_cookies_codec(),
            max_age: Duration::seconds(age),
            max_value_bytes: MAX_COOKIE_BYTES.saturating_sub(config.cookie_name.len() + 1),
        }
    }

    fn encode(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let value = self.codec.encode(&record.data, now);
        if value.len() > self.max_value_bytes {
            return Err(StoreError::TooLarge {
                size: value.len(),
                limit: self.max_value_bytes,
            });
        }
        Ok(Saved {
            cookie_value: value,
            version: Version::new(Vec::new()),
        })
    }
}

impl fmt::Debug for SignedCookieStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCookieStore")
            .field("cookie_age", &self.max_age.whole_seconds())
            .field("max_value_bytes", &self.max_value_bytes)
            .finish_non_exhaustive()
    }
}

/// The characters of a signed value: URL-safe base64, `.` (compressed) and `:`.
/// [`signed_alphabet`] as a table: the check runs over every cookie received.
const SIGNED_ALPHABET: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = signed_alphabet(b as u8);
        b += 1;
    }
    table
};

const fn signed_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
}

#[async_trait]
impl SessionStore for SignedCookieStore {
    /// The session lives in the cookie: a save writes nothing shared.
    fn saves_can_conflict(&self) -> bool {
        false
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        // Django drops keys under 8 characters; nothing it signs is that short.
        (8..=MAX_COOKIE_BYTES).contains(&cookie_value.len())
            && cookie_value
                .bytes()
                .all(|b| SIGNED_ALPHABET[usize::from(b)])
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        let max_age = self.max_age;
        match self.codec.decode(key, Some(max_age), now) {
            Ok(decoded) => Ok(Some(Loaded {
                record: Record::new(
                    decoded.data,
                    OffsetDateTime::from_unix_timestamp(decoded.timestamp)
                        .map_or(now, |t| offset_from(t, max_age)),
                ),
                version: Version::new(Vec::new()),
            })),
            Err(e) => {
                // Django: any failure → a new, empty session, re-issued at once.
                tracing::info!(cookie = %log_tag(key), error = %e, "signed session cookie rejected; starting a new session");
                Ok(Some(Loaded {
                    record: Record::new(SessionMap::new(), offset_from(now, max_age)),
                    version: Version::rewrite(Vec::new()),
                }))
            }
        }
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.encode(record, now)
    }

    async fn save(
        &self,
        _key: &str,
        record: &Record,
        _expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        // No server copy to compare with: the cookie the client sent was the
        // whole session, and this request's view of it is the new one.
        self.encode(record, now).map(SaveOutcome::Saved)
    }

    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn clear_expired(&self, _now: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn touch(
        &self,
        _key: &str,
        _expires_at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // The expiry is the signature's timestamp: only a new cookie moves it.
        Ok(false)
    }
}

//! Django's `signed_cookies` engine: the whole session lives in the cookie,
//! signed (`signing.dumps(…, compress=True, salt="django.contrib.sessions.backends.signed_cookies")`).
//!
//! There is no server copy, so there is nothing to compare-and-set against:
//! every save wins, `delete` and `clear_expired` have nothing to do, and a
//! logout cannot revoke a copied cookie (Django's own caveat). The signature's
//! timestamp is the last save; a cookie older than `SESSION_COOKIE_AGE` is
//! expired, whatever `set_expiry` said (Django #19201).

use std::fmt;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::expiry::{offset_from, MAX_OFFSET_SECONDS};
use crate::key::log_tag;
use crate::signing::Codec;

use super::{
    ImmediateStore, Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version,
};

/// Browsers drop a cookie whose name and value exceed this many bytes.
const MAX_COOKIE_BYTES: usize = 4096;

/// The session in a signed cookie.
///
/// Its settings (the keys, the cookie age, the cookie name's length) come
/// from the [`SessionConfig`] of the layer it is given to
/// ([`SessionStore::attach`]), or from [`with_config`](Self::with_config)
/// for use without a layer. Until then every load and save fails with
/// [`StoreError::Config`]. Clones share the settings.
#[derive(Clone, Default)]
pub struct SignedCookieStore {
    settings: Arc<OnceLock<Settings>>,
}

/// What the store takes from a [`SessionConfig`].
struct Settings {
    codec: Codec,
    /// `SESSION_COOKIE_AGE`, clamped to ±[`MAX_OFFSET_SECONDS`].
    max_age: Duration,
    max_value_bytes: usize,
}

impl Settings {
    /// Signing with `config`'s keys and Django's signed-cookies salt,
    /// expiring cookies after `config.cookie_age`, refusing values that would
    /// make the cookie (name, `=`, value) longer than 4096 bytes.
    ///
    /// `config.cookie_age` is a public field, so it may hold what
    /// [`SessionConfig::from_env`] refuses: it is clamped to about 317 years
    /// either way ([`MAX_OFFSET_SECONDS`]), so no cookie can overflow a date.
    fn of(config: &SessionConfig) -> Self {
        let age = config
            .cookie_age
            .clamp(-MAX_OFFSET_SECONDS, MAX_OFFSET_SECONDS);
        Self {
            codec: config.signed_cookies_codec(),
            max_age: Duration::seconds(age),
            max_value_bytes: MAX_COOKIE_BYTES.saturating_sub(config.cookie_name.len() + 1),
        }
    }
}

impl SignedCookieStore {
    /// A store without settings yet: give it to a
    /// [`SessionLayer`](crate::SessionLayer), which hands it its
    /// [`SessionConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes its settings from `config` now, for a store used without a
    /// layer (or by several: the first settings a store gets stay).
    #[must_use]
    pub fn with_config(self, config: &SessionConfig) -> Self {
        self.attach(config);
        self
    }

    fn settings(&self) -> Result<&Settings, StoreError> {
        self.settings.get().ok_or_else(|| {
            StoreError::Config(
                "the signed_cookies store has no settings: give it to a SessionLayer (which \
                 passes its SessionConfig along), or build it `.with_config(&config)`"
                    .to_owned(),
            )
        })
    }

    fn encode(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let settings = self.settings()?;
        let value = settings.codec.encode(&record.data, now);
        if value.len() > settings.max_value_bytes {
            return Err(StoreError::TooLarge {
                size: value.len(),
                limit: settings.max_value_bytes,
            });
        }
        Ok(Saved {
            cookie_value: value,
            version: Version::new(Vec::new()),
        })
    }
}

impl fmt::Debug for SignedCookieStore {
    // No keys: the limits only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = self.settings.get();
        f.debug_struct("SignedCookieStore")
            .field("cookie_age", &settings.map(|s| s.max_age.whole_seconds()))
            .field("max_value_bytes", &settings.map(|s| s.max_value_bytes))
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
    fn engine_name(&self) -> &'static str {
        "signed_cookies"
    }

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
        self.load_now(key, now)
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.create_now(record, now)
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_now(key, record, expected, now)
    }

    fn immediate(&self) -> Option<&dyn ImmediateStore> {
        Some(self)
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

    /// Takes the keys, cookie age and cookie name from the layer's settings,
    /// unless the store has settings already.
    fn attach(&self, config: &SessionConfig) {
        self.settings.get_or_init(|| Settings::of(config));
    }
}

/// Decoding and signing are CPU work on the cookie itself: nothing waits.
impl ImmediateStore for SignedCookieStore {
    fn load_now(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        let settings = self.settings()?;
        let max_age = settings.max_age;
        match settings.codec.decode(key, Some(max_age), now) {
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

    fn create_now(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.encode(record, now)
    }

    fn save_now(
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
}

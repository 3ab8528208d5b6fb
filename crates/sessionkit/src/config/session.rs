//! [`SessionConfig`]: Django's `SESSION_*` and secret settings, with Django's
//! defaults, plus the clock every expiry decision reads.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use time::OffsetDateTime;

use super::env::{self, Source};
use super::secret::{warn_if_weak, warn_if_weak_fallbacks};
use super::{ConfigError, SameSite};
use crate::clock::{Clock, SystemClock};
use crate::expiry::MAX_OFFSET_SECONDS;
use crate::signing::{Codec, Keys, SecretKey};

/// The session settings of a Django project, with Django's defaults (spec §3).
///
/// Built from a secret with [`SessionConfig::new`] or from the environment
/// with [`SessionConfig::from_env`]; the cookie and behaviour fields are
/// public and may be changed afterwards. `Debug` never shows the secrets.
#[derive(Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// `SESSION_COOKIE_NAME`, default `"sessionid"`.
    pub cookie_name: String,
    /// `SESSION_COOKIE_AGE` in seconds, default 1209600 (two weeks).
    /// [`SessionConfig::from_env`] takes 0 to
    /// [`MAX_OFFSET_SECONDS`](crate::expiry::MAX_OFFSET_SECONDS); a value set
    /// here beyond that is clamped wherever a date is computed from it.
    pub cookie_age: i64,
    /// `SESSION_COOKIE_DOMAIN`, default none (the request's host).
    pub cookie_domain: Option<String>,
    /// `SESSION_COOKIE_SECURE`, default `false`.
    pub cookie_secure: bool,
    /// `SESSION_COOKIE_PATH`, default `"/"`.
    pub cookie_path: String,
    /// `SESSION_COOKIE_HTTPONLY`, default `true`.
    pub cookie_httponly: bool,
    /// `SESSION_COOKIE_SAMESITE`, default `Lax`; `None` is Django's `False`
    /// (no attribute).
    pub cookie_samesite: Option<SameSite>,
    /// `SESSION_SAVE_EVERY_REQUEST`, default `false`.
    pub save_every_request: bool,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`, default `false`.
    pub expire_at_browser_close: bool,
    /// Ours (`SESSION_LOAD_ERROR_STATUS`): the response status when the store
    /// cannot be reached, default 503. Never an empty session instead.
    pub load_error_status: StatusCode,
    /// Ours (`SESSION_MAX_SAVE_RETRIES`): compare-and-set retries on a
    /// conflicting save before answering 503, default 16.
    pub max_save_retries: u32,
    /// Ours (`SESSION_STORE_TIMEOUT`, seconds, fractions allowed): the
    /// deadline of each store call the session layer makes (load, create,
    /// save, the reload after a conflict, deletes) and of the wait for this
    /// process's per-session save lock; default 5 s. A call that elapses
    /// counts as the store being unavailable: the configured load-error
    /// status, no `Set-Cookie`. The deadline is per call and the calls of
    /// one request are bounded (by `max_save_retries`), so a request's
    /// session work ends within a bounded multiple of it. Needs a Tokio
    /// runtime with timers enabled.
    pub store_timeout: Duration,
    /// Ours (`SESSION_TOUCH_THRESHOLD`, a fraction in (0, 1]): rolling expiry
    /// without a write on every request. With `save_every_request`, a request
    /// that changed nothing only moves the session's expiry when less than
    /// this fraction of its age remains, and then with the store's `touch`
    /// (the stored data is not rewritten); otherwise it writes nothing and
    /// sends no `Set-Cookie`, the browser's cookie already expiring when the
    /// server copy does. `None` (the default) is Django's behaviour: a full
    /// save and a fresh cookie on every request. Django has no such setting.
    /// A value outside (0, 1] set here is read as `None`.
    pub touch_threshold: Option<f64>,
    keys: Keys,
    clock: Arc<dyn Clock>,
}

impl SessionConfig {
    /// Django's defaults around `secret_key` (`SECRET_KEY`).
    ///
    /// An empty secret is refused; a weak one (Django's W009: under 50
    /// characters, under 5 distinct characters, or `django-insecure-`) is
    /// logged as a warning, without the secret.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when `secret_key` is empty.
    pub fn new(secret_key: impl Into<String>) -> Result<Self, ConfigError> {
        let keys = Keys::new(SecretKey::new(secret_key), Vec::new())
            .map_err(|_| ConfigError::EmptySecret)?;
        warn_if_weak(keys.current().expose());
        Ok(Self {
            cookie_name: "sessionid".to_owned(),
            cookie_age: 1_209_600,
            cookie_domain: None,
            cookie_secure: false,
            cookie_path: "/".to_owned(),
            cookie_httponly: true,
            cookie_samesite: Some(SameSite::Lax),
            save_every_request: false,
            expire_at_browser_close: false,
            load_error_status: StatusCode::SERVICE_UNAVAILABLE,
            max_save_retries: 16,
            store_timeout: Duration::from_secs(5),
            touch_threshold: None,
            keys,
            clock: Arc::new(SystemClock),
        })
    }

    /// `SECRET_KEY_FALLBACKS`: older secrets whose signatures still verify,
    /// newest first. Empty entries are dropped: a value signed with an empty
    /// key proves nothing.
    #[must_use]
    pub fn with_fallbacks<I, S>(mut self, fallbacks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fallbacks: Vec<String> = fallbacks
            .into_iter()
            .map(Into::into)
            .filter(|f| !f.is_empty())
            .collect();
        warn_if_weak_fallbacks(&fallbacks);
        self.keys = self
            .keys
            .with_nonempty_fallbacks(fallbacks.into_iter().map(SecretKey::new).collect());
        self
    }

    /// Reads "now" from `clock` instead of the system clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Reads `SECRET_KEY`, `SECRET_KEY_FALLBACKS` and every `SESSION_*`
    /// setting above from the process environment; unset or blank ones keep
    /// Django's defaults.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingSecret`] or [`ConfigError::EmptySecret`] for the
    /// secret, [`ConfigError::Invalid`] naming the first variable with a value
    /// that cannot be used (or that is not Unicode).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&env::process_env)
    }

    /// [`SessionConfig::from_env`] over any lookup, for tests and other
    /// configuration sources.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_source(&env::infallible(get))
    }

    fn from_source(src: Source<'_>) -> Result<Self, ConfigError> {
        // The secret is neither trimmed nor quoted anywhere: every byte counts.
        let secret = src("SECRET_KEY")?.ok_or(ConfigError::MissingSecret)?;
        let mut config = Self::new(secret)?.with_fallbacks(env::list(src, "SECRET_KEY_FALLBACKS")?);
        if let Some(v) = env::cookie_name(src, "SESSION_COOKIE_NAME")? {
            config.cookie_name = v;
        }
        if let Some(v) = env::integer(src, "SESSION_COOKIE_AGE")? {
            config.cookie_age = cookie_age(v)?;
        }
        if let Some(v) = env::attribute(src, "SESSION_COOKIE_DOMAIN")? {
            config.cookie_domain = Some(v);
        }
        if let Some(v) = env::boolean(src, "SESSION_COOKIE_SECURE")? {
            config.cookie_secure = v;
        }
        if let Some(v) = env::attribute(src, "SESSION_COOKIE_PATH")? {
            config.cookie_path = v;
        }
        if let Some(v) = env::boolean(src, "SESSION_COOKIE_HTTPONLY")? {
            config.cookie_httponly = v;
        }
        if let Some(v) = env::samesite(src, "SESSION_COOKIE_SAMESITE")? {
            config.cookie_samesite = v;
        }
        if let Some(v) = env::boolean(src, "SESSION_SAVE_EVERY_REQUEST")? {
            config.save_every_request = v;
        }
        if let Some(v) = env::boolean(src, "SESSION_EXPIRE_AT_BROWSER_CLOSE")? {
            config.expire_at_browser_close = v;
        }
        if let Some(v) = env::integer::<u16>(src, "SESSION_LOAD_ERROR_STATUS")? {
            config.load_error_status = error_status(v)?;
        }
        if let Some(v) = env::integer(src, "SESSION_MAX_SAVE_RETRIES")? {
            config.max_save_retries = v;
        }
        if let Some(v) = env::seconds(src, "SESSION_STORE_TIMEOUT")? {
            config.store_timeout = v;
        }
        if let Some(v) = env::fraction(src, "SESSION_TOUCH_THRESHOLD")? {
            config.touch_threshold = Some(v);
        }
        Ok(config)
    }

    /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS`.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The codec of Django's db, cached_db and file engines, with these keys.
    pub fn codec(&self) -> Codec {
        Codec::sessions(&self.keys)
    }

    /// The codec of Django's signed_cookies engine, with these keys.
    pub fn signed_cookies_codec(&self) -> Codec {
        Codec::signed_cookies(&self.keys)
    }

    /// The clock expiry decisions read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The touch threshold in effect: [`SessionConfig::touch_threshold`]
    /// when it is a fraction in (0, 1] and `save_every_request` is on.
    pub(crate) fn effective_touch_threshold(&self) -> Option<f64> {
        self.touch_threshold
            .filter(|t| self.save_every_request && *t > 0.0 && *t <= 1.0)
    }

    /// "Now" by [`SessionConfig::clock`].
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

/// Django takes any integer; past about 317 years dates overflow (Python
/// raises, `time` would panic), and a negative age expires every session at
/// once, so both are refused here rather than met on a request.
fn cookie_age(seconds: i64) -> Result<i64, ConfigError> {
    if (0..=MAX_OFFSET_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ConfigError::invalid(
            "SESSION_COOKIE_AGE",
            format!(
                "expected seconds from 0 to {MAX_OFFSET_SECONDS} (about 317 years), got {seconds}"
            ),
        ))
    }
}

fn error_status(code: u16) -> Result<StatusCode, ConfigError> {
    StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .ok_or_else(|| {
            ConfigError::invalid(
                "SESSION_LOAD_ERROR_STATUS",
                format!("expected an HTTP error status (400-599), got {code}"),
            )
        })
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookie_name", &self.cookie_name)
            .field("cookie_age", &self.cookie_age)
            .field("cookie_domain", &self.cookie_domain)
            .field("cookie_secure", &self.cookie_secure)
            .field("cookie_path", &self.cookie_path)
            .field("cookie_httponly", &self.cookie_httponly)
            .field("cookie_samesite", &self.cookie_samesite)
            .field("save_every_request", &self.save_every_request)
            .field("expire_at_browser_close", &self.expire_at_browser_close)
            .field("load_error_status", &self.load_error_status)
            .field("max_save_retries", &self.max_save_retries)
            .field("store_timeout", &self.store_timeout)
            .field("touch_threshold", &self.touch_threshold)
            .field("secret_key", &"[redacted]")
            .field("secret_key_fallbacks", &self.keys.fallbacks().len())
            .field("clock", &self.clock)
            .finish()
    }
}

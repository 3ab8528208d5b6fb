//! Secret keys: `SECRET_KEY` and `SECRET_KEY_FALLBACKS`.

use std::fmt;

/// A secret key. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret. Django's keys are text; it signs with their UTF-8 bytes.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for code that must read it (weak-key checks, signing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `SECRET_KEY` plus `SECRET_KEY_FALLBACKS`: sign with the current key, verify with
/// the current key and then each fallback, in order (as Django does).
#[derive(Clone, Debug)]
pub struct Keys {
    current: SecretKey,
    fallbacks: Vec<SecretKey>,
}

impl Keys {
    /// The signing key and the older keys still accepted when verifying.
    pub fn new(current: SecretKey, fallbacks: Vec<SecretKey>) -> Self {
        Self { current, fallbacks }
    }

    /// The key new signatures are made with.
    pub fn current(&self) -> &SecretKey {
        &self.current
    }

    /// Keys only used to verify, tried after the current one.
    pub fn fallbacks(&self) -> &[SecretKey] {
        &self.fallbacks
    }
}

impl From<SecretKey> for Keys {
    fn from(current: SecretKey) -> Self {
        Self::new(current, Vec::new())
    }
}

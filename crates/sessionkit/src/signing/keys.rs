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

/// A key given to [`Keys::new`] is empty. Anyone can compute an HMAC keyed
/// with `""` (Django derives the HMAC key from the secret and public salts), so
/// a value signed or verified with it proves nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} is empty: use a long random value", match .fallback {
    None => "the secret key".to_owned(),
    Some(i) => format!("fallback secret key #{i}"),
})]
pub struct EmptyKey {
    /// `None` for the current key, else the fallback's position (from 0).
    pub fallback: Option<usize>,
}

/// `SECRET_KEY` plus `SECRET_KEY_FALLBACKS`: sign with the current key, verify with
/// the current key and then each fallback, in order (as Django does).
///
/// No key is ever empty, so every [`Signer`](super::Signer) and
/// [`Codec`](super::Codec), which are built from `Keys`, signs with a secret.
#[derive(Clone, Debug)]
pub struct Keys {
    current: SecretKey,
    fallbacks: Vec<SecretKey>,
}

impl Keys {
    /// The signing key and the older keys still accepted when verifying.
    ///
    /// # Errors
    ///
    /// [`EmptyKey`] when the current key or a fallback is empty. (Weak keys
    /// are accepted; [`SessionConfig`](crate::SessionConfig) warns about
    /// them as Django's deploy check does.)
    pub fn new(current: SecretKey, fallbacks: Vec<SecretKey>) -> Result<Self, EmptyKey> {
        if current.0.is_empty() {
            return Err(EmptyKey { fallback: None });
        }
        if let Some(i) = fallbacks.iter().position(|f| f.0.is_empty()) {
            return Err(EmptyKey { fallback: Some(i) });
        }
        Ok(Self { current, fallbacks })
    }

    /// These keys with `fallbacks` instead of the current ones, the empty
    /// ones dropped (as `SessionConfig::with_fallbacks` documents).
    pub(crate) fn with_nonempty_fallbacks(&self, fallbacks: Vec<SecretKey>) -> Self {
        Self {
            current: self.current.clone(),
            fallbacks: fallbacks.into_iter().filter(|f| !f.0.is_empty()).collect(),
        }
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

impl TryFrom<SecretKey> for Keys {
    type Error = EmptyKey;

    /// The current key alone, without fallbacks.
    fn try_from(current: SecretKey) -> Result<Self, EmptyKey> {
        Self::new(current, Vec::new())
    }
}

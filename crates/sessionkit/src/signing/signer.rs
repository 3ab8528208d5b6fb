//! Django's `TimestampSigner`: `value:b62ts:sig` with a salted HMAC-SHA256.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::base62;
use super::error::{MalformedKind, SigningError};
use super::keys::{Keys, SecretKey};

type HmacSha256 = Hmac<Sha256>;

/// Length of a signature: base64 of a 32-byte HMAC-SHA256, without padding.
const SIGNATURE_LEN: usize = 43;

/// The salt Django's `TimestampSigner` uses when given an empty one.
const EMPTY_SALT_FALLBACK: &str = "django.core.signing.TimestampSigner";

/// Django's `TimestampSigner` for one salt and a set of keys.
///
/// The HMAC key for each secret (`sha256(salt + "signer" + secret)`) is derived
/// once, and the HMAC state after absorbing it is kept, so signing or verifying
/// only hashes the message. Cheap to clone.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<Inner>,
}

struct Inner {
    salt: Box<str>,
    /// One per key: the current key first, then the fallbacks in order.
    macs: Box<[HmacSha256]>,
}

/// What a valid signature covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned<'a> {
    /// The signed value, without its timestamp.
    pub value: &'a str,
    /// The signing time, in Unix seconds.
    pub timestamp: i64,
    /// Verified by a fallback key, not the current one: re-sign it on next save.
    pub fallback: bool,
}

impl Signer {
    /// A signer for `salt` (Django's `TimestampSigner(salt=salt)`; an empty salt
    /// means `"django.core.signing.TimestampSigner"`, as in Django).
    pub fn new(keys: &Keys, salt: &str) -> Self {
        let macs = std::iter::once(keys.current())
            .chain(keys.fallbacks())
            .map(|secret| derive(salt, secret))
            .collect();
        Self {
            inner: Arc::new(Inner {
                salt: salt.into(),
                macs,
            }),
        }
    }

    /// `value:b62(timestamp):signature`, signed with the current key.
    pub fn sign(&self, value: &str, timestamp: i64) -> String {
        let mut out = String::with_capacity(value.len() + 2 + 12 + SIGNATURE_LEN);
        out.push_str(value);
        self.seal(&mut out, timestamp);
        out
    }

    /// Appends `:b62(timestamp):signature` to `out`, which holds the value.
    pub(crate) fn seal(&self, out: &mut String, timestamp: i64) {
        out.push(':');
        base62::encode_into(timestamp, out);
        let Some(current) = self.inner.macs.first() else {
            return;
        };
        let mut mac = current.clone();
        mac.update(out.as_bytes());
        let tag = mac.finalize().into_bytes();
        out.push(':');
        URL_SAFE_NO_PAD.encode_string(tag, out);
    }

    /// Checks the signature with each key (current first), then the timestamp
    /// against `max_age` at `now`, as Django's `TimestampSigner.unsign`.
    ///
    /// Expired iff `now − timestamp > max_age`, strictly, computed exactly (Django
    /// computes it in floats); a timestamp in the future is never expired.
    pub fn unsign<'a>(
        &self,
        signed: &'a str,
        max_age: Option<time::Duration>,
        now: time::OffsetDateTime,
    ) -> Result<Unsigned<'a>, SigningError> {
        let (message, signature) = signed.rsplit_once(':').ok_or(SigningError::BadSignature)?;
        let fallback = self.verify(message.as_bytes(), signature)?;
        let (value, ts) = message
            .rsplit_once(':')
            .ok_or_else(|| SigningError::malformed(MalformedKind::Timestamp))?;
        let timestamp =
            base62::decode(ts).ok_or_else(|| SigningError::malformed(MalformedKind::Timestamp))?;
        if let Some(max_age) = max_age {
            check_age(timestamp, max_age, now)?;
        }
        Ok(Unsigned {
            value,
            timestamp,
            fallback,
        })
    }

    /// Whether a fallback key (not the current one) verified `signature`.
    fn verify(&self, message: &[u8], signature: &str) -> Result<bool, SigningError> {
        // Django compares signature *strings*, so only the canonical 43-char form
        // can match; the strict decoder refuses every other spelling up front.
        if signature.len() != SIGNATURE_LEN {
            return Err(SigningError::BadSignature);
        }
        let mut buf = [0u8; 33];
        let tag = match URL_SAFE_NO_PAD.decode_slice(signature, &mut buf) {
            Ok(32) => &buf[..32],
            _ => return Err(SigningError::BadSignature),
        };
        for (i, key) in self.inner.macs.iter().enumerate() {
            let mut mac = key.clone();
            mac.update(message);
            // `verify_slice` compares in constant time.
            if mac.verify_slice(tag).is_ok() {
                return Ok(i > 0);
            }
        }
        Err(SigningError::BadSignature)
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("salt", &self.inner.salt)
            .field("keys", &self.inner.macs.len())
            .finish()
    }
}

/// The HMAC state for `salt` and `secret`: Django's
/// `salted_hmac(salt + "signer", _, secret)` with its key already absorbed.
fn derive(salt: &str, secret: &SecretKey) -> HmacSha256 {
    let salt = if salt.is_empty() {
        EMPTY_SALT_FALLBACK
    } else {
        salt
    };
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(b"signer")
        .chain_update(secret.expose())
        .finalize();
    // HMAC zero-pads a key shorter than the block; doing it here gives the same
    // MAC through the infallible constructor.
    let mut key = Key::<HmacSha256>::default();
    key[..digest.len()].copy_from_slice(&digest);
    <HmacSha256 as KeyInit>::new(&key)
}

fn check_age(
    timestamp: i64,
    max_age: time::Duration,
    now: time::OffsetDateTime,
) -> Result<(), SigningError> {
    const NANOS: i128 = 1_000_000_000;
    let age_nanos = now.unix_timestamp_nanos() - i128::from(timestamp) * NANOS;
    if age_nanos <= max_age.whole_nanoseconds() {
        return Ok(());
    }
    let secs = i64::try_from(age_nanos / NANOS).unwrap_or(i64::MAX);
    let age = time::Duration::seconds(secs)
        .saturating_add(time::Duration::nanoseconds((age_nanos % NANOS) as i64));
    Err(SigningError::Expired { age, max_age })
}

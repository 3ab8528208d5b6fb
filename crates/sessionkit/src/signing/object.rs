//! Django's `signing.dumps`/`loads`: JSON, optional zlib, base64, then the
//! timestamp signer.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::Value;

use super::error::{MalformedKind, SigningError};
use super::keys::Keys;
use super::signer::Signer;
use super::{json, python_json, zlib};

/// Reads payloads as leniently as Python's `b64_decode` where it matters for
/// values Django could have written: padding optional, non-zero trailing bits
/// accepted. Signatures are still checked strictly (see `Signer::unsign`).
const PAYLOAD_B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A verified and decoded value.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The JSON value that was signed.
    pub value: Value,
    /// The signing time, in Unix seconds.
    pub timestamp: i64,
    /// Verified by a fallback key, not the current one: re-sign it on next save.
    pub fallback: bool,
}

impl Signer {
    /// Django's `signing.dumps(value, salt=…, compress=…)` at `now`.
    pub fn dumps(&self, value: &Value, compress: bool, now: time::OffsetDateTime) -> String {
        let mut raw = String::with_capacity(128);
        json::write_python_json(value, &mut raw);
        self.dumps_json(raw.as_bytes(), compress, now)
    }

    /// Signs JSON text already written in Python's format.
    pub(crate) fn dumps_json(
        &self,
        raw: &[u8],
        compress: bool,
        now: time::OffsetDateTime,
    ) -> String {
        let compressed = if compress {
            zlib::compress_if_smaller(raw)
        } else {
            None
        };
        let (flag, data) = match &compressed {
            Some(c) => (".", c.as_slice()),
            None => ("", raw),
        };
        let b64_len = (data.len() * 4).div_ceil(3);
        let mut out = String::with_capacity(flag.len() + b64_len + 2 + 12 + 43);
        out.push_str(flag);
        URL_SAFE_NO_PAD.encode_string(data, &mut out);
        // Django signs `int(time.time())`.
        self.seal(&mut out, now.unix_timestamp());
        out
    }

    /// Django's `signing.loads(signed, salt=…, max_age=…)` at `now`.
    pub fn loads(
        &self,
        signed: &str,
        max_age: Option<time::Duration>,
        now: time::OffsetDateTime,
    ) -> Result<Verified, SigningError> {
        self.loads_as(signed, max_age, now, Top::Any)
    }

    /// `loads` for a session, which must be a JSON object: a payload whose top
    /// level is a value only Python holds (`NaN`) is [`SigningError::NotAnObject`]
    /// rather than a marker that would be written back as a dict.
    pub(crate) fn loads_object(
        &self,
        signed: &str,
        max_age: Option<time::Duration>,
        now: time::OffsetDateTime,
    ) -> Result<Verified, SigningError> {
        self.loads_as(signed, max_age, now, Top::Object)
    }

    fn loads_as(
        &self,
        signed: &str,
        max_age: Option<time::Duration>,
        now: time::OffsetDateTime,
        top: Top,
    ) -> Result<Verified, SigningError> {
        let unsigned = self.unsign(signed, max_age, now)?;
        Ok(Verified {
            value: decode_payload(unsigned.value, top)?,
            timestamp: unsigned.timestamp,
            fallback: unsigned.fallback,
        })
    }
}

/// What the top level of a payload may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Top {
    Any,
    Object,
}

/// Django's `signing.dumps`: signs `value` with the current key of `keys`.
pub fn dumps(
    value: &Value,
    keys: &Keys,
    salt: &str,
    compress: bool,
    now: time::OffsetDateTime,
) -> String {
    Signer::new(keys, salt).dumps(value, compress, now)
}

/// Django's `signing.loads`: verifies with every key of `keys` and decodes.
pub fn loads(
    signed: &str,
    keys: &Keys,
    salt: &str,
    max_age: Option<time::Duration>,
    now: time::OffsetDateTime,
) -> Result<Verified, SigningError> {
    Signer::new(keys, salt).loads(signed, max_age, now)
}

fn decode_payload(payload: &str, top: Top) -> Result<Value, SigningError> {
    let (compressed, b64) = match payload.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, payload),
    };
    let bytes = PAYLOAD_B64
        .decode(b64)
        .map_err(|e| SigningError::malformed_by(MalformedKind::Base64, e))?;
    let bytes = if compressed {
        zlib::decompress_capped(&bytes)?
    } else {
        bytes
    };
    parse_latin1_json(&bytes, top)
}

/// Django decodes the bytes as latin-1 before `json.loads`; Django itself only
/// writes ASCII, but a byte ≥ 0x80 from elsewhere must read as the same char.
///
/// serde_json reads almost every session, fast. What it refuses (`NaN`, lone
/// surrogates, deep nesting) or may have rounded (an integer beyond 64 bits
/// becomes a float) is read again by the Python-compatible parser, which keeps
/// those values as raw markers, so the session is neither lost nor altered.
fn parse_latin1_json(bytes: &[u8], top: Top) -> Result<Value, SigningError> {
    let parsed = if bytes.is_ascii() {
        serde_json::from_slice(bytes)
    } else {
        let text: String = bytes.iter().map(|&b| char::from(b)).collect();
        serde_json::from_str(&text)
    };
    match parsed {
        Ok(value) if !python_json::may_hold_big_int(&value) => Ok(value),
        // The second parser reads all serde_json reads; were it ever to refuse,
        // serde_json's reading still beats losing the session.
        Ok(value) => Ok(python_json::parse(bytes).unwrap_or(value)),
        Err(e) => match python_json::parse(bytes) {
            Some(_) if top == Top::Object && !python_json::starts_object(bytes) => {
                Err(SigningError::NotAnObject)
            }
            Some(value) => Ok(value),
            None => Err(SigningError::Json(e)),
        },
    }
}

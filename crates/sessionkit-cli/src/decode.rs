//! `sessionkit decode`: Django's `signing.loads`, for an operator holding a
//! cookie or a `session_data` value.
//!
//! The value is verified with `SECRET_KEY` and then each fallback key, its age
//! checked against `--max-age`, and what it holds printed as JSON. Every
//! refusal is one line on stderr saying why, and exit code 1.

use serde_json::Value;
use sessionkit::config::Engine;
use sessionkit::signing::{base62, Keys, SecretKey, Signer, SigningError};
use time::{Duration, OffsetDateTime};

use crate::error::CliError;
use crate::opt::DecodeArgs;
use crate::salt::Salt;
use crate::settings;
use crate::{input, output};

/// Runs `decode`.
pub(crate) async fn run(args: DecodeArgs) -> Result<(), CliError> {
    let text = input::argument(&args.value)?;
    let value = text.trim();
    let salt = Salt::of(&args.salt);
    let now = args.now.map_or_else(OffsetDateTime::now_utc, |t| t.0);
    check_shape(value)?;
    if args.no_verify {
        return unverified(value, &salt, now, args.pretty);
    }
    let config = settings::session_config(
        args.secrets.secret.as_deref(),
        &args.secrets.fallback_secrets,
    )?;
    // Django's signed_cookies engine loads with max_age=SESSION_COOKIE_AGE;
    // db and file rows have no age limit on the signature (expire_date decides).
    let max_age = args.max_age.map(|s| s.0).or_else(|| {
        (salt.engine == Some(Engine::SignedCookies)).then(|| Duration::seconds(config.cookie_age))
    });
    let verified = Signer::new(config.keys(), &salt.salt)
        .loads(value, max_age, now)
        .map_err(|e| refusal(e, &salt))?;
    if salt.engine.is_some() && !verified.value.is_object() {
        return Err(CliError::new(
            "not a session: the signed payload is not a JSON object \
             (pass --salt to decode any signed value)",
        ));
    }
    output::line(&json(&verified.value, args.pretty))?;
    if verified.fallback {
        output::note("note: verified with a fallback key, not the current SECRET_KEY");
    }
    Ok(())
}

/// `payload:timestamp:signature`, or a clear "malformed" before any key is tried.
fn check_shape(value: &str) -> Result<(), CliError> {
    if value.is_empty() {
        return Err(CliError::new("malformed input: the value is empty"));
    }
    if value.matches(':').count() < 2 {
        return Err(CliError::new(
            "malformed input: a signed value is payload:timestamp:signature",
        ));
    }
    Ok(())
}

/// Why a value was refused, in the operator's terms.
fn refusal(e: SigningError, salt: &Salt) -> CliError {
    match e {
        SigningError::BadSignature => CliError::new(format!(
            "bad signature: tampered with, signed with a key not given \
             (SECRET_KEY, SECRET_KEY_FALLBACKS), or with a salt other than {:?}",
            salt.salt
        )),
        // "signature expired: age …s exceeds max age …s".
        SigningError::Expired { .. } => CliError::new(e.to_string()),
        other => CliError::with("malformed value", other),
    }
}

/// `--no-verify`: the payload and timestamp as they are, labelled unverified.
fn unverified(value: &str, salt: &Salt, now: OffsetDateTime, pretty: bool) -> Result<(), CliError> {
    let Some((payload, timestamp)) = value
        .rsplit_once(':')
        .and_then(|(signed, _signature)| signed.rsplit_once(':'))
    else {
        return Err(CliError::new(
            "malformed input: a signed value is payload:timestamp:signature",
        ));
    };
    let timestamp = base62::decode(timestamp)
        .ok_or_else(|| CliError::new("malformed input: the timestamp is not base62"))?;
    // The library decodes payloads only after a signature checked out. So the
    // payload is signed here with a throwaway key and decoded by the very same
    // code: base64, zlib behind its size cap, latin-1 JSON, exactly as for a
    // verified value. Nothing signed with this key leaves the process.
    let keys = Keys::try_from(SecretKey::new("sessionkit --no-verify"))
        .map_err(|e| CliError::with("throwaway key", e))?;
    let throwaway = Signer::new(&keys, &salt.salt);
    let decoded = throwaway
        .loads(&throwaway.sign(payload, timestamp), None, now)
        .map_err(|e| CliError::with("malformed value", e))?;
    let signed_at = OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .map(sessionkit::expiry::isoformat);
    let labelled = serde_json::json!({
        "unverified": true,
        "timestamp": timestamp,
        "signed_at": signed_at,
        "payload": decoded.value,
    });
    output::line(&json(&labelled, pretty))?;
    output::note("warning: the signature was NOT checked (--no-verify)");
    Ok(())
}

/// Compact output is the JSON Django itself would write (ASCII, Python's
/// floats, and the values only Python can hold — `NaN`, huge integers — as
/// their own tokens); `--pretty` is for people and shows those as the
/// library's marker objects.
fn json(value: &Value, pretty: bool) -> String {
    if pretty {
        // Serialising a `Value` cannot fail: its map keys are always strings.
        serde_json::to_string_pretty(value).unwrap_or_default()
    } else {
        sessionkit::signing::json::to_python_json(value)
    }
}

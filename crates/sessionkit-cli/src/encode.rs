//! `sessionkit encode`: Django's `signing.dumps`, byte for byte.
//!
//! With a session engine's salt (the default) the value must be a session
//! dict and is always compressed when that helps, as Django's
//! `SessionBase.encode`; with `--salt` it may be any JSON, compressed only
//! with `--compress`.

use serde_json::Value;
use sessionkit::signing::Signer;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::opt::EncodeArgs;
use crate::salt::Salt;
use crate::settings;
use crate::{input, output};

/// Runs `encode`.
pub(crate) async fn run(args: EncodeArgs) -> Result<(), CliError> {
    let text = input::argument(&args.json)?;
    // serde_json's messages give a line and column, never the input itself.
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::with("malformed input: not valid JSON", e))?;
    let salt = Salt::of(&args.salt);
    if salt.engine.is_some() && !value.is_object() {
        return Err(CliError::new(
            "malformed input: a session is a JSON object (pass --salt to sign any JSON value)",
        ));
    }
    let config = settings::session_config(args.secret.as_deref(), &[])?;
    let now = args.now.map_or_else(OffsetDateTime::now_utc, |t| t.0);
    let compress = args.compress || salt.engine.is_some();
    let signed = Signer::new(config.keys(), &salt.salt).dumps(&value, compress, now);
    output::line(&signed)
}

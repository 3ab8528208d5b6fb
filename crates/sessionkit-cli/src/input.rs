//! Reading a command's main argument, which may be `-` for standard input so
//! that cookies, session data and secrets stay out of process listings.

use std::io::{self, Read};

use crate::error::CliError;

/// The most bytes read from standard input: far above any cookie (4 KiB) or
/// session row Django would write, far below what could exhaust memory.
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// `arg` itself, or all of standard input when `arg` is `-`.
pub(crate) fn argument(arg: &str) -> Result<String, CliError> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::with("cannot read standard input", e))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(CliError::new(format!(
            "malformed input: standard input is larger than {} MiB",
            MAX_INPUT / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| CliError::new("malformed input: standard input is not UTF-8 text"))
}

//! Writing results to standard output and notes to standard error.
//!
//! `println!` panics when stdout is a closed pipe (`sessionkit stats | head -0`);
//! here a closed pipe just ends the output, and other write errors are
//! reported, never a panic.

use std::io::{self, Write};

use crate::error::CliError;

/// Writes `text` and a newline to stdout.
pub(crate) fn line(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    let result = writeln!(out, "{text}").and_then(|()| out.flush());
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(CliError::with("cannot write to standard output", e))
        }
        _ => Ok(()),
    }
}

/// Writes a note for the operator to stderr; a failure to do so is ignored,
/// as there is nowhere left to report it.
pub(crate) fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

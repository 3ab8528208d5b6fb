//! The `sessionkit` binary: parses the command line and hands it to
//! [`sessionkit_cli::run`], whose exit code it returns (clap itself exits 2 on
//! a usage error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    sessionkit_cli::run(sessionkit_cli::Cli::parse())
}

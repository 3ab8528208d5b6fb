//! The `sessionkit` command-line tool: the operator's side of sessionkit, as
//! `manage.py clearsessions` is Django's.
//!
//! - `migrate`: create the session table as Django's migration does;
//! - `clearsessions`: delete expired sessions, in batches;
//! - `decode` / `encode`: Django's `signing.loads` / `signing.dumps`;
//! - `stats`: live and expired counts;
//! - `sessions list` / `sessions revoke`: a user's sessions in the per-user
//!   session index.
//!
//! The binary is a thin `main` that parses [`Cli`] and calls [`run`]; each
//! subcommand is a module of its own. Exit codes: 0 done, 1 refused or
//! failed (one line on stderr), 2 bad arguments (clap's usage message).
//! Secrets come from `SECRET_KEY` / `SECRET_KEY_FALLBACKS` or flags, and are
//! never printed.

mod clearsessions;
mod decode;
mod encode;
mod error;
mod input;
mod migrate;
mod opt;
mod output;
mod progress;
mod salt;
mod sessions;
mod settings;
mod sqlite;
mod stats;
mod when;

use std::process::ExitCode;

pub use opt::{
    ClearArgs, Cli, Command, DecodeArgs, EncodeArgs, IndexArgs, MigrateArgs, SaltArgs, SecretArgs,
    SessionsCommand, SessionsListArgs, SessionsRevokeArgs, StatsArgs, StoreArgs,
};
pub use when::{BadTime, Seconds, UnixTime};

/// Runs a parsed command line; returns the process's exit code.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(dispatch(cli.command)),
        Err(e) => Err(error::CliError::with("cannot start the async runtime", e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::note(&format!("error: {}", e.one_line()));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<(), error::CliError> {
    match command {
        Command::Migrate(args) => migrate::run(args).await,
        Command::Clearsessions(args) => clearsessions::run(args).await,
        Command::Decode(args) => decode::run(args).await,
        Command::Encode(args) => encode::run(args).await,
        Command::Stats(args) => stats::run(args).await,
        Command::Sessions(SessionsCommand::List(args)) => sessions::list::run(args).await,
        Command::Sessions(SessionsCommand::Revoke(args)) => sessions::revoke::run(args).await,
    }
}

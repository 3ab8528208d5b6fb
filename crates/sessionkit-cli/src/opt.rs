//! The command line, as clap types: every subcommand, flag and help text.
//!
//! Values are validated here where clap can do it (engines, table names,
//! times), so a bad argument is a usage error (exit 2) before anything runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sessionkit::config::{is_valid_table_name, Engine};

use crate::when::{Seconds, UnixTime};

/// The sessionkit command-line tool: the operator's side of Django-compatible
/// sessions, as `manage.py clearsessions` is Django's.
///
/// Secrets are read from `SECRET_KEY` and `SECRET_KEY_FALLBACKS` (comma-separated)
/// in the environment; `--secret` and `--fallback-secret` override them, but
/// flags show in process listings, so prefer the environment. Other settings
/// (`SESSION_ENGINE`, `SESSION_DB_URL`, `SESSION_DB_TABLE`, `SESSION_CACHE_URL`,
/// `SESSION_FILE_PATH`, `SESSION_COOKIE_NAME`, `SESSION_COOKIE_AGE`) are read
/// from the environment when no flag gives them.
#[derive(Debug, Parser)]
#[command(name = "sessionkit", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the session table and its index, as Django's migration does.
    ///
    /// Idempotent: an existing table (Django's or ours) is left exactly as it
    /// is. Needs no secret.
    Migrate(MigrateArgs),
    /// Delete expired sessions, in batches, and print how many went.
    ///
    /// Engines whose server expires entries itself (cache, signed_cookies)
    /// print 0, as Django's `clearsessions` does nothing for them.
    Clearsessions(ClearArgs),
    /// Verify a signed value and print what it holds, as JSON.
    ///
    /// Tries SECRET_KEY, then each fallback key. Exits 1 with one line on
    /// stderr for a bad signature, an expired value or malformed input.
    Decode(DecodeArgs),
    /// Sign a JSON value the way Django's `signing.dumps` does.
    Encode(EncodeArgs),
    /// Count live and expired sessions.
    Stats(StatsArgs),
    /// A user's sessions in the per-user session index: list or revoke them.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

/// `sessionkit sessions …`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions, most recently seen first: public id,
    /// login time, last seen, expiry, IP and browser. Needs no secret.
    List(SessionsListArgs),
    /// Revoke one of a user's sessions by its public id, or all of them
    /// (`--all`): each one's next request finds no session. Reads the
    /// session settings (and SECRET_KEY) as the app does, to reach its store.
    Revoke(SessionsRevokeArgs),
}

/// Where the per-user session index is.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Index URL: `sqlite://`, `postgres://`, `mysql://` (a side table), or
    /// `redis://` / `redis+cluster://` when built with Redis; default
    /// `SESSIONKIT_INDEX_URL`, else the session database (`--db`,
    /// `SESSION_DB_URL`).
    #[arg(long, value_name = "URL")]
    pub index: Option<String>,
    /// The index table; default `sessionkit_user_session`.
    #[arg(long, value_name = "NAME", value_parser = table_name)]
    pub index_table: Option<String>,
    /// The Redis index's key prefix; default `SESSION_CACHE_KEY_PREFIX`.
    #[arg(long, value_name = "PREFIX")]
    pub index_prefix: Option<String>,
}

/// `sessionkit sessions list`.
#[derive(Debug, Args)]
pub struct SessionsListArgs {
    /// The user's id (Django's `_auth_user_id`).
    #[arg(value_name = "USER_ID")]
    pub user: String,
    /// Where the index is.
    #[command(flatten)]
    pub index: IndexArgs,
    /// Where the sessions are (the index's default location).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print one JSON array instead of text lines.
    #[arg(long)]
    pub json: bool,
}

/// `sessionkit sessions revoke`.
#[derive(Debug, Args)]
pub struct SessionsRevokeArgs {
    /// The user's id (Django's `_auth_user_id`).
    #[arg(value_name = "USER_ID")]
    pub user: String,
    /// The session's public id, as `sessions list` prints it.
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub id: Option<String>,
    /// Revoke every session of the user ("log out everywhere").
    #[arg(long)]
    pub all: bool,
    /// Where the index is.
    #[command(flatten)]
    pub index: IndexArgs,
    /// Where the sessions are.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Secrets.
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// `sessionkit migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Database URL (`sqlite://path`); default `SESSION_DB_URL`, else
    /// `sqlite://sessions.sqlite3`. A missing SQLite file is created.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Session table; default `SESSION_DB_TABLE`, else `django_session`.
    #[arg(long, value_name = "NAME", value_parser = table_name)]
    pub table: Option<String>,
}

/// Where an engine keeps its sessions.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Session engine: db, cached_db, file, cache or signed_cookies (Django's
    /// dotted names too); default `SESSION_ENGINE`, else db.
    #[arg(long, value_name = "ENGINE", value_parser = engine)]
    pub engine: Option<Engine>,
    /// Database URL for db and cached_db; default `SESSION_DB_URL`, else
    /// `sqlite://sessions.sqlite3`. An SQLite file is never created here.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Cache URL for cache and cached_db; default `SESSION_CACHE_URL`.
    #[arg(long, value_name = "URL")]
    pub cache: Option<String>,
    /// Directory of the file engine; default `SESSION_FILE_PATH`, else the
    /// private `<temp dir>/sessionkit-<uid>` (Django uses the temp dir itself).
    #[arg(long, value_name = "DIR")]
    pub file_path: Option<PathBuf>,
    /// Session table; default `SESSION_DB_TABLE`, else `django_session`.
    #[arg(long, value_name = "NAME", value_parser = table_name)]
    pub table: Option<String>,
}

/// Secrets given as flags. They override the environment, but show in
/// process listings: prefer `SECRET_KEY` and `SECRET_KEY_FALLBACKS`.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// The current secret; overrides `SECRET_KEY`.
    // `allow_hyphen_values`: a secret starting with `-` must not be taken for
    // a flag, or clap would echo part of it in its error.
    #[arg(long, value_name = "SECRET", allow_hyphen_values = true)]
    pub secret: Option<String>,
    /// An older secret still accepted when verifying (repeatable, newest
    /// first); overrides `SECRET_KEY_FALLBACKS`.
    #[arg(
        long = "fallback-secret",
        value_name = "SECRET",
        allow_hyphen_values = true
    )]
    pub fallback_secrets: Vec<String>,
}

/// `sessionkit clearsessions`.
#[derive(Debug, Args)]
pub struct ClearArgs {
    /// Where the sessions are.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The per-user session index whose expired entries go too: the one
    /// named, else the one in the session database if it has one.
    #[command(flatten)]
    pub index: IndexArgs,
    /// Secrets (the file engine reads each session's expiry from its signed data).
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// `sessionkit stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Where the sessions are.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Secrets (the file engine reads each session's expiry from its signed data).
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Print one JSON object instead of text lines.
    #[arg(long)]
    pub json: bool,
}

/// Which salt a value is signed with: a session engine's, or any.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct SaltArgs {
    /// Signing salt, for values made by `signing.dumps(salt=…)`.
    #[arg(long, value_name = "SALT")]
    pub salt: Option<String>,
    /// Use this session engine's salt: db, cached_db, file
    /// (`django.contrib.sessions.SessionStore`, the default) or signed_cookies.
    #[arg(long, value_name = "ENGINE", value_parser = signing_engine)]
    pub engine: Option<Engine>,
}

/// `sessionkit decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The signed value (`payload:timestamp:signature`), or `-` to read it
    /// from standard input (keeps cookies out of process listings).
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    pub value: String,
    /// Which salt.
    #[command(flatten)]
    pub salt: SaltArgs,
    /// Refuse values signed longer ago than this many seconds. Default: none,
    /// or `SESSION_COOKIE_AGE` for `--engine signed_cookies`, as Django.
    #[arg(long, value_name = "SECONDS", conflicts_with = "no_verify")]
    pub max_age: Option<Seconds>,
    /// Judge expiry as of this Unix time (seconds, fraction allowed) instead
    /// of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub now: Option<UnixTime>,
    /// Print the payload and its timestamp without checking the signature,
    /// labelled unverified. Needs no secret.
    #[arg(long)]
    pub no_verify: bool,
    /// Indent the JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Secrets.
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// `sessionkit encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The JSON value to sign, or `-` to read it from standard input. With an
    /// engine's salt (the default) it must be an object: a session.
    #[arg(value_name = "JSON", allow_hyphen_values = true)]
    pub json: String,
    /// Which salt.
    #[command(flatten)]
    pub salt: SaltArgs,
    /// zlib-compress the payload when that makes it shorter, as
    /// `signing.dumps(compress=True)`. Always on for an engine's salt: Django's
    /// sessions always compress.
    #[arg(long)]
    pub compress: bool,
    /// Sign as of this Unix time (seconds) instead of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub now: Option<UnixTime>,
    /// The current secret; overrides `SECRET_KEY`.
    #[arg(long, value_name = "SECRET", allow_hyphen_values = true)]
    pub secret: Option<String>,
}

/// A session engine by Django's name, short or dotted.
fn engine(s: &str) -> Result<Engine, String> {
    s.parse().map_err(|_| {
        "expected db, cached_db, file, cache or signed_cookies \
         (or django.contrib.sessions.backends.<name>)"
            .to_owned()
    })
}

/// An engine whose sessions are signed: every one but cache.
fn signing_engine(s: &str) -> Result<Engine, String> {
    match engine(s)? {
        Engine::Cache => Err("the cache engine signs nothing (Django pickles cache \
                              entries): use db, cached_db, file or signed_cookies"
            .to_owned()),
        other => Ok(other),
    }
}

/// A table name that can be spliced into SQL.
fn table_name(s: &str) -> Result<String, String> {
    if is_valid_table_name(s) {
        Ok(s.to_owned())
    } else {
        Err("expected a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]{0,62})".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

//! Settings from flags and the environment: the secrets, Django's `SESSION_*`
//! values, and where the engine keeps its sessions.
//!
//! A flag wins over its environment variable; everything else is read by the
//! library's own `from_lookup`, so names, defaults and validation are the
//! library's. No error here quotes a secret.

use sessionkit::config::ConfigError;
use sessionkit::{SessionConfig, StoreConfig};

use crate::error::CliError;
use crate::opt::StoreArgs;

/// The session settings, with the secret from `--secret` (else `SECRET_KEY`)
/// and the fallbacks from `--fallback-secret` (else `SECRET_KEY_FALLBACKS`).
/// Only commands that sign or verify ask: no secret is an error. (Commands
/// that only delete or count rows by date build their store without keys.)
pub(crate) fn session_config(
    secret: Option<&str>,
    fallbacks: &[String],
) -> Result<SessionConfig, CliError> {
    let secret = match secret {
        Some(flag) => Some(flag.to_owned()),
        None => env("SECRET_KEY")?,
    };
    let Some(secret) = secret else {
        return Err(CliError::new(
            "no secret: set SECRET_KEY in the environment (or pass --secret)",
        ));
    };
    let env_fallbacks = if fallbacks.is_empty() {
        env("SECRET_KEY_FALLBACKS")?
    } else {
        None
    };
    let config = SessionConfig::from_lookup(|name| match name {
        "SECRET_KEY" => Some(secret.clone()),
        "SECRET_KEY_FALLBACKS" => env_fallbacks.clone(),
        other => std::env::var(other).ok(),
    })
    .map_err(config_error)?;
    Ok(if fallbacks.is_empty() {
        config
    } else {
        // Given one by one, so a flag's secret may hold a comma.
        config.with_fallbacks(fallbacks.iter().cloned())
    })
}

/// The store settings: each flag of `args`, else its `SESSION_*` variable,
/// else the library's default.
pub(crate) fn store_config(args: &StoreArgs) -> Result<StoreConfig, CliError> {
    let flag = |name: &str| -> Option<String> {
        match name {
            "SESSION_ENGINE" => args.engine.map(|e| e.as_str().to_owned()),
            "SESSION_DB_URL" => args.db.clone(),
            "SESSION_CACHE_URL" => args.cache.clone(),
            "SESSION_DB_TABLE" => args.table.clone(),
            _ => None,
        }
    };
    let mut config =
        StoreConfig::from_lookup(|name| flag(name).or_else(|| std::env::var(name).ok()))
            .map_err(config_error)?;
    // A path need not be Unicode, so it is set here rather than looked up.
    if let Some(dir) = &args.file_path {
        config.file_path = Some(dir.clone());
    }
    Ok(config)
}

/// A database URL and table for `migrate`, from flags or the environment.
pub(crate) fn db_target(db: Option<&str>, table: Option<&str>) -> Result<StoreConfig, CliError> {
    StoreConfig::from_lookup(|name| {
        let flag = match name {
            "SESSION_DB_URL" => db,
            "SESSION_DB_TABLE" => table,
            _ => None,
        };
        match flag {
            Some(value) => Some(value.to_owned()),
            // Only the db settings matter to a migration: a bad SESSION_ENGINE
            // in the environment is not its concern.
            None if name.starts_with("SESSION_DB_") => std::env::var(name).ok(),
            None => None,
        }
    })
    .map_err(config_error)
}

/// A secret variable, refusing (rather than dropping) one that is not Unicode.
fn env(name: &'static str) -> Result<Option<String>, CliError> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::new(format!("{name} is not valid Unicode")))
        }
    }
}

fn config_error(e: ConfigError) -> CliError {
    match e {
        ConfigError::EmptySecret => {
            CliError::new("the secret is empty: set SECRET_KEY to a long random value")
        }
        // The library's messages name the variable and never hold a secret.
        other => CliError::new(other.to_string()),
    }
}

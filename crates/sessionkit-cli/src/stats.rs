//! `sessionkit stats`: how many sessions are live and how many expired.
//!
//! The db engine counts rows with SQL (SQLite, opened read-only); the file
//! engine reads each session file, as Django's file engine does when it
//! loads one. Cache and signed_cookies keep nothing the tool can count: that
//! is said plainly, with exit code 1.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sessionkit::config::Engine;
use sessionkit::expiry::{expiry_date, EXPIRY_KEY};
use sessionkit::SessionConfig;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::opt::StatsArgs;
use crate::output;
use crate::settings;
use crate::sqlite::{self, Access};

/// A session file larger than this is not read: Django would never write it
/// (the signed value decompresses to at most a few MiB).
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Live and expired sessions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    live: u64,
    expired: u64,
}

/// Runs `stats`.
pub(crate) async fn run(args: StatsArgs) -> Result<(), CliError> {
    let target = settings::store_config(&args.store)?;
    let now = OffsetDateTime::now_utc();
    let counts = match target.engine {
        Engine::Db | Engine::CachedDb => {
            if !sqlite::is_sqlite(&target.db_url) {
                return Err(CliError::new(
                    "stats counts rows on SQLite only in this version; \
                     count the other databases' session tables with SQL",
                ));
            }
            let pool = sqlite::connect(&target.db_url, Access::ReadOnly).await?;
            if !sqlite::table_exists(&pool, &target.table).await? {
                return Err(sqlite::missing_table(&target.table));
            }
            let (live, expired) = sqlite::count(&pool, &target.table, now).await?;
            pool.close().await;
            Counts { live, expired }
        }
        Engine::File => {
            let session = settings::session_config(
                args.secrets.secret.as_deref(),
                &args.secrets.fallback_secrets,
            )?;
            let dir = match &target.file_path {
                Some(dir) => dir.clone(),
                None => default_file_dir()?,
            };
            count_files(&dir, &session, now)?
        }
        Engine::Cache | Engine::SignedCookies => {
            return Err(CliError::new(format!(
                "the {} engine's sessions cannot be counted: {}",
                target.engine,
                if target.engine == Engine::Cache {
                    "they live in the cache, which expires them itself"
                } else {
                    "they live in the users' cookies, not on the server"
                }
            )))
        }
    };
    if args.json {
        let value = serde_json::json!({
            "engine": target.engine.as_str(),
            "live": counts.live,
            "expired": counts.expired,
        });
        output::line(&value.to_string())
    } else {
        output::line(&format!("live {}\nexpired {}", counts.live, counts.expired))
    }
}

/// The file engine's directory when none is configured: the service's
/// private `<temp dir>/sessionkit-<uid>` (see `FileStore::default_dir`).
#[cfg(feature = "file")]
fn default_file_dir() -> Result<std::path::PathBuf, CliError> {
    sessionkit::store::file::FileStore::default_dir()
        .map_err(|e| CliError::with("no usable default session directory", e))
}

/// Without the file engine built in, Django's default: the temp dir.
#[cfg(not(feature = "file"))]
fn default_file_dir() -> Result<std::path::PathBuf, CliError> {
    Ok(std::env::temp_dir())
}

/// Reads every session file in `dir`: `SESSION_COOKIE_NAME` + a session key.
///
/// A file's expiry follows the library's file engine: an absolute
/// `_session_expiry` date, else its modification time plus the integer
/// `_session_expiry` or `SESSION_COOKIE_AGE`. A file whose signature does not
/// verify counts as a session without data (Django loads it as `{}`).
fn count_files(
    dir: &Path,
    session: &SessionConfig,
    now: OffsetDateTime,
) -> Result<Counts, CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::with("cannot read the session directory", e))?;
    let codec = session.codec();
    let mut counts = Counts::default();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(key) = name
            .to_str()
            .and_then(|n| n.strip_prefix(session.cookie_name.as_str()))
        else {
            continue;
        };
        // Temporary `_out_` files and anything else are not sessions.
        if !sessionkit::key::is_valid_key(key) {
            continue;
        }
        // Gone or unreadable meanwhile (a concurrent clear): not counted.
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || meta.len() > MAX_FILE {
            continue;
        }
        let Some(mtime) = meta.modified().ok().and_then(system_time) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let data = codec
            .decode(&text, None, now)
            .map(|decoded| decoded.data)
            .unwrap_or_default();
        if expiry_date(data.get(EXPIRY_KEY), mtime, session.cookie_age) > now {
            counts.live += 1;
        } else {
            counts.expired += 1;
        }
    }
    Ok(counts)
}

/// A file time as an `OffsetDateTime`, or `None` outside what it can hold.
fn system_time(t: SystemTime) -> Option<OffsetDateTime> {
    let nanos = match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok()?,
        Err(before) => -i128::try_from(before.duration().as_nanos()).ok()?,
    };
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

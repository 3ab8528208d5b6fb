//! `sessionkit clearsessions`: Django's `manage.py clearsessions`.
//!
//! The library's `clear_expired` does the deleting, in batches (never one
//! giant transaction that would hold the write lock). Engines whose server
//! expires entries itself (cache, signed_cookies) delete nothing and print
//! 0, as Django's command does for them; cached_db clears its database, as
//! Django's does.

use sessionkit::config::Engine;
use sessionkit::StoreConfig;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::opt::{ClearArgs, SecretArgs};
use crate::output;
use crate::progress::{self, Progress};
use crate::settings::{self, Secret};
use crate::sqlite::{self, Access};

/// Runs `clearsessions`; prints the number of sessions deleted.
pub(crate) async fn run(args: ClearArgs) -> Result<(), CliError> {
    let mut target = settings::store_config(&args.store)?;
    let now = OffsetDateTime::now_utc();
    let deleted = match target.engine {
        Engine::Cache | Engine::SignedCookies => {
            output::note(&format!(
                "note: the {} engine's sessions expire by themselves: nothing to clear",
                target.engine
            ));
            0
        }
        Engine::Db | Engine::CachedDb if sqlite::is_sqlite(&target.db_url) => {
            clear_sqlite(&target, now).await?
        }
        Engine::Db | Engine::CachedDb => {
            // The cache half of cached_db expires by itself: only the table.
            target.engine = Engine::Db;
            clear_with_store(&target, &args.secrets, Secret::Optional, now).await?
        }
        // Each file's expiry is inside its signed data: the real key is needed.
        Engine::File => clear_with_store(&target, &args.secrets, Secret::Required, now).await?,
    };
    output::line(&deleted.to_string())
}

/// The db engine on SQLite, opened without creating the file.
async fn clear_sqlite(target: &StoreConfig, now: OffsetDateTime) -> Result<u64, CliError> {
    let pool = sqlite::connect(&target.db_url, Access::ReadWrite).await?;
    if !sqlite::table_exists(&pool, &target.table).await? {
        return Err(sqlite::missing_table(&target.table));
    }
    let store = sqlite::db_store(&pool, &target.table)
        .await
        .map_err(|e| CliError::with("cannot open the session table", e))?;
    let message = if progress::is_shown() {
        let expired = sqlite::count_expired(&pool, &target.table, now).await?;
        format!("deleting {expired} expired sessions")
    } else {
        String::new()
    };
    let progress = Progress::start(message);
    let deleted = sessionkit::SessionStore::clear_expired(&store, now)
        .await
        .map_err(|e| CliError::with("cannot delete expired sessions", e))?;
    progress.finish(format!("deleted {deleted} expired sessions"));
    pool.close().await;
    Ok(deleted)
}

/// Any other engine, as the library's `store::open` builds it.
async fn clear_with_store(
    target: &StoreConfig,
    secrets: &SecretArgs,
    need: Secret,
    now: OffsetDateTime,
) -> Result<u64, CliError> {
    let session =
        settings::session_config(secrets.secret.as_deref(), &secrets.fallback_secrets, need)?;
    let store = sessionkit::store::open(target, &session)
        .await
        .map_err(|e| CliError::with(format!("cannot open the {} engine", target.engine), e))?;
    let progress = Progress::start("deleting expired sessions");
    let deleted = store
        .clear_expired(now)
        .await
        .map_err(|e| CliError::with("cannot delete expired sessions", e))?;
    progress.finish(format!("deleted {deleted} expired sessions"));
    Ok(deleted)
}

//! `sessionkit clearsessions`: Django's `manage.py clearsessions`.
//!
//! The library's `clear_expired` does the deleting, in batches (never one
//! giant transaction that would hold the write lock). Engines whose server
//! expires entries itself (cache, signed_cookies) delete nothing and print
//! 0, as Django's command does for them; cached_db clears its database, as
//! Django's does. A per-user session index loses its expired entries in the
//! same run (the count on stderr; stdout keeps the sessions' count alone).

use sessionkit::config::Engine;
use sessionkit::store::db::DbOptions;
use sessionkit::{SessionStore, StoreConfig};
use time::OffsetDateTime;

use crate::error::CliError;
use crate::opt::{ClearArgs, SecretArgs};
use crate::output;
use crate::progress::{self, Progress};
use crate::sessions;
use crate::settings;
use crate::sqlite::{self, Access};

/// Runs `clearsessions`; prints the number of sessions deleted.
pub(crate) async fn run(args: ClearArgs) -> Result<(), CliError> {
    let target = settings::store_config(&args.store)?;
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
        // The cache half of cached_db expires by itself: only the table.
        Engine::Db | Engine::CachedDb => clear_database(&target, now).await?,
        // Each file's expiry is inside its signed data: the real key is needed.
        Engine::File => clear_files(&target, &args.secrets, now).await?,
    };
    // The sessions' count alone goes to stdout, as before: scripts read it.
    if let Some(index) = sessions::index_to_clear(&args.index, &target).await? {
        let removed = index
            .clear_expired(now)
            .await
            .map_err(|e| CliError::with("cannot clear the session index", e))?;
        output::note(&format!(
            "removed {removed} expired entries from the session index"
        ));
    }
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
    let deleted = clear(&store, message, now).await?;
    pool.close().await;
    Ok(deleted)
}

/// The db engine on another database (PostgreSQL, MySQL, when built with
/// them). Rows are deleted by date: the store needs no keys.
async fn clear_database(target: &StoreConfig, now: OffsetDateTime) -> Result<u64, CliError> {
    let store = DbOptions::new()
        .table(target.table.as_str())
        .open(&target.db_url)
        .await
        .map_err(|e| CliError::with("cannot open the session table", e))?;
    clear(&store, "deleting expired sessions".to_owned(), now).await
}

/// The file engine, as the library's `store::open` builds it.
async fn clear_files(
    target: &StoreConfig,
    secrets: &SecretArgs,
    now: OffsetDateTime,
) -> Result<u64, CliError> {
    let session = settings::session_config(secrets.secret.as_deref(), &secrets.fallback_secrets)?;
    let store = sessionkit::store::open(target, &session)
        .await
        .map_err(|e| CliError::with(format!("cannot open the {} engine", target.engine), e))?;
    clear(&store, "deleting expired sessions".to_owned(), now).await
}

/// Deletes what is expired at `now`, with a spinner saying `message` when
/// shown.
async fn clear(
    store: &dyn SessionStore,
    message: String,
    now: OffsetDateTime,
) -> Result<u64, CliError> {
    let progress = Progress::start(message);
    let deleted = store
        .clear_expired(now)
        .await
        .map_err(|e| CliError::with("cannot delete expired sessions", e))?;
    progress.finish(format!("deleted {deleted} expired sessions"));
    Ok(deleted)
}

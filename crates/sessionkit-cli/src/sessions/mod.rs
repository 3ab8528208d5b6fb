//! `sessionkit sessions`: the per-user session index from the command line.
//! One module per subcommand; opening the index is shared here.

pub(crate) mod list;
pub(crate) mod revoke;

use std::sync::Arc;

use sessionkit::config::Engine;
use sessionkit::store::db::DbPool;
use sessionkit::user_sessions::{SessionIndex, SqlIndex, DEFAULT_INDEX_TABLE};
use sessionkit::StoreConfig;

use crate::error::CliError;
use crate::opt::IndexArgs;
use crate::sqlite::{self, Access};

/// Opens the index `args` name: the URL from `--index`, else
/// `SESSIONKIT_INDEX_URL`, else the session database of `store`.
pub(crate) async fn open_index(
    args: &IndexArgs,
    store: &StoreConfig,
) -> Result<Arc<dyn SessionIndex>, CliError> {
    let url = index_url(args, store);
    let table = args.index_table.as_deref().unwrap_or(DEFAULT_INDEX_TABLE);
    // The URL stays out of messages: it may hold a password.
    let opened = |e| CliError::with("cannot open the session index", e);
    if let Some(pool) = sql_pool(&url).await? {
        return Ok(Arc::new(
            SqlIndex::with_table(pool, table).await.map_err(opened)?,
        ));
    }
    match scheme(&url).as_str() {
        #[cfg(feature = "redis")]
        "redis" | "rediss" | "redis+cluster" | "rediss+cluster" | "unix" => {
            let prefix = args
                .index_prefix
                .clone()
                .unwrap_or_else(|| store.key_prefix.clone());
            Ok(Arc::new(
                sessionkit::user_sessions::RedisIndex::open(&url, prefix)
                    .await
                    .map_err(opened)?,
            ))
        }
        other => Err(CliError::new(format!(
            "index URL scheme {other:?} is not supported by this build"
        ))),
    }
}

/// The index `clearsessions` clears with the sessions: the one named
/// (`--index`, `SESSIONKIT_INDEX_URL`), else the one in the session database
/// of a db or cached_db engine when its table is there. Nothing is created:
/// an app that keeps no index has none.
pub(crate) async fn index_to_clear(
    args: &IndexArgs,
    store: &StoreConfig,
) -> Result<Option<Arc<dyn SessionIndex>>, CliError> {
    if args.index.is_some() || std::env::var_os("SESSIONKIT_INDEX_URL").is_some() {
        return open_index(args, store).await.map(Some);
    }
    if !matches!(store.engine, Engine::Db | Engine::CachedDb) {
        return Ok(None);
    }
    let Some(pool) = sql_pool(&store.db_url).await? else {
        return Ok(None);
    };
    let table = args.index_table.as_deref().unwrap_or(DEFAULT_INDEX_TABLE);
    let index = SqlIndex::existing(pool, table)
        .await
        .map_err(|e| CliError::with("cannot open the session index", e))?;
    Ok(index.map(|index| Arc::new(index) as Arc<dyn SessionIndex>))
}

fn index_url(args: &IndexArgs, store: &StoreConfig) -> String {
    match &args.index {
        Some(url) => url.clone(),
        None => std::env::var("SESSIONKIT_INDEX_URL").unwrap_or_else(|_| store.db_url.clone()),
    }
}

fn scheme(url: &str) -> String {
    url.split_once(':')
        .map_or("", |(s, _)| s)
        .to_ascii_lowercase()
}

/// A pool on `url` when it names an SQL database this build handles.
async fn sql_pool(url: &str) -> Result<Option<DbPool>, CliError> {
    match scheme(url).as_str() {
        "sqlite" => {
            // Never created here: a typo would list nobody's sessions.
            let pool = sqlite::connect(url, Access::ReadWrite).await?;
            Ok(Some(pool.into()))
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let pool = sqlx::PgPool::connect(url)
                .await
                .map_err(|e| CliError::with("cannot connect to the index database", e))?;
            Ok(Some(pool.into()))
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            let pool = sqlx::MySqlPool::connect(url)
                .await
                .map_err(|e| CliError::with("cannot connect to the index database", e))?;
            Ok(Some(pool.into()))
        }
        _ => Ok(None),
    }
}

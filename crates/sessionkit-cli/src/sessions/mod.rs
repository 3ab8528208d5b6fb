//! `sessionkit sessions`: the per-user session index from the command line.
//! One module per subcommand; opening the index is shared here.

pub(crate) mod list;
pub(crate) mod revoke;

use std::sync::Arc;

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
    let url = match &args.index {
        Some(url) => url.clone(),
        None => std::env::var("SESSIONKIT_INDEX_URL").unwrap_or_else(|_| store.db_url.clone()),
    };
    let table = args.index_table.as_deref().unwrap_or(DEFAULT_INDEX_TABLE);
    let scheme = url
        .split_once(':')
        .map_or("", |(s, _)| s)
        .to_ascii_lowercase();
    // The URL stays out of messages: it may hold a password.
    let opened = |e| CliError::with("cannot open the session index", e);
    match scheme.as_str() {
        "sqlite" => {
            // Never created here: a typo would list nobody's sessions.
            let pool = sqlite::connect(&url, Access::ReadWrite).await?;
            Ok(Arc::new(
                SqlIndex::with_table(pool, table).await.map_err(opened)?,
            ))
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let pool = sqlx::PgPool::connect(&url)
                .await
                .map_err(|e| CliError::with("cannot connect to the index database", e))?;
            Ok(Arc::new(
                SqlIndex::with_table(pool, table).await.map_err(opened)?,
            ))
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            let pool = sqlx::MySqlPool::connect(&url)
                .await
                .map_err(|e| CliError::with("cannot connect to the index database", e))?;
            Ok(Arc::new(
                SqlIndex::with_table(pool, table).await.map_err(opened)?,
            ))
        }
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

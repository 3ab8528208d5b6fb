//! `sessionkit migrate`: Django's `sessions.0001_initial` for the session
//! table, through the library's db engine (which runs Django's own DDL).
//!
//! Idempotent: an existing table, Django's or ours, is used as it is; nothing
//! in it is altered. Needs no secret: nothing is signed or verified.

use sessionkit::store::db::DbOptions;

use crate::error::CliError;
use crate::opt::MigrateArgs;
use crate::output;
use crate::settings;
use crate::sqlite::{self, Access};

/// Runs `migrate`.
pub(crate) async fn run(args: MigrateArgs) -> Result<(), CliError> {
    let target = settings::db_target(args.db.as_deref(), args.table.as_deref())?;
    let table = target.table.as_str();
    if !sqlite::is_sqlite(&target.db_url) {
        return other_database(target).await;
    }
    let pool = sqlite::connect(&target.db_url, Access::Create).await?;
    let existed = sqlite::table_exists(&pool, table).await?;
    // The store creates what is missing with Django's DDL, in one transaction.
    sqlite::db_store(&pool, table)
        .await
        .map_err(|e| CliError::with("cannot create the session table", e))?;
    let indexes = sqlite::indexes(&pool, table).await?;
    pool.close().await;
    if existed {
        output::line(&format!("table {table:?} already exists: left as it is"))?;
        if indexes.is_empty() {
            output::note(&format!(
                "note: {table:?} has no index on expire_date; clearsessions will scan the whole table"
            ));
        }
    } else {
        output::line(&format!(
            "created table {table:?} and index {}",
            indexes.join(", ")
        ))?;
    }
    Ok(())
}

/// PostgreSQL or MySQL (when built with them): the library's db store
/// creates the table if missing. It needs no keys: nothing is signed.
async fn other_database(target: sessionkit::StoreConfig) -> Result<(), CliError> {
    DbOptions::new()
        .table(target.table.as_str())
        .open(&target.db_url)
        .await
        .map_err(|e| CliError::with("cannot open the session table", e))?;
    output::line(&format!("table {:?} is ready", target.table))
}

//! tower-sessions' visit counter, get + insert as the seed does. The memory
//! store runs under tower-sessions 0.15; the sqlx and fred stores still
//! implement the 0.14 core trait, so they run under 0.14 (same axum 0.8).

use std::str::FromStr;

use axum::routing::get;
use axum::Router;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::BoxError;
use crate::variants::Store;

async fn visit_015(session: tower_sessions::Session) -> Result<String, String> {
    let n: i64 = session
        .get("visit")
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or(0)
        + 1;
    session
        .insert("visit", n)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("Visit count:{n}"))
}

async fn visit_014(session: tower_sessions_014::Session) -> Result<String, String> {
    let n: i64 = session
        .get("visit")
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or(0)
        + 1;
    session
        .insert("visit", n)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("Visit count:{n}"))
}

fn on_014<S>(store: S) -> Router
where
    S: tower_sessions_014::SessionStore + Clone,
{
    let layer = tower_sessions_014::SessionManagerLayer::new(store).with_secure(false);
    Router::new().route("/visit/", get(visit_014)).layer(layer)
}

pub(super) async fn app(store: Store, url: &str) -> Result<Router, BoxError> {
    use tower_sessions_sqlx_store::{MySqlStore, PostgresStore, SqliteStore};
    Ok(match store {
        Store::Memory => {
            let layer =
                tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                    .with_secure(false);
            Router::new().route("/visit/", get(visit_015)).layer(layer)
        }
        Store::Sqlite => {
            // The same SQLite settings sessionkit's db engine uses.
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{url}/tower.sqlite3"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(5));
            let pool = SqlitePoolOptions::new().connect_with(options).await?;
            let store = SqliteStore::new(pool);
            store.migrate().await?;
            on_014(store)
        }
        Store::Postgres => {
            let store = PostgresStore::new(sqlx::PgPool::connect(url).await?);
            store.migrate().await?;
            on_014(store)
        }
        Store::Mysql => {
            let store = MySqlStore::new(sqlx::MySqlPool::connect(url).await?);
            store.migrate().await?;
            on_014(store)
        }
        Store::Redis => {
            use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
            let config = Config::from_url(url)?;
            // One multiplexed connection, as on one core more would only queue.
            let pool = Pool::new(config, None, None, None, 1)?;
            pool.connect();
            pool.wait_for_connect().await?;
            on_014(tower_sessions_redis_store::RedisStore::new(pool))
        }
        other => return Err(format!("tower-sessions has no {other:?} variant here").into()),
    })
}

//! `soak-serve <port> SESSION_X=value…`: the soak's sessionkit server, in its
//! own process (so the soak can SIGKILL the app too), its store opened the
//! demo's way from `SESSION_*` settings.
//!
//! `GET /hit/?id=N` increments `n` and sets `rN` in the same save, so the
//! final session tells exactly which requests were applied and whether one was
//! applied twice (`n` above the number of `r…` keys). `GET /read/` answers
//! `{"n":…,"ids":[…]}` and changes nothing.

use std::collections::HashMap;

use axum::http::Uri;
use axum::routing::get;
use axum::Router;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer, StoreConfig};

use crate::serve::{BoxError, BENCH_SECRET};

async fn hit(session: Session, uri: Uri) -> Result<String, SessionError> {
    let id = uri
        .query()
        .and_then(|q| q.strip_prefix("id="))
        .unwrap_or("missing");
    let n = session.increment("n", 1)?;
    session.insert(format!("r{id}"), &true)?;
    Ok(format!("n:{n}"))
}

async fn read(session: Session) -> Result<String, SessionError> {
    let n: i64 = session.get("n")?.unwrap_or(0);
    let ids: Vec<u64> = session
        .keys()
        .iter()
        .filter_map(|k| k.strip_prefix('r')?.parse().ok())
        .collect();
    Ok(serde_json::json!({ "n": n, "ids": ids }).to_string())
}

/// Serves until SIGTERM (or SIGKILL, which is the point).
pub fn serve(port: u16, settings: &[String]) -> Result<(), BoxError> {
    let settings: HashMap<String, String> = settings
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let config = SessionConfig::new(BENCH_SECRET)?;
        let store_config = StoreConfig::from_lookup(|k| settings.get(k).cloned())?;
        let store = sessionkit::store::open(&store_config, &config).await?;
        let app = Router::new()
            .route("/hit/", get(hit))
            .route("/read/", get(read))
            .layer(SessionLayer::from_arc(store, config));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        axum::serve(listener, app).await?;
        Ok::<(), BoxError>(())
    })
}

//! The seed's visit counter on sessionkit and actix-web: `GET /visit/`
//! answers `Visit count:N`, as `examples/visit-counter` does on axum.
//!
//! Sessions live in `./sessions.sqlite3` (Django's `django_session` table) unless
//! `SESSION_ENGINE`/`SESSION_DB_URL`/`SESSION_CACHE_URL` say otherwise. See the
//! README for every variable.

// The axum demo's secret handling, shared rather than copied.
#[path = "../../visit-counter/src/secret.rs"]
mod secret;

use std::net::SocketAddr;
use std::time::Instant;

use actix_web::dev::Service;
use actix_web::{web, App, HttpServer};
use sessionkit::actix::SessionMiddleware;
use sessionkit::{Session, SessionConfig, SessionError, StoreConfig};
use tracing_subscriber::EnvFilter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The seed's view: counts with `increment`, so it is exact under concurrency.
async fn count_visit(session: Session) -> Result<String, SessionError> {
    let visit = session.increment("visit", 1)?;
    Ok(format!("Visit count:{visit}"))
}

#[actix_web::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let secret = secret::secret_key()?;
    let config = SessionConfig::from_lookup(|name| match name {
        "SECRET_KEY" => Some(secret.clone()),
        other => std::env::var(other).ok(),
    })?;
    let store_config = StoreConfig::from_env()?;
    // Opened once, here: every worker shares the store, its pool and its locks.
    let store = sessionkit::store::open(&store_config, &config).await?;
    tracing::info!(engine = %store_config.engine, "session store ready");
    let sessions = SessionMiddleware::from_arc(store, config);

    let bind: SocketAddr = std::env::var("BIND")
        .unwrap_or_else(|_| "127.0.0.1:8000".to_owned())
        .parse()
        .map_err(|e| format!("BIND is not an address: {e}"))?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            // One tracing line per request (outermost, so it sees the
            // status the session middleware settled on).
            .wrap_fn(|req, srv| {
                let (method, path) = (req.method().clone(), req.path().to_owned());
                let started = Instant::now();
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    tracing::info!(%method, %path, status = res.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
                    Ok(res)
                }
            })
            .route("/visit/", web::get().to(count_visit))
    })
    .bind(bind)?;
    tracing::info!("serving http://{bind}/visit/");
    server.run().await?;
    Ok(())
}

//! The seed's visit counter on sessionkit: `GET /visit/` answers `Visit count:N`.
//!
//! `GET /metrics` answers sessionkit's metrics in Prometheus' text format.
//!
//! Sessions live in `./sessions.sqlite3` (Django's `django_session` table) unless
//! `SESSION_ENGINE`/`SESSION_DB_URL`/`SESSION_CACHE_URL` say otherwise. See the
//! README for every variable.

mod prometheus;
mod secret;

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer, StoreConfig};
use tracing_subscriber::EnvFilter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The seed's view: counts with `increment`, so it is exact under concurrency.
async fn count_visit(session: Session) -> Result<String, SessionError> {
    let visit = session.increment("visit", 1)?;
    Ok(format!("Visit count:{visit}"))
}

/// One tracing line per request.
async fn trace(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    let res = next.run(req).await;
    tracing::info!(%method, %path, status = res.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    res
}

fn app(layer: SessionLayer, metrics: PrometheusHandle) -> Router {
    // `/metrics` sits outside the session layer: a scrape is not a visitor.
    let sessions = Router::new()
        .route("/visit/", get(count_visit))
        .layer(layer);
    Router::new()
        .route("/metrics", get(move || prometheus::render(metrics.clone())))
        .merge(sessions)
        .layer(middleware::from_fn(trace))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let metrics = prometheus::install()?;
    let secret = secret::secret_key()?;
    let config = SessionConfig::from_lookup(|name| match name {
        "SECRET_KEY" => Some(secret.clone()),
        other => std::env::var(other).ok(),
    })?;
    let store_config = StoreConfig::from_env()?;
    let store = sessionkit::store::open(&store_config, &config).await?;
    tracing::info!(engine = %store_config.engine, "session store ready");

    let bind: SocketAddr = std::env::var("BIND")
        .unwrap_or_else(|_| "127.0.0.1:8000".to_owned())
        .parse()
        .map_err(|e| format!("BIND is not an address: {e}"))?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!("serving http://{bind}/visit/");
    axum::serve(
        listener,
        app(SessionLayer::from_arc(store, config), metrics),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

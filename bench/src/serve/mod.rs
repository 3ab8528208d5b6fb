//! `serve <variant> <port> [<url>]`: one server of the bench, in its own
//! process (the bench binary re-executes itself pinned to the server core).
//!
//! Every server answers `GET /visit/` with `Visit count:N`, the seed's visit
//! counter: sessionkit with `increment`, the peers with get + insert, the bare
//! ceilings with a process-wide counter. None of them logs per request.

mod actix;
mod bare;
mod ours;
mod tower;

use crate::variants::{Family, Variant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The signing key every server uses: a bench-only value, not a secret.
pub const BENCH_SECRET: &str =
    "bench-only-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ";

/// The routers, for the in-process micro bench.
pub fn bare_app() -> axum::Router {
    bare::app()
}

pub fn floor_app(store: crate::variants::Store) -> axum::Router {
    bare::floor(store)
}

pub async fn ours_app(store: crate::variants::Store, url: &str) -> Result<axum::Router, BoxError> {
    ours::app(store, url).await
}

pub async fn tower_app(store: crate::variants::Store, url: &str) -> Result<axum::Router, BoxError> {
    tower::app(store, url).await
}

/// The actix-web apps, for the in-process micro bench.
pub fn actix_micro(
    n: usize,
    only: Option<&str>,
    new_clients: bool,
) -> Result<Vec<(&'static str, f64)>, BoxError> {
    actix::micro(n, only, new_clients)
}

/// Serves `variant` on 127.0.0.1:`port` until SIGTERM. `url` is the store's
/// URL, or the scratch directory for file-based stores.
pub fn serve(variant: Variant, port: u16, url: &str) -> Result<(), BoxError> {
    if variant.actix {
        return actix::serve(variant, port, url);
    }
    // One thread, as the server core is one core: a work-stealing pool would
    // only add cross-thread wake-ups. Every axum server runs the same way.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let app = match variant.family {
            Family::Bare => bare::app(),
            Family::Floor => bare::floor(variant.store),
            Family::Ours => ours::app(variant.store, url).await?,
            Family::Peer => tower::app(variant.store, url).await?,
        };
        serve_axum(app, port).await
    })
}

async fn serve_axum(app: axum::Router, port: u16) -> Result<(), BoxError> {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated())
        .await?;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

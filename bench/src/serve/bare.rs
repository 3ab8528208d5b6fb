//! The ceilings: the same route and body shape with no session layer.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::routing::get;
use axum::Router;

static VISITS: AtomicU64 = AtomicU64::new(0);

/// The body the session servers send, from one process-wide counter.
pub(super) fn visit() -> String {
    let n = VISITS.fetch_add(1, Ordering::Relaxed) + 1;
    format!("Visit count:{n}")
}

pub(super) fn app() -> Router {
    Router::new().route("/visit/", get(|| async { visit() }))
}

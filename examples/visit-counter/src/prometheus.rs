//! `GET /metrics`: sessionkit's metrics (and anything else recorded through
//! the `metrics` facade) in Prometheus' text format, served by the demo's own
//! router: no second listener.

use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of `sessionkit_store_duration_seconds`, from an in-process read
/// (well under 100 µs) to a store at its 5 s default deadline.
const STORE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the Prometheus recorder as the process' recorder and describes
/// sessionkit's metrics in it. Call once, from within the Tokio runtime.
pub(crate) fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(sessionkit::metrics::STORE_DURATION.to_owned()),
            STORE_BUCKETS,
        )?
        .install_recorder()?;
    sessionkit::metrics::describe();
    // Samples wait in the recorder until rendered or upkept: keep them
    // bounded when nobody scrapes.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The `/metrics` handler.
pub(crate) async fn render(handle: PrometheusHandle) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
}

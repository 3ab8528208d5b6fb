//! Values Django's JSON holds that a Rust JSON model may not, through a
//! sessionkit save and back to Django (`db` on SQLite). Those `serde_json::Value`
//! cannot hold (`NaN`, integers beyond 64 bits, lone surrogates) travel as raw
//! markers (`sessionkit::signing::python_json`) and are written back verbatim.

use sessionkit_interop::scenarios::edge_value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn float_reprs_survive() {
    edge_value(
        "[-0.0, 1e16, 1e-05, 1.2345678901234568e+17, 0.1, 5e-324, 1.7976931348623157e+308, 1.0, 2]",
        "{'edge': [-0.0, 1e+16, 1e-05, 1.2345678901234568e+17, 0.1, 5e-324, 1.7976931348623157e+308, 1.0, 2], 'visit': 2}",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn int_beyond_64_bits_survives() {
    edge_value(
        "1180591620717411303424",
        "{'edge': 1180591620717411303424, 'visit': 2}",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_and_infinity_survive() {
    edge_value(
        "[NaN, Infinity, -Infinity]",
        "{'edge': [nan, inf, -inf], 'visit': 2}",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_surrogate_survives() {
    edge_value(r#""\ud800x""#, r"{'edge': '\ud800x', 'visit': 2}").await;
}

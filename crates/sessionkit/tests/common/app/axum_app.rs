//! The harness on axum: the views as axum handlers under `SessionLayer`,
//! answered in-process with tower's `oneshot`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get as route_get;
use axum::Router;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer, SessionStore};
use tower::ServiceExt;

use super::{Answer, Reply, Routes, View};

fn response(reply: Reply) -> Response {
    let mut res = (reply.status, reply.body).into_response();
    for (name, value) in reply.headers {
        res.headers_mut().append(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("a valid header value"),
        );
    }
    res
}

pub(super) fn router(
    layer: Option<(Arc<dyn SessionStore>, SessionConfig)>,
    routes: Routes,
) -> Router {
    let mut router = Router::new();
    for (path, view) in routes {
        router = match view {
            View::Plain(f) => router.route(
                path,
                route_get(move |uri: Uri, s: Session| {
                    let reply = f(s, uri.query().map(str::to_owned));
                    async move { reply.await.map(response) }
                }),
            ),
            View::Fallible(f) => router.route(
                path,
                route_get(move |s: Result<Session, SessionError>| {
                    let reply = f(s);
                    async move { response(reply) }
                }),
            ),
            View::Optional(f) => router.route(
                path,
                route_get(move |s: Option<Session>| {
                    let reply = f(s);
                    async move { response(reply) }
                }),
            ),
        };
    }
    match layer {
        Some((store, config)) => router.layer(SessionLayer::from_arc(store, config)),
        None => router,
    }
}

pub(super) async fn get(router: &Router, uri: &str, cookie: Option<&str>) -> Answer {
    let mut req = Request::get(uri);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

//! The session as other middleware sees it: in the request extensions, loaded on
//! demand, shared with the handler's extractor (one handle, one load).
#![cfg(all(feature = "memory", any(feature = "axum", feature = "actix")))]

mod common;

use std::sync::Arc;

use common::faulty::Faulty;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Session, SessionConfig, SessionError};

async fn count(session: Session) -> Result<String, SessionError> {
    Ok(session.increment("visit", 1)?.to_string())
}

fn rig() -> (Arc<Faulty>, SessionConfig) {
    let store = Faulty::new(Arc::new(MemoryStore::new()));
    (store, SessionConfig::new(common::SECRET).unwrap())
}

/// The visit count as a middleware between the session's and the handler
/// sees it: loaded on demand, then after the handler ran.
async fn visits(session: &Session) -> i64 {
    session.get::<i64>("visit").unwrap().unwrap_or(0)
}

#[cfg(feature = "axum")]
mod on_axum {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::HeaderValue;
    use axum::middleware::{self, Next};
    use axum::response::Response;
    use axum::routing::get;
    use axum::Router;
    use sessionkit::SessionLayer;
    use tower::ServiceExt;

    /// Middleware that tags the response with the visit count it finds.
    async fn tag_visits(req: Request, next: Next) -> Response {
        let session = req
            .extensions()
            .get::<Session>()
            .cloned()
            .expect("SessionLayer runs outside");
        session.load().await.expect("store up");
        let before = visits(&session).await;
        let mut res = next.run(req).await;
        let after = visits(&session).await;
        res.headers_mut().insert(
            "x-visits",
            HeaderValue::from_str(&format!("{before}->{after}")).unwrap(),
        );
        res
    }

    #[tokio::test]
    async fn middleware_and_handler_share_one_loaded_session() {
        let (store, config) = rig();
        let app = Router::new()
            .route("/", get(count))
            .layer(middleware::from_fn(tag_visits))
            .layer(SessionLayer::from_arc(store.clone(), config));
        let res = app
            .clone()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.headers()["x-visits"], "0->1");
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let calls = store.calls();
        let res = app
            .oneshot(
                Request::get("/")
                    .header("cookie", cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.headers()["x-visits"], "1->2");
        assert_eq!(
            store.calls() - calls,
            2,
            "one load and one save for both users of the session"
        );
    }
}

#[cfg(feature = "actix")]
mod on_actix {
    use super::*;
    use actix_web::body::MessageBody;
    use actix_web::dev::{ServiceRequest, ServiceResponse};
    use actix_web::http::header::{HeaderName, HeaderValue};
    use actix_web::middleware::{from_fn, Next};
    use actix_web::{test, web, App, HttpMessage};
    use sessionkit::actix::SessionMiddleware;

    /// Middleware that tags the response with the visit count it finds.
    async fn tag_visits(
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        let session = req
            .extensions()
            .get::<Session>()
            .cloned()
            .expect("SessionMiddleware runs outside");
        session.load().await.expect("store up");
        let before = visits(&session).await;
        let mut res = next.call(req).await?;
        let after = visits(&session).await;
        res.headers_mut().insert(
            HeaderName::from_static("x-visits"),
            HeaderValue::from_str(&format!("{before}->{after}")).unwrap(),
        );
        Ok(res)
    }

    #[actix_web::test]
    async fn middleware_and_handler_share_one_loaded_session() {
        let (store, config) = rig();
        let app = test::init_service(
            App::new()
                .route("/", web::get().to(count))
                .wrap(from_fn(tag_visits))
                .wrap(SessionMiddleware::from_arc(store.clone(), config)),
        )
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
        assert_eq!(res.headers().get("x-visits").unwrap(), "0->1");
        let cookie = res
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let calls = store.calls();
        let req = test::TestRequest::get()
            .uri("/")
            .insert_header(("cookie", cookie))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.headers().get("x-visits").unwrap(), "1->2");
        assert_eq!(
            store.calls() - calls,
            2,
            "one load and one save for both users of the session"
        );
    }
}

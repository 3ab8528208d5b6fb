//! The actix-web adapter in process (`actix_web::test`): the same Set-Cookie
//! and Vary bytes as the tower layer, the extractor and its rejections, the
//! core's replacements mapped onto actix responses, and an inner service's
//! error finished like a response.
#![cfg(all(feature = "actix", feature = "axum", feature = "memory"))]

mod common;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header;
use actix_web::test::{call_service, init_service, read_body, TestRequest};
use actix_web::{web, App, HttpResponse};
use common::faulty::Faulty;
use sessionkit::actix::SessionMiddleware;
use sessionkit::clock::ManualClock;
use sessionkit::config::SameSite;
use sessionkit::store::memory::MemoryStore;
use sessionkit::store::Record;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer, SessionStore, StoreConfig};
use time::macros::datetime;
use tower::ServiceExt;

fn config() -> SessionConfig {
    SessionConfig::new(common::SECRET).unwrap()
}

async fn visit(session: Session) -> Result<String, SessionError> {
    Ok(format!("Visit count:{}", session.increment("visit", 1)?))
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

/// A session written straight to `store`: its cookie value.
async fn stored_session(store: &Arc<dyn SessionStore>, data: serde_json::Value) -> String {
    let now = time::OffsetDateTime::now_utc();
    let record = Record::new(common::data(data), now + time::Duration::days(1));
    store.create(&record, now).await.unwrap().cookie_value
}

fn with_cookie(path: &str, cookie: &str) -> TestRequest {
    TestRequest::get()
        .uri(path)
        .insert_header(("cookie", format!("sessionid={cookie}")))
}

fn actix_headers<B>(res: &ServiceResponse<B>, name: &str) -> Vec<Vec<u8>> {
    res.headers()
        .get_all(name)
        .map(|v| v.as_bytes().to_vec())
        .collect()
}

fn set_cookies<B>(res: &ServiceResponse<B>) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn session_cookie<B>(res: &ServiceResponse<B>) -> String {
    let all = set_cookies(res);
    let first = all.first().expect("a Set-Cookie");
    let pair = first.split(';').next().unwrap();
    pair.strip_prefix("sessionid=").unwrap().to_owned()
}

async fn body_text<B: MessageBody>(res: ServiceResponse<B>) -> String {
    String::from_utf8(read_body(res).await.to_vec()).unwrap()
}

/// The same request on both adapters, from the same store and a stopped
/// clock: the `Set-Cookie` and `Vary` headers must be the same bytes.
#[actix_web::test]
async fn cookie_and_vary_bytes_are_the_tower_layers() {
    let clock = ManualClock::new(datetime!(2024-06-15 12:00:00 UTC));
    let mut config = config().with_clock(clock.clone());
    config.cookie_domain = Some(".example.com".into());
    config.cookie_secure = true;
    config.cookie_samesite = Some(SameSite::Strict);
    // Signed cookies: the value is the session itself, so both adapters
    // write the very same bytes for the same data at the same time.
    let store_config =
        StoreConfig::from_lookup(|n| (n == "SESSION_ENGINE").then(|| "signed_cookies".to_owned()))
            .unwrap();
    let store = sessionkit::store::open(&store_config, &config)
        .await
        .unwrap();

    let tower_app = axum::Router::new()
        .route("/visit/", axum::routing::get(visit))
        .route("/logout", axum::routing::get(logout))
        .layer(SessionLayer::from_arc(store.clone(), config.clone()));
    let actix_app = init_service(
        App::new()
            .wrap(SessionMiddleware::from_arc(store, config))
            .route("/visit/", web::get().to(visit))
            .route("/logout", web::get().to(logout)),
    )
    .await;

    let tower_headers = |res: &axum::response::Response, name| -> Vec<Vec<u8>> {
        res.headers()
            .get_all(name)
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect()
    };
    let mut cookie: Option<String> = None;
    for path in ["/visit/", "/visit/", "/logout"] {
        let mut req = axum::http::Request::get(path);
        let mut actix_req = TestRequest::get().uri(path);
        if let Some(c) = &cookie {
            req = req.header("cookie", format!("sessionid={c}"));
            actix_req = actix_req.insert_header(("cookie", format!("sessionid={c}")));
        }
        let t = tower_app
            .clone()
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let a = call_service(&actix_app, actix_req.to_request()).await;
        assert_eq!(t.status().as_u16(), a.status().as_u16(), "{path}");
        let t_cookies = tower_headers(&t, "set-cookie");
        assert_eq!(t_cookies.len(), 1, "{path}");
        assert_eq!(t_cookies, actix_headers(&a, "set-cookie"), "{path}");
        assert_eq!(
            tower_headers(&t, "vary"),
            actix_headers(&a, "vary"),
            "{path}"
        );
        cookie = Some(session_cookie(&a));
        clock.advance(time::Duration::seconds(7));
    }
    // The logout deleted the cookie, as Django writes it.
    assert_eq!(cookie.as_deref(), Some("\"\""));
}

#[actix_web::test]
async fn vary_keeps_the_handlers_values() {
    let app = init_service(
        App::new()
            .wrap(SessionMiddleware::new(MemoryStore::new(), config()))
            .route(
                "/",
                web::get().to(|session: Session| async move {
                    session.insert("k", &1).unwrap();
                    HttpResponse::Ok()
                        .append_header((header::VARY, "Accept-Encoding ,Origin"))
                        .append_header((header::VARY, "Accept-Language"))
                        .finish()
                }),
            ),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    let vary: Vec<_> = res.headers().get_all(header::VARY).collect();
    assert_eq!(vary, ["Accept-Encoding, Origin, Accept-Language, Cookie"]);
    assert_eq!(set_cookies(&res).len(), 1);
}

#[actix_web::test]
async fn without_the_middleware_the_extractor_says_so() {
    let app = init_service(App::new().route("/visit/", web::get().to(visit)).route(
        "/maybe",
        web::get().to(|session: Option<Session>| async move {
            if session.is_some() {
                "some"
            } else {
                "none"
            }
        }),
    ))
    .await;
    let res = call_service(&app, TestRequest::get().uri("/visit/").to_request()).await;
    assert_eq!(res.status(), 500);
    assert!(body_text(res)
        .await
        .contains("sessionkit::actix::SessionMiddleware"));
    let res = call_service(&app, TestRequest::get().uri("/maybe").to_request()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body_text(res).await, "none");
}

/// A store that is down answers the configured status, whether the handler
/// returns the error or (`Option<Session>`, actix's own) never sees it.
#[actix_web::test]
async fn a_failed_load_answers_the_configured_status() {
    let faulty = Faulty::new(Arc::new(MemoryStore::new()));
    let mut config = config();
    config.load_error_status = http::StatusCode::INTERNAL_SERVER_ERROR;
    let app = init_service(
        App::new()
            .wrap(SessionMiddleware::from_arc(faulty.clone(), config))
            .route("/visit/", web::get().to(visit))
            .route(
                "/maybe",
                web::get().to(|session: Option<Session>| async move {
                    if session.is_some() {
                        "some"
                    } else {
                        "none"
                    }
                }),
            ),
    )
    .await;
    let first = call_service(&app, TestRequest::get().uri("/visit/").to_request()).await;
    let cookie = session_cookie(&first);
    faulty.set_down(true);
    for path in ["/visit/", "/maybe"] {
        let req = TestRequest::get()
            .uri(path)
            .insert_header(("cookie", format!("sessionid={cookie}")))
            .to_request();
        let res = call_service(&app, req).await;
        assert_eq!(res.status(), 500, "{path}");
        assert!(set_cookies(&res).is_empty(), "{path}");
        assert!(res.headers().get(header::VARY).is_none(), "{path}");
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            body_text(res).await,
            "Internal Server Error: the session store is unavailable",
            "{path}"
        );
    }
}

#[actix_web::test]
async fn two_extractors_load_once() {
    let faulty = Faulty::new(Arc::new(MemoryStore::new()));
    let app = init_service(
        App::new()
            .wrap(SessionMiddleware::from_arc(faulty.clone(), config()))
            .route("/visit/", web::get().to(visit))
            .route(
                "/twice",
                web::get().to(|a: Session, b: Session| async move {
                    format!("{:?}", (a.get_value("visit"), b.get_value("visit")))
                }),
            ),
    )
    .await;
    let first = call_service(&app, TestRequest::get().uri("/visit/").to_request()).await;
    let cookie = session_cookie(&first);
    let before = faulty.calls();
    let req = TestRequest::get()
        .uri("/twice")
        .insert_header(("cookie", format!("sessionid={cookie}")))
        .to_request();
    let res = call_service(&app, req).await;
    assert_eq!(faulty.calls() - before, 1, "one load for both extractors");
    assert_eq!(body_text(res).await, "(Some(Number(1)), Some(Number(1)))");
}

/// An inner middleware that fails after the handler logged out: the error
/// is still answered, the session still deleted and its cookie with it.
#[actix_web::test]
async fn an_inner_error_is_finished_like_a_response() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let app = init_service(
        App::new()
            .wrap_fn(|req, srv| {
                let fut = srv.call(req);
                async move {
                    let _ = fut.await?;
                    Err::<ServiceResponse, _>(actix_web::error::ErrorBadGateway("upstream gave up"))
                }
            })
            .wrap(SessionMiddleware::from_arc(store.clone(), config()))
            .route("/visit/", web::get().to(visit))
            .route("/logout", web::get().to(logout)),
    )
    .await;
    // Sessions are made through the error too: a 502 is never saved.
    let err = app
        .call(TestRequest::get().uri("/visit/").to_request())
        .await
        .expect_err("the inner error comes back as an error");
    let res = err.error_response();
    assert_eq!(res.status(), 502);
    assert!(res.headers().get(header::SET_COOKIE).is_none());

    let session = stored_session(&store, serde_json::json!({"visit": 3})).await;
    let err = app
        .call(
            TestRequest::get()
                .uri("/logout")
                .insert_header(("cookie", format!("sessionid={session}")))
                .to_request(),
        )
        .await
        .expect_err("the inner error comes back as an error");
    let res = err.error_response();
    assert_eq!(res.status(), 502);
    let deleted = res
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        deleted.starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT"),
        "{deleted}"
    );
    assert!(store
        .load(&session, time::OffsetDateTime::now_utc())
        .await
        .unwrap()
        .is_none());
}

/// A 5xx is never saved: no cookie, nothing stored.
#[actix_web::test]
async fn a_server_error_saves_nothing() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let session = stored_session(&store, serde_json::json!({"visit": 3})).await;
    let app = init_service(
        App::new()
            .wrap(SessionMiddleware::from_arc(store.clone(), config()))
            .route(
                "/",
                web::get().to(|session: Session| async move {
                    session.increment("visit", 1).unwrap();
                    HttpResponse::InternalServerError().body("handler failed")
                }),
            ),
    )
    .await;
    let res = call_service(&app, with_cookie("/", &session).to_request()).await;
    assert_eq!(res.status(), 500);
    assert!(set_cookies(&res).is_empty());
    assert_eq!(body_text(res).await, "handler failed");
    let loaded = store
        .load(&session, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(loaded.unwrap().record.data["visit"], 3);
}

/// A session deleted during the request (a logout in another tab) is not
/// recreated: Django's `SessionInterrupted`, 400, the core's text.
#[actix_web::test]
async fn a_session_deleted_meanwhile_is_a_400() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let session = stored_session(&store, serde_json::json!({"visit": 3})).await;
    let app = init_service(
        App::new()
            .app_data(web::Data::new(store.clone()))
            .wrap(SessionMiddleware::from_arc(store.clone(), config()))
            .route(
                "/",
                web::get().to(
                    |session: Session, store: web::Data<Arc<dyn SessionStore>>| async move {
                        let key = session.session_key().unwrap();
                        store.delete(&key).await.unwrap();
                        session.increment("visit", 1).unwrap();
                        "counted"
                    },
                ),
            ),
    )
    .await;
    let res = call_service(&app, with_cookie("/", &session).to_request()).await;
    assert_eq!(res.status(), 400);
    assert!(set_cookies(&res).is_empty());
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/plain; charset=utf-8"
    );
    assert!(body_text(res)
        .await
        .starts_with("The request's session was deleted"));
    assert!(store
        .load(&session, time::OffsetDateTime::now_utc())
        .await
        .unwrap()
        .is_none());
}

/// `SessionError` as a handler's error: the axum `IntoResponse` statuses.
#[actix_web::test]
async fn session_errors_are_responses() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let session = stored_session(&store, serde_json::json!({"visit": "three"})).await;
    let app = init_service(
        App::new()
            .wrap(SessionMiddleware::from_arc(store, config()))
            .route("/visit/", web::get().to(visit)),
    )
    .await;
    let res = call_service(&app, with_cookie("/visit/", &session).to_request()).await;
    assert_eq!(res.status(), 500);
    assert_eq!(
        body_text(res).await,
        "session value \"visit\" is not an integer"
    );
}

#[test]
fn the_middleware_crosses_threads() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<SessionMiddleware>();
    shared::<Session>();
}

//! actix-web servers: the bare ceiling, actix-session's visit counter
//! (get + insert) on its cookie store and its Redis store, and sessionkit's
//! (`increment`, the demo's handler) through its actix middleware on the
//! same stores. One worker, as the server core is one core.

use actix_session::storage::{CookieSessionStore, RedisSessionStore};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{web, App, HttpServer};

use super::BoxError;
use crate::variants::{Family, Store, Variant};

async fn visit(session: Session) -> actix_web::Result<String> {
    let n = session.get::<i64>("visit")?.unwrap_or(0) + 1;
    session.insert("visit", n)?;
    Ok(format!("Visit count:{n}"))
}

async fn count_visit(session: sessionkit::Session) -> Result<String, sessionkit::SessionError> {
    let visit = session.increment("visit", 1)?;
    Ok(format!("Visit count:{visit}"))
}

/// sessionkit's middleware on `store`, opened as the axum servers open it.
async fn ours(store: Store, url: &str) -> Result<sessionkit::actix::SessionMiddleware, BoxError> {
    let config = sessionkit::SessionConfig::new(super::BENCH_SECRET)?;
    let settings = super::ours::settings(store, url)?;
    let store_config = sessionkit::StoreConfig::from_lookup(|k| settings.get(k).cloned())?;
    let store = sessionkit::store::open(&store_config, &config).await?;
    Ok(sessionkit::actix::SessionMiddleware::from_arc(
        store, config,
    ))
}

async fn bare() -> String {
    super::bare::visit()
}

fn key() -> Key {
    Key::derive_from(super::BENCH_SECRET.as_bytes())
}

/// actix-session's middleware on its cookie store, as the server wraps it.
fn peer_cookie() -> SessionMiddleware<CookieSessionStore> {
    SessionMiddleware::builder(CookieSessionStore::default(), key())
        .cookie_secure(false)
        .build()
}

/// The actix apps of the micro bench, without sockets: `n` requests (on a
/// returning client's cookie, or none for `new_clients`) through each of
/// bare actix-web, sessionkit's middleware on signed cookies and
/// actix-session's cookie store; the best of five passes, in µs a request.
pub(crate) fn micro(
    n: usize,
    only: Option<&str>,
    new_clients: bool,
) -> Result<Vec<(&'static str, f64)>, BoxError> {
    use actix_web::test::init_service;
    let wanted = |name: &str| only.is_none_or(|o| o == name);
    actix_web::rt::System::new().block_on(async move {
        let mut out = Vec::new();
        if wanted("bare-actix") {
            let app = init_service(App::new().route("/visit/", web::get().to(bare))).await;
            out.push(("bare-actix", time(&app, n, new_clients).await?));
        }
        if wanted("sessionkit-actix-signed-cookies") {
            let sessions = ours(Store::SignedCookies, "").await?;
            let app = init_service(
                App::new()
                    .wrap(sessions)
                    .route("/visit/", web::get().to(count_visit)),
            )
            .await;
            out.push((
                "sessionkit-actix-signed-cookies",
                time(&app, n, new_clients).await?,
            ));
        }
        if wanted("actix-session-cookie") {
            let app = init_service(
                App::new()
                    .wrap(peer_cookie())
                    .route("/visit/", web::get().to(visit)),
            )
            .await;
            out.push(("actix-session-cookie", time(&app, n, new_clients).await?));
        }
        Ok(out)
    })
}

async fn time<S, B>(app: &S, n: usize, new_clients: bool) -> Result<f64, BoxError>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    let once = |cookie: Option<String>| async move {
        let mut req = actix_web::test::TestRequest::get().uri("/visit/");
        if let Some(c) = cookie {
            req = req.insert_header((actix_web::http::header::COOKIE, c));
        }
        let res = app
            .call(req.to_request())
            .await
            .map_err(|e| BoxError::from(e.to_string()))?;
        if !res.status().is_success() {
            return Err(BoxError::from(format!("answered {}", res.status())));
        }
        Ok::<_, BoxError>(
            res.headers()
                .get(actix_web::http::header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(str::to_owned),
        )
    };
    let mut cookie = once(None).await?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        for _ in 0..n {
            if new_clients {
                once(None).await?;
            } else if let Some(c) = once(cookie.clone()).await? {
                cookie = Some(c);
            }
        }
        best = best.min(t.elapsed().as_secs_f64() / n as f64);
    }
    Ok(best * 1e6)
}

pub(super) fn serve(variant: Variant, port: u16, url: &str) -> Result<(), BoxError> {
    let url = url.to_owned();
    actix_web::rt::System::new().block_on(async move {
        let addr = ("127.0.0.1", port);
        match (variant.family, variant.store) {
            (Family::Bare, _) => {
                HttpServer::new(|| App::new().route("/visit/", web::get().to(bare)))
                    .workers(1)
                    .bind(addr)?
                    .run()
                    .await?
            }
            (Family::Peer, Store::SignedCookies) => {
                HttpServer::new(|| {
                    App::new()
                        .wrap(peer_cookie())
                        .route("/visit/", web::get().to(visit))
                })
                .workers(1)
                .bind(addr)?
                .run()
                .await?
            }
            (Family::Peer, Store::Redis) => {
                let store = RedisSessionStore::new(url)
                    .await
                    .map_err(|e| e.to_string())?;
                HttpServer::new(move || {
                    App::new()
                        .wrap(
                            SessionMiddleware::builder(store.clone(), key())
                                .cookie_secure(false)
                                .build(),
                        )
                        .route("/visit/", web::get().to(visit))
                })
                .workers(1)
                .bind(addr)?
                .run()
                .await?
            }
            (Family::Ours, store) => {
                let sessions = ours(store, &url).await?;
                HttpServer::new(move || {
                    App::new()
                        .wrap(sessions.clone())
                        .route("/visit/", web::get().to(count_visit))
                })
                .workers(1)
                .bind(addr)?
                .run()
                .await?
            }
            _ => return Err(format!("no actix server for {}", variant.name).into()),
        }
        Ok(())
    })
}

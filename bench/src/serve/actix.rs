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
    Ok(sessionkit::actix::SessionMiddleware::from_arc(store, config))
}

async fn bare() -> String {
    super::bare::visit()
}

fn key() -> Key {
    Key::derive_from(super::BENCH_SECRET.as_bytes())
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
                        .wrap(
                            SessionMiddleware::builder(CookieSessionStore::default(), key())
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

//! [`SessionMiddleware`] and the [`SessionService`] it wraps each app in.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::COOKIE;
use actix_web::{Error, HttpMessage};

use crate::config::SessionConfig;
use crate::cookie::cookie_value_from;
use crate::session::{Session, Shared};
use crate::store::SessionStore;

use super::respond::{finish, finish_error};

/// Adds Django-compatible sessions to an actix-web app (`App::wrap`).
///
/// Cheap to clone: build it once, outside `HttpServer::new`, and clone it into
/// each worker's app, so every worker shares one store and one set of locks.
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    shared: Arc<Shared>,
}

impl SessionMiddleware {
    /// A middleware storing sessions in `store`, with Django's settings in
    /// `config`.
    pub fn new(store: impl SessionStore, config: SessionConfig) -> Self {
        Self::from_arc(Arc::new(store), config)
    }

    /// The same, for a store already behind an `Arc` (for example one built
    /// by [`store::open`](crate::store::open) from configuration).
    pub fn from_arc(store: Arc<dyn SessionStore>, config: SessionConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new(store, config)),
        }
    }

    /// Records logins in `sessions`, the per-user session index
    /// ([`crate::user_sessions`]). Build both over one store `Arc` (this
    /// type's `from_arc`), so that a revocation deletes from the store the
    /// layer reads; another store is logged as a warning.
    #[must_use]
    pub fn with_user_sessions(self, sessions: crate::user_sessions::UserSessions) -> Self {
        Self {
            shared: Arc::new(self.shared.with_user_sessions(sessions)),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service,
            shared: self.shared.clone(),
        }))
    }
}

/// The service made by [`SessionMiddleware`] around an app.
#[derive(Debug)]
pub struct SessionService<S> {
    service: S,
    shared: Arc<Shared>,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let cookies = req.headers().get_all(COOKIE).map(|v| v.as_bytes());
        let cookie = cookie_value_from(cookies, &self.shared.config.cookie_name);
        let had_cookie = cookie.is_some();
        let session = Session::new(self.shared.clone(), cookie);
        crate::user_sessions::note_actix(&session, &req);
        req.extensions_mut().insert(session.clone());
        let fut = self.service.call(req);
        Box::pin(async move {
            match fut.await {
                Ok(res) => Ok(finish(&session, had_cookie, res).await),
                Err(e) => Err(finish_error(&session, had_cookie, e).await),
            }
        })
    }
}

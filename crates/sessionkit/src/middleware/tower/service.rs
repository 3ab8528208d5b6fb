//! [`SessionService`]: puts a lazy session in the request, finishes the response.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::cookie::cookie_value;
use crate::session::{Session, Shared};

use super::ResponseFuture;

/// The service made by [`SessionLayer`](super::SessionLayer).
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> SessionService<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let cookie = cookie_value(req.headers(), &self.shared.config.cookie_name);
        let had_cookie = cookie.is_some();
        let session = Session::new(self.shared.clone(), cookie);
        crate::user_sessions::note_http(&session, req.headers(), req.extensions());
        req.extensions_mut().insert(session.clone());
        // The inner future owns everything it needs, so the ready service is
        // called directly: no clone of `inner` per request.
        ResponseFuture::new(self.inner.call(req), session, had_cookie)
    }
}

//! The actix-web extractor (`Session`, loaded once) and `ResponseError` for
//! [`SessionError`], with the statuses of the axum `IntoResponse`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::error::{chain, SessionError};
use crate::session::Session;

impl FromRequest for Session {
    type Error = SessionError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<Session>().cloned();
        Box::pin(async move {
            let session = session.ok_or(SessionError::MissingLayer)?;
            session.load().await?;
            Ok(session)
        })
    }
}

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        match self {
            // The middleware replaces this with the configured status: the
            // session remembers its failed load.
            SessionError::Load(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            SessionError::Load(_) => {
                "Service Unavailable: the session store is unavailable".to_owned()
            }
            SessionError::MissingLayer => {
                tracing::error!("{self}");
                self.to_string()
            }
            other => {
                tracing::error!(error = %chain(other), "session error");
                other.to_string()
            }
        };
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(body)
    }
}

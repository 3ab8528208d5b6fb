//! The axum extractor: `Session` (loaded once) and `Option<Session>`.

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::error::SessionError;
use crate::session::Session;

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(SessionError::MissingLayer)?;
        session.load().await?;
        Ok(session)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionError;

    /// `None` when no `SessionLayer` runs; a store failure is still an error.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Session>().cloned() {
            None => Ok(None),
            Some(session) => {
                session.load().await?;
                Ok(Some(session))
            }
        }
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        match self {
            // The layer replaces this with the configured status; the
            // session remembers the failure, so a handler mapping the error
            // its own way gets the same answer.
            SessionError::Load(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: the session store is unavailable",
            )
                .into_response(),
            SessionError::MissingLayer => {
                tracing::error!("{self}");
                (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
            }
            other => {
                tracing::error!(error = %crate::error::chain(&other), "session error");
                (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()).into_response()
            }
        }
    }
}

//! The axum extractor: `Session` (loaded once) and `Option<Session>`.

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::error::SessionError;
use crate::session::Session;

/// Marks a response made from a failed session load, so the layer can answer
/// with the configured status (`SessionConfig::load_error_status`).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct LoadFailed;

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
            SessionError::Load(_) => {
                let mut res = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable: the session store is unavailable",
                )
                    .into_response();
                res.extensions_mut().insert(LoadFailed);
                res
            }
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

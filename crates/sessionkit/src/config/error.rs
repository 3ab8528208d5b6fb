//! Why a configuration could not be built.

/// A setting is missing or has a value sessionkit cannot use.
///
/// The message names the variable and, for enumerated settings, the bad
/// value; it never contains a secret or a URL (which may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `SECRET_KEY` is set but empty: nothing could be signed safely.
    #[error("SECRET_KEY is empty: set it to a long random value")]
    EmptySecret,
    /// `SECRET_KEY` is not set at all.
    #[error("SECRET_KEY is not set: set it to a long random value")]
    MissingSecret,
    /// A variable has a value that cannot be used.
    #[error("invalid {variable}: {reason}")]
    Invalid {
        /// The variable's name, as in the environment (`SESSION_COOKIE_AGE`).
        variable: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(variable: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            variable,
            reason: reason.into(),
        }
    }
}

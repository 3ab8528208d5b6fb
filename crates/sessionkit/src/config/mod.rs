//! Settings, with Django's names and defaults: [`SessionConfig`] (cookie,
//! behaviour and secrets) and [`StoreConfig`] (which engine, and where).
//!
//! ```
//! use sessionkit::config::{SameSite, SessionConfig};
//!
//! let env = |name: &str| match name {
//!     "SECRET_KEY" => Some("a-long-random-value-from-your-secret-store-0123456789".to_owned()),
//!     "SESSION_COOKIE_SAMESITE" => Some("Strict".to_owned()),
//!     _ => None,
//! };
//! let config = SessionConfig::from_lookup(env)?;
//! assert_eq!(config.cookie_name, "sessionid");
//! assert_eq!(config.cookie_samesite, Some(SameSite::Strict));
//! # Ok::<(), sessionkit::config::ConfigError>(())
//! ```

mod env;
mod error;
mod secret;
mod session;
mod store;

use std::fmt;

pub use error::ConfigError;
#[doc(hidden)] // the CLI's `check`: not an API
pub use secret::secret_warnings;
pub use session::SessionConfig;
#[doc(hidden)] // the CLI's table checks: not an API
pub use store::is_valid_table_name;
pub use store::{Engine, StoreConfig};

/// The cookie's `SameSite` attribute. Django's `False` (no attribute) is
/// `Option::None` where this is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Lax`, Django's default.
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None`; browsers then require `Secure`.
    None,
}

impl SameSite {
    /// The attribute value as written: `Lax`, `Strict` or `None`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

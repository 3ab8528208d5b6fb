//! Which salt `decode` and `encode` use: `--salt`, else the salt of
//! `--engine`, else Django's db/file session salt.

use sessionkit::config::Engine;
use sessionkit::signing::{SESSION_SALT, SIGNED_COOKIES_SALT};

use crate::opt::SaltArgs;

/// A salt, and the session engine it belongs to when it is one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Salt {
    /// The salt passed to `signing.dumps`/`loads`.
    pub(crate) salt: String,
    /// The engine whose salt this is: values are then session dicts.
    pub(crate) engine: Option<Engine>,
}

impl Salt {
    /// The salt the arguments name.
    pub(crate) fn of(args: &SaltArgs) -> Self {
        match (&args.salt, args.engine) {
            (Some(salt), _) => Self {
                salt: salt.clone(),
                engine: None,
            },
            (None, Some(Engine::SignedCookies)) => Self {
                salt: SIGNED_COOKIES_SALT.to_owned(),
                engine: Some(Engine::SignedCookies),
            },
            // db, cached_db and file all sign with the `SessionStore` salt.
            (None, engine) => Self {
                salt: SESSION_SALT.to_owned(),
                engine: Some(engine.unwrap_or(Engine::Db)),
            },
        }
    }
}

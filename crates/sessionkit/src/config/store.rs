//! [`StoreConfig`]: which engine to build and where its data lives, read by
//! the demo and the CLI. Libraries build their store in code instead.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::env::{self, Source};
use super::ConfigError;

/// Django's dotted module path that precedes an engine's short name.
const DJANGO_BACKENDS: &str = "django.contrib.sessions.backends.";

/// A session engine, as Django's `SESSION_ENGINE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// `django.contrib.sessions.backends.db`: the `django_session` table.
    Db,
    /// `…backends.cache`: a cache only.
    Cache,
    /// `…backends.file`: one file per session.
    File,
    /// `…backends.cached_db`: write-through cache over the table.
    CachedDb,
    /// `…backends.signed_cookies`: the whole session in the cookie.
    SignedCookies,
}

impl Engine {
    /// The short name: `db`, `cache`, `file`, `cached_db`, `signed_cookies`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Db => "db",
            Self::Cache => "cache",
            Self::File => "file",
            Self::CachedDb => "cached_db",
            Self::SignedCookies => "signed_cookies",
        }
    }

    /// Django's `SESSION_ENGINE` value for this engine.
    pub fn django_path(self) -> String {
        format!("{DJANGO_BACKENDS}{}", self.as_str())
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = ConfigError;

    /// A short name (`db`) or Django's dotted path
    /// (`django.contrib.sessions.backends.db`); `-` may stand for `_`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let short = s.trim();
        let short = short.strip_prefix(DJANGO_BACKENDS).unwrap_or(short);
        match short.to_ascii_lowercase().replace('-', "_").as_str() {
            "db" => Ok(Self::Db),
            "cache" => Ok(Self::Cache),
            "file" => Ok(Self::File),
            "cached_db" => Ok(Self::CachedDb),
            "signed_cookies" => Ok(Self::SignedCookies),
            _ => Err(ConfigError::invalid(
                "SESSION_ENGINE",
                format!(
                    "{s:?} is not one of db, cache, file, cached_db, signed_cookies \
                     (or django.contrib.sessions.backends.<name>)"
                ),
            )),
        }
    }
}

/// Where sessions are stored, from `SESSION_ENGINE` and friends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `SESSION_ENGINE`, default [`Engine::Db`].
    pub engine: Engine,
    /// `SESSION_DB_URL`, default `sqlite://sessions.sqlite3`.
    pub db_url: String,
    /// `SESSION_CACHE_URL`, default `memory://` (in-process).
    pub cache_url: String,
    /// `SESSION_FILE_PATH`, default none: a private `<temp dir>/sessionkit-<uid>`,
    /// mode 0700 (Django uses the temp dir itself).
    pub file_path: Option<PathBuf>,
    /// `SESSION_CACHE_KEY_PREFIX`, default empty.
    pub key_prefix: String,
    /// `SESSION_DB_TABLE`, default `django_session`; always a safe SQL
    /// identifier (see [`is_valid_table_name`]).
    pub table: String,
    /// `SESSION_CACHE_MAX_AGE` in whole seconds, default 30
    /// ([`DEFAULT_MAX_ENTRY_AGE`](crate::store::cached_db::DEFAULT_MAX_ENTRY_AGE)):
    /// how long `cached_db` serves a cache entry without asking the db, so
    /// the longest a logout it did not see (Django's, another process's) can
    /// take to be seen. `0` reads the db on every load.
    pub cache_max_age: Duration,
    /// `SESSION_CACHE_SINGLE_PROCESS`, default `false`: declares that one
    /// process alone serves the database, the only case where `cached_db`
    /// may keep its cache in-process (`SESSION_CACHE_URL=memory://`) with a
    /// max age above zero.
    pub cache_single_process: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            engine: Engine::Db,
            db_url: "sqlite://sessions.sqlite3".to_owned(),
            cache_url: "memory://".to_owned(),
            file_path: None,
            key_prefix: String::new(),
            table: "django_session".to_owned(),
            cache_max_age: crate::store::cached_db::DEFAULT_MAX_ENTRY_AGE,
            cache_single_process: false,
        }
    }
}

impl StoreConfig {
    /// Reads `SESSION_ENGINE`, `SESSION_DB_URL`, `SESSION_CACHE_URL`,
    /// `SESSION_FILE_PATH`, `SESSION_CACHE_KEY_PREFIX`, `SESSION_DB_TABLE`,
    /// `SESSION_CACHE_MAX_AGE` and `SESSION_CACHE_SINGLE_PROCESS` from the
    /// process environment; unset or blank ones keep the defaults.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first variable with a value that
    /// cannot be used: an unknown engine, a table name that is not a plain SQL
    /// identifier, a key prefix with whitespace, a max age that is not a whole
    /// number of seconds, a flag that is not a boolean, or a value that is
    /// not Unicode.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&env::process_env)
    }

    /// [`StoreConfig::from_env`] over any lookup.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_source(&env::infallible(get))
    }

    fn from_source(src: Source<'_>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(v) = env::text(src, "SESSION_ENGINE")? {
            config.engine = v.parse()?;
        }
        if let Some(v) = env::text(src, "SESSION_DB_URL")? {
            config.db_url = v;
        }
        if let Some(v) = env::text(src, "SESSION_CACHE_URL")? {
            config.cache_url = v;
        }
        if let Some(v) = env::text(src, "SESSION_FILE_PATH")? {
            config.file_path = Some(PathBuf::from(v));
        }
        if let Some(v) = env::text(src, "SESSION_CACHE_KEY_PREFIX")? {
            // Memcached keys may hold neither whitespace nor control characters.
            if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError::invalid(
                    "SESSION_CACHE_KEY_PREFIX",
                    "must not contain whitespace or control characters",
                ));
            }
            config.key_prefix = v;
        }
        if let Some(v) = env::text(src, "SESSION_DB_TABLE")? {
            if !is_valid_table_name(&v) {
                return Err(ConfigError::invalid(
                    "SESSION_DB_TABLE",
                    format!("{v:?} is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]{{0,62}})"),
                ));
            }
            config.table = v;
        }
        if let Some(secs) = env::integer::<u64>(src, "SESSION_CACHE_MAX_AGE")? {
            config.cache_max_age = Duration::from_secs(secs);
        }
        if let Some(v) = env::boolean(src, "SESSION_CACHE_SINGLE_PROCESS")? {
            config.cache_single_process = v;
        }
        Ok(config)
    }
}

/// Whether `name` can be spliced into SQL as a table name without quoting:
/// `[A-Za-z_][A-Za-z0-9_]{0,62}` (63 bytes, PostgreSQL's limit).
pub fn is_valid_table_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok && name.len() <= 63 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(is_valid_table_name("django_session"));
        assert!(is_valid_table_name("_t1"));
        assert!(is_valid_table_name(&"a".repeat(63)));
        assert!(!is_valid_table_name(&"a".repeat(64)));
        assert!(!is_valid_table_name(""));
        assert!(!is_valid_table_name("1abc"));
        assert!(!is_valid_table_name("a;drop"));
        assert!(!is_valid_table_name("sessión"));
    }

    #[test]
    fn cache_age_and_single_process() {
        let read = |vars: &'static [(&'static str, &'static str)]| {
            StoreConfig::from_lookup(|name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let default = read(&[]).expect("defaults");
        assert_eq!(default.cache_max_age, Duration::from_secs(30));
        assert!(!default.cache_single_process);
        let set = read(&[
            ("SESSION_CACHE_MAX_AGE", " 5 "),
            ("SESSION_CACHE_SINGLE_PROCESS", "TRUE"),
        ])
        .expect("valid");
        assert_eq!(set.cache_max_age, Duration::from_secs(5));
        assert!(set.cache_single_process);
        let zero = read(&[("SESSION_CACHE_MAX_AGE", "0")]).expect("valid");
        assert_eq!(zero.cache_max_age, Duration::ZERO);
        for bad in [
            &[("SESSION_CACHE_MAX_AGE", "-1")][..],
            &[("SESSION_CACHE_MAX_AGE", "30s")],
            &[("SESSION_CACHE_SINGLE_PROCESS", "yes please")],
        ] {
            let err = read(bad).expect_err("invalid").to_string();
            assert!(err.contains(bad[0].0), "{err}");
        }
    }

    #[test]
    fn engine_round_trip() {
        for engine in [
            Engine::Db,
            Engine::Cache,
            Engine::File,
            Engine::CachedDb,
            Engine::SignedCookies,
        ] {
            assert_eq!(engine.as_str().parse::<Engine>().ok(), Some(engine));
            assert_eq!(engine.django_path().parse::<Engine>().ok(), Some(engine));
        }
    }
}

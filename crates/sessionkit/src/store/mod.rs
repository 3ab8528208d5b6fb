//! The store contract: one object-safe trait that every engine implements.
//!
//! Stores trade in decoded [`Record`]s. A persisting store is built with a
//! [`Codec`](crate::signing::Codec) and encodes/decodes Django's signed format
//! itself, so the session layer never sees engine-specific bytes.
//!
//! Saves are **compare-and-set**: [`SessionStore::save`] only writes when the
//! stored record is still the one described by the [`Version`] that came with
//! the load. That is what lets the session layer replay a request's changes on
//! top of a concurrent writer's instead of silently dropping them.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;

#[cfg(any(feature = "redis", feature = "memcached"))]
mod cache_entry;
pub mod cached_db;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod db;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "file",
    feature = "redis",
    feature = "memcached"
))]
pub(crate) mod engine;
#[cfg(feature = "file")]
pub mod file;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "file",
    feature = "redis",
    feature = "memcached",
    feature = "memory"
))]
mod fresh_key;
mod immediate;
#[cfg(feature = "memcached")]
pub mod memcached;
#[cfg(feature = "memory")]
pub mod memory;
mod open;
#[cfg(feature = "redis")]
pub mod redis;
pub mod signed_cookies;
pub mod sweeper;

pub use immediate::ImmediateStore;
pub use open::open;

/// A session's data: Django's session dict, in insertion order, including
/// `_session_expiry` when the session has one (Django keeps it in the dict).
pub type SessionMap = serde_json::Map<String, serde_json::Value>;

/// A decoded session as a store keeps it.
#[derive(Clone, PartialEq)]
pub struct Record {
    /// The session dict.
    pub data: SessionMap,
    /// When the server copy stops being loadable (Django's `expire_date`).
    pub expires_at: OffsetDateTime,
}

impl Record {
    /// A record with the given data and expiry.
    pub fn new(data: SessionMap, expires_at: OffsetDateTime) -> Self {
        Self { data, expires_at }
    }
}

impl fmt::Debug for Record {
    // Session data can hold personal data and credentials: Debug shows its
    // shape only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("keys", &self.data.len())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An opaque token describing the stored state a save must find to succeed.
///
/// Each engine picks what identifies its stored value: the db engine the stored
/// `session_data` text, the in-process engine a counter, and so on. The
/// constructor is public so third-party stores can make one. Two versions are
/// equal when their bytes and [`must_rewrite`](Self::must_rewrite) are.
#[derive(Clone)]
pub struct Version {
    bytes: VersionBytes,
    rewrite: bool,
}

/// Short versions (a counter, a CAS token) live inline: the in-process
/// engine makes and copies one on every request, so none of them allocates.
#[derive(Clone)]
enum VersionBytes {
    Inline { len: u8, buf: [u8; INLINE_VERSION] },
    Heap(Vec<u8>),
}

const INLINE_VERSION: usize = 16;

impl Version {
    /// A version made of these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: VersionBytes::Heap(bytes.into()),
            rewrite: false,
        }
    }

    /// A version copied from `bytes`; one of up to 16 bytes is kept without
    /// an allocation.
    pub fn copied(bytes: &[u8]) -> Self {
        let bytes = match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE_VERSION => {
                let mut buf = [0; INLINE_VERSION];
                buf[..bytes.len()].copy_from_slice(bytes);
                VersionBytes::Inline { len, buf }
            }
            _ => VersionBytes::Heap(bytes.to_vec()),
        };
        Self {
            bytes,
            rewrite: false,
        }
    }

    /// The version of a stored value that could not be used and must be
    /// written back even if the request changes nothing — Django's
    /// signed-cookie engine re-issues a fresh cookie for a bad or expired one.
    pub fn rewrite(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            rewrite: true,
            ..Self::new(bytes)
        }
    }

    /// The bytes this version was made of.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.bytes {
            VersionBytes::Inline { len, buf } => &buf[..usize::from(*len)],
            VersionBytes::Heap(bytes) => bytes,
        }
    }

    /// Whether the session layer must save this session (see [`Version::rewrite`]).
    pub fn must_rewrite(&self) -> bool {
        self.rewrite
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes() && self.rewrite == other.rewrite
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
        self.rewrite.hash(state);
    }
}

impl fmt::Debug for Version {
    // A db version is the signed session data: a credential-like value that
    // must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Version({} bytes{})",
            self.as_bytes().len(),
            if self.rewrite { ", rewrite" } else { "" }
        )
    }
}

/// What [`SessionStore::load`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The decoded record. A stored value whose signature or JSON is bad loads
    /// as an empty record (Django's behaviour); its version still lets the next
    /// save overwrite it.
    pub record: Record,
    /// What a save must find in the store to succeed.
    pub version: Version,
}

/// A record written by [`SessionStore::create`] or [`SessionStore::save`].
#[derive(Clone, PartialEq)]
pub struct Saved {
    /// The value for the session cookie: the session key for server stores,
    /// the signed session itself for the cookie store.
    pub cookie_value: String,
    /// The version of what was written, for a later compare-and-set.
    pub version: Version,
}

impl fmt::Debug for Saved {
    // The cookie value is a credential (a session key, or the signed session).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Saved")
            .field("cookie_value", &crate::key::log_tag(&self.cookie_value))
            .field("version", &self.version)
            .finish()
    }
}

/// The outcome of a compare-and-set save. Expected outcomes are values, not errors.
#[derive(Clone, Debug, PartialEq)]
pub enum SaveOutcome {
    /// Written.
    Saved(Saved),
    /// The stored record is not the expected version: someone else saved first.
    /// Reload, re-apply, retry.
    Conflict,
    /// The record is gone (deleted or expired meanwhile, e.g. a logout in
    /// another tab). It must not be recreated.
    Gone,
}

/// A session storage engine.
///
/// Keys given to a store have passed [`accepts`](SessionStore::accepts): no
/// other cookie value ever reaches it. Time is always passed in (`now`), so
/// expiry follows the session layer's injectable clock.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Whether a cookie value may reach this store at all. Server engines accept
    /// `[a-z0-9]{8,40}` ([`crate::key::is_valid_key`]).
    fn accepts(&self, cookie_value: &str) -> bool;

    /// The live record for `key`, or `None` when there is none or it expired at `now`.
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError>;

    /// Writes `record` under a fresh key, atomically (insert-if-absent; a
    /// collision retries with a new key).
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError>;

    /// Writes `record` under `key` only if the stored record is still `expected`.
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError>;

    /// Deletes `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Deletes `key` only if the stored record is still `expected`: the
    /// compare-and-set form of [`delete`](SessionStore::delete) that
    /// `cycle_key` uses, so a concurrent save to the old key is never thrown
    /// away. `Ok(true)` when the record is gone now (deleted here, or already
    /// missing or expired), `Ok(false)` when a newer version is stored and
    /// nothing was deleted.
    ///
    /// The default loads, compares and deletes: correct except for a save
    /// landing between the load and the delete. Engines that can compare and
    /// delete atomically override it.
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match self.load(key, now).await? {
            None => Ok(true),
            Some(l) if l.version.as_bytes() == expected.as_bytes() => {
                self.delete(key).await?;
                Ok(true)
            }
            Some(_) => Ok(false),
        }
    }

    /// Deletes every record expired at `now`, in batches; returns how many went.
    /// Engines whose server expires entries itself return 0.
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Moves the expiry of a live record without rewriting its data. Returns
    /// whether a live record was found.
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Whether two saves of one session can conflict (`true` unless the
    /// engine says otherwise). The session layer then lets one save of a
    /// session at a time through per process, so concurrent requests of a
    /// session conflict at most once each; an engine with nothing shared
    /// to conflict over (signed cookies) skips that lock.
    fn saves_can_conflict(&self) -> bool {
        true
    }

    /// Called once by the session layer (tower or actix) when it is built,
    /// with its settings: engines that sign Django's format take their keys
    /// from `config` here, so the secret is given once. Keys the store was
    /// built with stay. Stores that need nothing ignore it (the default).
    fn attach(&self, config: &crate::config::SessionConfig) {
        let _ = config;
    }

    /// The engine's name in metrics labels and tracing fields (`engine`):
    /// `sqlite`, `postgres`, `mysql`, `file`, `memory`, `redis`,
    /// `memcached`, `cached_db` or `signed_cookies` for sessionkit's own;
    /// `custom` unless a third-party store names itself. A store that wraps
    /// another (a decorator) forwards it, so the label stays the engine's.
    fn engine_name(&self) -> &'static str {
        "custom"
    }

    /// The engine's synchronous calls, when it never waits
    /// ([`ImmediateStore`]); `None` (the default) for every engine with I/O.
    fn immediate(&self) -> Option<&dyn ImmediateStore> {
        None
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: SessionStore + ?Sized> SessionStore for std::sync::Arc<T> {
    fn accepts(&self, cookie_value: &str) -> bool {
        (**self).accepts(cookie_value)
    }
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        (**self).load(key, now).await
    }
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        (**self).create(record, now).await
    }
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        (**self).save(key, record, expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        (**self).delete_if(key, expected, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        (**self).clear_expired(now).await
    }
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        (**self).touch(key, expires_at, now).await
    }
    fn saves_can_conflict(&self) -> bool {
        (**self).saves_can_conflict()
    }
    fn attach(&self, config: &crate::config::SessionConfig) {
        (**self).attach(config)
    }
    fn engine_name(&self) -> &'static str {
        (**self).engine_name()
    }
    fn immediate(&self) -> Option<&dyn ImmediateStore> {
        (**self).immediate()
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    fn hash(v: &Version) -> u64 {
        use std::hash::{BuildHasher, RandomState};
        // One state for every call: equal versions must hash alike.
        static STATE: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
        STATE.get_or_init(RandomState::new).hash_one(v)
    }

    #[test]
    fn a_version_is_its_bytes_however_it_is_held() {
        for bytes in [
            &b""[..],
            b"1",
            &7u64.to_be_bytes(),
            &[9; 16],
            &[9; 17],
            &[b'x'; 300],
        ] {
            let copied = Version::copied(bytes);
            let owned = Version::new(bytes.to_vec());
            assert_eq!(copied.as_bytes(), bytes);
            assert_eq!(copied, owned);
            assert_eq!(hash(&copied), hash(&owned));
            assert!(!copied.must_rewrite());
        }
        assert_ne!(Version::copied(b"ab"), Version::copied(b"abc"));
        assert_ne!(Version::copied(b"a"), Version::rewrite(b"a".to_vec()));
    }
}

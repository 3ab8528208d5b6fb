//! The `file` engine: one file per session in a directory, shared file for
//! file with Django's `django.contrib.sessions.backends.file`.
//!
//! # Files
//!
//! A session's file is named `SESSION_COOKIE_NAME + session_key` (no
//! extension: `sessionid4f…`) and holds Django's signed session, salt
//! `django.contrib.sessions.SessionStore`, as ASCII without a trailing
//! newline; mode 0600. Only session keys (`[a-z0-9]{8,40}`) ever become file
//! names, so no cookie value can reach a path outside the directory.
//!
//! Writes go to a temp file beside the target (Django's
//! `<file name>_out_<random>`, mode 0600) that is renamed over it: a reader
//! sees the old file or the new one, never half of one, and a failed write
//! leaves the old file as it was. Files are **not** fsynced, as Django's are
//! not: a process crash loses nothing that was saved, a power loss may lose
//! the latest saves (so may the SQLite engine with `synchronous=NORMAL`);
//! a flush to disk on every request is a high price for replaceable data.
//!
//! # Compare-and-set
//!
//! A session's version is its file's content. A save takes an exclusive
//! `flock` on the key's lock file, reads the file, compares, writes and
//! renames, and unlocks: exact across threads and processes on one machine
//! (and on file systems where `flock` is shared, such as NFSv4). Keys share
//! 64 lock files in the hidden subdirectory `.sessionkit-locks`, so lock
//! files never pile up. Loads take no lock. Creating is a rename that never
//! replaces (`renameat2` `RENAME_NOREPLACE`, or link + unlink).
//! [`delete_if`](SessionStore::delete_if) compares and unlinks under the
//! same lock, so a save and a delete of one version never both succeed.
//!
//! # Expiry
//!
//! Django's file engine stores no expiry: it derives one at load from
//! `_session_expiry` in the data or from the file's mtime. So does this store:
//!
//! | `_session_expiry` | expires at | Django |
//! |---|---|---|
//! | absent, `0`, `null` | mtime + cookie age | same |
//! | an ISO date string | that date | same |
//! | an integer `n` | mtime + `n` seconds | **never** (spec §10) |
//!
//! The integer row is the one deliberate difference: Django's `get_expiry_age`
//! returns the integer itself, so its file sessions with `set_expiry(600)`
//! never expire server-side; here they expire 600 s after their last save.
//!
//! Each file is written with the mtime that makes this rule give back the
//! record's `expires_at` (the save time, when the session layer and the store
//! agree on the cookie age), so what a save writes is what a load returns,
//! to the nanosecond on file systems that keep nanosecond mtimes (ext4, XFS,
//! btrfs, tmpfs, APFS); coarser ones round it. The cookie age
//! ([`FileOptions::cookie_age`]) only matters for files Django wrote or will
//! read: set it to Django's `SESSION_COOKIE_AGE`.
//!
//! An expired file is deleted when a load meets it, as Django does, and by
//! [`clear_expired`](SessionStore::clear_expired), which goes through the
//! directory in batches and looks only at names `prefix + [a-z0-9]{8,40}`.
//! [`touch`](SessionStore::touch) sets the mtime; a session whose
//! `_session_expiry` is a date keeps that date, which is part of its signed data.
//!
//! # Where to put it
//!
//! A session's key is its file's name (Django's naming), so anyone who can
//! list the directory holds every live session, and anyone who can create
//! entries in it can plant FIFOs, symlinks or lock files where the store
//! expects its own. Django's default is the shared temp dir itself; this
//! store is stricter:
//!
//! - with no directory configured ([`FileStore::default_dir`], or
//!   `SESSION_FILE_PATH` unset) it uses `<temp dir>/sessionkit-<uid>`,
//!   created with mode 0700, and refuses one that is not a directory of this
//!   user's with mode 0700 ([`FileStore::default_dir`]). A Django app
//!   sharing the sessions must then be given that path (or both a common
//!   `SESSION_FILE_PATH`);
//! - a configured directory that other users can write to
//!   (`mode & 0o002`, e.g. `/tmp`), or that belongs to another user (root
//!   aside), is refused with [`StoreError::Config`], unless
//!   [`FileOptions::allow_shared_dir`] says that is intended (then a warning
//!   is logged);
//! - one other users can read (`mode & 0o004`, what `mkdir` makes under the
//!   usual umask: 0755) is used, with a warning at start-up: any local user
//!   can list every session key there. Make it 0700. Group access is used
//!   with a warning too: a Django app running as another user of one group
//!   is a real deployment, and the group is trusted with every session.
//!
//! Whatever sits at a session's name is opened without following symlinks
//! and without waiting; anything but a regular file (a FIFO, a symlink, a
//! directory) is not a session, and at most 8 MiB of a file is read (a
//! larger one loads as corrupt). Lock files are opened the same way and
//! must belong to this user; a lock someone holds for longer than
//! [`FileOptions::lock_timeout`] makes the operation fail with
//! [`StoreError::Unavailable`] instead of waiting for ever.
//! Temp files of a process killed mid-write are not cleaned up.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sessionkit::signing::{Codec, Keys, SecretKey};
//! use sessionkit::store::file::{FileOptions, FileStore};
//! use sessionkit::store::{Record, SessionMap, SessionStore};
//! use time::{Duration, OffsetDateTime};
//!
//! let keys = Keys::new(SecretKey::new("a long random secret shared with Django"), vec![])?;
//! let dir = tempfile::tempdir()?;
//! // A `SessionLayer` gives the store its keys; used directly, it is given them here.
//! let store = FileOptions::new()
//!     .prefix("sessionid")
//!     .cookie_age(1_209_600)
//!     .open(dir.path())?
//!     .with_codec(Codec::sessions(&keys));
//!
//! let now = OffsetDateTime::now_utc();
//! let saved = store.create(&Record::new(SessionMap::new(), now + Duration::weeks(2)), now).await?;
//! assert!(dir.path().join(format!("sessionid{}", saved.cookie_value)).is_file());
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::key;
use crate::signing::Codec;
use crate::store::engine;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};

mod dirs;
mod disk;
mod error;
mod expiry;
mod lock;
mod names;

use disk::Disk;
use error::{from_io, from_join};
use names::Prefix;

/// Directory entries `clear_expired` handles per blocking task.
const CLEAR_BATCH: usize = 1000;

/// Django's `SESSION_COOKIE_AGE` default: two weeks, in seconds.
const DEFAULT_COOKIE_AGE: i64 = 1_209_600;

/// How long an operation waits for a busy lock by default.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Options for a [`FileStore`].
#[derive(Clone, Debug)]
pub struct FileOptions {
    prefix: String,
    cookie_age: i64,
    lock_timeout: Duration,
    allow_shared_dir: bool,
}

impl FileOptions {
    /// Django's defaults (the prefix `sessionid`, a cookie age of two
    /// weeks), a lock timeout of 5 s, and a private directory required.
    pub fn new() -> Self {
        Self {
            prefix: names::DEFAULT_PREFIX.to_owned(),
            cookie_age: DEFAULT_COOKIE_AGE,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            allow_shared_dir: false,
        }
    }

    /// How long a save, delete or touch waits for its key's lock (held by
    /// another save for microseconds, normally) before it fails with
    /// [`StoreError::Unavailable`]: a stuck process or a lock file another
    /// user holds must not hang requests.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Accepts a directory other users can write to, or that belongs to
    /// another user, with a warning instead of [`StoreError::Config`] (see
    /// the module docs). Only for a directory shared on purpose: every user
    /// who can list it can take over every session.
    pub fn allow_shared_dir(mut self, allow: bool) -> Self {
        self.allow_shared_dir = allow;
        self
    }

    /// The file-name prefix: Django's `SESSION_COOKIE_NAME`. It must be 1 to
    /// 128 characters of a cookie name (letters, digits, ``!#$%&'*+-.^_`|~``),
    /// checked when the store is built ([`StoreError::Config`] otherwise).
    pub fn prefix(mut self, cookie_name: impl Into<String>) -> Self {
        self.prefix = cookie_name.into();
        self
    }

    /// Django's `SESSION_COOKIE_AGE` in seconds: how long after its last
    /// save a session without a custom expiry lives (see the module docs).
    pub fn cookie_age(mut self, seconds: i64) -> Self {
        self.cookie_age = seconds;
        self
    }

    /// A store in `dir` with these options.
    ///
    /// # Errors
    /// As [`FileStore::open`], and [`StoreError::Config`] for a prefix that
    /// is not a cookie name.
    pub fn open(self, dir: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        let dir = dir.into();
        let prefix = Prefix::new(self.prefix)?;
        dirs::check(&dir, self.allow_shared_dir)?;
        Ok(FileStore {
            disk: Arc::new(Disk::new(dir, prefix, self.cookie_age, self.lock_timeout)),
        })
    }
}

impl Default for FileOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Django's file session engine: one file per session in a directory.
///
/// Cheap to clone; clones share their configuration. Any number of stores,
/// in any number of processes, may use one directory at once.
#[derive(Clone)]
pub struct FileStore {
    disk: Arc<Disk>,
}

impl FileStore {
    /// A store in `dir` with Django's defaults ([`FileOptions::new`]).
    /// It signs with the keys of the [`SessionLayer`](crate::SessionLayer)
    /// it is given to, or those of [`with_codec`](Self::with_codec).
    ///
    /// # Errors
    /// [`StoreError::Config`] when `dir` is not an existing directory (Django's
    /// `ImproperlyConfigured`; it is never created), or is not private: other
    /// users can write to it, or it belongs to another user (see the module
    /// docs and [`FileOptions::allow_shared_dir`]).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        FileOptions::new().open(dir)
    }

    /// The directory to use when none is configured (Django's default is
    /// the temp directory itself; see the module docs):
    /// `<temp dir>/sessionkit-<uid>`, created with mode 0700 if missing.
    ///
    /// # Errors
    /// [`StoreError::Config`] when it cannot be created, or when what is
    /// there is not a directory of this user's with mode 0700 (on a shared
    /// `/tmp`, another user may have created it first): it is left alone
    /// for an operator to look at.
    pub fn default_dir() -> Result<PathBuf, StoreError> {
        dirs::private_temp_dir()
    }

    /// Signs with `codec` (Django's session salt, [`Codec::sessions`]), for
    /// a store used without a layer. Keys a store already has stay: the
    /// first keys a store (and its clones) gets are the ones it keeps.
    #[must_use]
    pub fn with_codec(self, codec: Codec) -> Self {
        self.disk.keys().set(codec);
        self
    }

    /// The session directory.
    pub fn dir(&self) -> &Path {
        self.disk.dir()
    }

    /// The file-name prefix (the cookie name).
    pub fn prefix(&self) -> &str {
        self.disk.prefix()
    }

    /// Runs blocking file work off the async runtime's worker threads. Outside
    /// a tokio runtime there is no pool to hand it to: it runs in place.
    /// The work itself is bounded (no open that waits, capped reads, locks
    /// with a deadline), so no blocking thread is held for ever. A store
    /// without keys fails here, before any file is touched (a missing-keys
    /// [`StoreError::Config`]).
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Disk, &Codec) -> io::Result<T> + Send + 'static,
    {
        let disk = Arc::clone(&self.disk);
        let run = move || work(&disk, disk.codec()?).map_err(from_io);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.spawn_blocking(run).await.map_err(from_join)?,
            Err(_) => run(),
        }
    }

    /// What `record` is written as: its signed text and its file's mtime.
    fn encode(
        &self,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<(String, std::time::SystemTime), StoreError> {
        let content = self.disk.codec()?.encode(&record.data, now);
        let mtime = self.disk.mtime_for(record, now).map_err(from_io)?;
        Ok((content, mtime))
    }
}

impl fmt::Debug for FileStore {
    // No keys or secrets: the directory and naming only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.disk.dir())
            .field("prefix", &self.disk.prefix())
            .field("cookie_age", &self.disk.cookie_age())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionStore for FileStore {
    fn engine_name(&self) -> &'static str {
        "file"
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(None);
        }
        let key = key.to_owned();
        self.blocking(move |disk, codec| disk.load(codec, &key, now))
            .await
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let (content, mtime) = self.encode(record, now)?;
        engine::with_fresh_key(|key| {
            let content = content.clone();
            self.blocking(move |disk, _| disk.create(key, content, mtime))
        })
        .await
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(SaveOutcome::Gone);
        }
        let (content, mtime) = self.encode(record, now)?;
        let (key, expected) = (key.to_owned(), expected.as_bytes().to_vec());
        self.blocking(move |disk, codec| disk.save(codec, &key, content, mtime, &expected, now))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !key::is_valid_key(key) {
            return Ok(());
        }
        let key = key.to_owned();
        self.blocking(move |disk, _| disk.delete(&key)).await
    }

    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(true);
        }
        let (key, expected) = (key.to_owned(), expected.as_bytes().to_vec());
        self.blocking(move |disk, codec| disk.delete_if(codec, &key, &expected, now))
            .await
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        // The listing streams through batches, one blocking task each, so
        // neither memory nor a blocking thread is held by a huge directory.
        let mut entries = self.blocking(|disk, _| disk.entries()).await?;
        let mut total = 0;
        loop {
            let (rest, removed, done) = self
                .blocking(move |disk, codec| {
                    let (removed, done) = disk.clear_some(codec, &mut entries, now, CLEAR_BATCH)?;
                    Ok((entries, removed, done))
                })
                .await?;
            total += removed;
            if done {
                return Ok(total);
            }
            entries = rest;
        }
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(false);
        }
        let key = key.to_owned();
        self.blocking(move |disk, codec| disk.touch(codec, &key, expires_at, now))
            .await
    }

    fn attach(&self, config: &SessionConfig) {
        self.disk.keys().attach(config);
    }
}

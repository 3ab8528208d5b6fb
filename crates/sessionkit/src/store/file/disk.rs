//! The blocking file operations behind [`FileStore`](super::FileStore); the
//! store runs each one on tokio's blocking pool.
//!
//! Every write happens under the key's stripe lock ([`super::lock`]) and
//! goes through a temp file renamed over the target, so readers never take
//! a lock and never see half a file.
//!
//! Whatever sits at a session's name is opened without following symlinks
//! and without waiting (`O_NOFOLLOW | O_NONBLOCK`), must be a regular file,
//! and is read at most [`MAX_FILE`] bytes: a FIFO, a symlink (to
//! `/dev/zero`, to another session's file) or a directory planted there is
//! not a session, and never hangs a thread or fills the memory.

use std::fs::{self, File, ReadDir};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tempfile::NamedTempFile;
use time::OffsetDateTime;

use super::error::{scrub, time_out_of_range};
use super::expiry::{from_system, to_system, Rule};
use super::lock::Locks;
use super::names::Prefix;
use crate::error::StoreError;
use crate::key;
use crate::signing::Codec;
use crate::store::engine::{self, SigningKeys};
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionMap, Version};

/// The engine's name in logs and errors.
const ENGINE: &str = "file";

/// The most of a session file that is read, so a planted or runaway file
/// cannot fill the memory. A larger file loads as corrupt (empty, keeping
/// its key), as a compressed session beyond the codec's 5 MiB cap does.
pub(super) const MAX_FILE: u64 = 8 << 20;

/// One session directory and how its files are named, signed and expired.
pub(super) struct Disk {
    dir: PathBuf,
    prefix: Prefix,
    cookie_age: i64,
    keys: SigningKeys,
    locks: Locks,
}

/// A session file as read: its bytes (the version), its mtime, and the
/// open file (a touch sets the mtime through it).
struct Stored {
    file: File,
    content: Vec<u8>,
    mtime: SystemTime,
}

/// A session file decoded.
struct Session {
    data: SessionMap,
    rule: Rule,
    /// `None` when the mtime is beyond what a date can hold: nothing then
    /// says the session is live, so it is treated as expired (and kept for
    /// an operator to look at).
    expires_at: Option<OffsetDateTime>,
}

impl Session {
    fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at > now)
    }

    fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

impl Disk {
    pub(super) fn new(
        dir: PathBuf,
        prefix: Prefix,
        cookie_age: i64,
        lock_timeout: Duration,
    ) -> Self {
        let locks = Locks::new(&dir, lock_timeout);
        Self {
            dir,
            prefix,
            cookie_age,
            keys: SigningKeys::default(),
            locks,
        }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn prefix(&self) -> &str {
        self.prefix.as_str()
    }

    pub(super) fn cookie_age(&self) -> i64 {
        self.cookie_age
    }

    /// The signing keys: given with the store, or by the layer it serves.
    pub(super) fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// The codec, or [`StoreError::Config`] when the store has no keys yet.
    pub(super) fn codec(&self) -> Result<&Codec, StoreError> {
        self.keys.codec(ENGINE)
    }

    /// The mtime to write `record` with (see [`super::expiry`]).
    pub(super) fn mtime_for(&self, record: &Record, now: OffsetDateTime) -> io::Result<SystemTime> {
        Rule::of(&record.data, self.cookie_age)
            .mtime_for(record.expires_at, now)
            .and_then(to_system)
            .ok_or_else(time_out_of_range)
    }

    pub(super) fn load(
        &self,
        codec: &Codec,
        key: &str,
        now: OffsetDateTime,
    ) -> io::Result<Option<Loaded>> {
        let path = self.path(key)?;
        let Some(stored) = self.read(key, &path, false)? else {
            return Ok(None);
        };
        let session = self.decode(codec, key, &stored, now);
        match session.expires_at {
            Some(expires_at) if expires_at > now => Ok(Some(Loaded {
                record: Record::new(session.data, expires_at),
                version: Version::new(stored.content),
            })),
            Some(_) => {
                drop(stored);
                // Django deletes an expired session file when it meets one.
                if let Err(e) = self.remove_if_expired(codec, key, now) {
                    tracing::warn!(
                        session = %key::log_tag(key),
                        error = %e,
                        "could not delete an expired session file"
                    );
                }
                Ok(None)
            }
            None => {
                tracing::warn!(
                    session = %key::log_tag(key),
                    "session file mtime out of range: treating the session as expired"
                );
                Ok(None)
            }
        }
    }

    /// Writes `content` under `key` unless a file has that name already
    /// (`None`): the atomic insert-if-absent of `create` (renameat2
    /// `RENAME_NOREPLACE`, or link + unlink).
    pub(super) fn create(
        &self,
        key: String,
        content: String,
        mtime: SystemTime,
    ) -> io::Result<Option<Saved>> {
        let temp = self.write_temp(&key, content.as_bytes(), mtime)?;
        match temp.persist_noclobber(self.path(&key)?) {
            Ok(_) => Ok(Some(Saved {
                cookie_value: key,
                version: Version::new(content),
            })),
            // The temp file goes with `e.file`.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(scrub(e.error)),
        }
    }

    /// Replaces `key`'s file with `content` if it still holds `expected`.
    pub(super) fn save(
        &self,
        codec: &Codec,
        key: &str,
        content: String,
        mtime: SystemTime,
        expected: &[u8],
        now: OffsetDateTime,
    ) -> io::Result<SaveOutcome> {
        let path = self.path(key)?;
        let _held = self.locks.lock(key)?;
        let Some(stored) = self.read(key, &path, false)? else {
            return Ok(SaveOutcome::Gone);
        };
        if stored.content != expected {
            return Ok(SaveOutcome::Conflict);
        }
        let session = self.decode(codec, key, &stored, now);
        drop(stored);
        if !session.is_live(now) {
            // Expired meanwhile: never brought back by a save.
            if session.is_expired(now) {
                remove(&path)?;
            }
            return Ok(SaveOutcome::Gone);
        }
        let temp = self.write_temp(key, content.as_bytes(), mtime)?;
        temp.persist(&path).map_err(|e| scrub(e.error))?;
        Ok(SaveOutcome::Saved(Saved {
            cookie_value: key.to_owned(),
            version: Version::new(content),
        }))
    }

    pub(super) fn delete(&self, key: &str) -> io::Result<()> {
        let path = self.path(key)?;
        // Under the lock, so a save that read the file before the delete
        // cannot rename it back into place after.
        let _held = self.locks.lock(key)?;
        remove(&path)
    }

    /// Deletes `key`'s file if it still holds `expected`, under the lock so
    /// no save lands between the compare and the unlink. `true` when the
    /// session is gone: deleted now, or already absent or expired (as a load
    /// would say); `false` when it holds something newer and is kept.
    pub(super) fn delete_if(
        &self,
        codec: &Codec,
        key: &str,
        expected: &[u8],
        now: OffsetDateTime,
    ) -> io::Result<bool> {
        let path = self.path(key)?;
        let _held = self.locks.lock(key)?;
        let Some(stored) = self.read(key, &path, false)? else {
            return Ok(true);
        };
        let session = (stored.content != expected).then(|| self.decode(codec, key, &stored, now));
        drop(stored);
        match session {
            Some(newer) if newer.is_live(now) => Ok(false),
            // An unreadable mtime: not live, but kept for an operator.
            Some(odd) if !odd.is_expired(now) => Ok(true),
            _ => remove(&path).map(|()| true),
        }
    }

    /// Sets the mtime so the session expires at `expires_at`. The content,
    /// and so the version, stays. A session whose expiry is an absolute
    /// `_session_expiry` date keeps it: that date is inside the signed data,
    /// which only a save may change.
    pub(super) fn touch(
        &self,
        codec: &Codec,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> io::Result<bool> {
        let path = self.path(key)?;
        let _held = self.locks.lock(key)?;
        let Some(stored) = self.read(key, &path, true)? else {
            return Ok(false);
        };
        let session = self.decode(codec, key, &stored, now);
        if !session.is_live(now) {
            return Ok(false);
        }
        if let Rule::AfterMtime(_) = session.rule {
            let mtime = session
                .rule
                .mtime_for(expires_at, now)
                .and_then(to_system)
                .ok_or_else(time_out_of_range)?;
            stored.file.set_modified(mtime)?;
        }
        Ok(true)
    }

    pub(super) fn entries(&self) -> io::Result<ReadDir> {
        fs::read_dir(&self.dir)
    }

    /// Goes through at most `limit` more directory entries, deleting the
    /// expired session files among them. Returns how many it deleted and
    /// whether the listing is done.
    ///
    /// Only names `prefix + [a-z0-9]{8,40}` are looked at: temp files, the
    /// lock directory and foreign files are passed over. A file that cannot
    /// be read is skipped with a warning, as Django skips it.
    pub(super) fn clear_some(
        &self,
        codec: &Codec,
        entries: &mut ReadDir,
        now: OffsetDateTime,
        limit: usize,
    ) -> io::Result<(u64, bool)> {
        let mut removed = 0;
        for _ in 0..limit {
            let Some(entry) = entries.next() else {
                return Ok((removed, true));
            };
            let name = entry?.file_name();
            let Some(key) = name.to_str().and_then(|n| self.prefix.key_of(n)) else {
                continue;
            };
            match self.remove_if_expired(codec, key, now) {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) => {
                    // The directory itself gone is the store's failure, not the file's.
                    fs::metadata(&self.dir)?;
                    tracing::warn!(
                        session = %key::log_tag(key),
                        error = %e,
                        "could not clear a session file; skipping it"
                    );
                }
            }
        }
        Ok((removed, false))
    }

    /// Deletes `key`'s file if it is expired at `now`. Looked at first
    /// without the lock (most files are live, so most need no lock), then
    /// again under it, so a file a save has just rewritten is never deleted.
    fn remove_if_expired(&self, codec: &Codec, key: &str, now: OffsetDateTime) -> io::Result<bool> {
        let path = self.path(key)?;
        if !self.is_expired(codec, key, &path, now)? {
            return Ok(false);
        }
        let _held = self.locks.lock(key)?;
        if !self.is_expired(codec, key, &path, now)? {
            return Ok(false);
        }
        remove(&path)?;
        Ok(true)
    }

    fn is_expired(
        &self,
        codec: &Codec,
        key: &str,
        path: &Path,
        now: OffsetDateTime,
    ) -> io::Result<bool> {
        Ok(match self.read(key, path, false)? {
            Some(stored) => self.decode(codec, key, &stored, now).is_expired(now),
            None => false,
        })
    }

    /// The path of `key`'s file. Callers only pass accepted keys; this is the
    /// second line of defence, so no other string ever becomes a path.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        self.prefix
            .path(&self.dir, key)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a session key"))
    }

    /// Reads a session file; `None` when there is none, or when what sits
    /// at its name is not a regular file (see the module docs). A missing
    /// directory is an error, not a missing session: a store that is down
    /// must not look like a logout.
    fn read(&self, key: &str, path: &Path, writable: bool) -> io::Result<Option<Stored>> {
        let mut file = match open_entry(path, writable)? {
            Entry::File(file) => file,
            Entry::Missing => {
                fs::metadata(&self.dir)?;
                return Ok(None);
            }
            Entry::Foreign => {
                tracing::warn!(
                    session = %key::log_tag(key),
                    "something other than a session file sits at a session's name: no session"
                );
                return Ok(None);
            }
        };
        let meta = file.metadata()?;
        let mut content =
            Vec::with_capacity(usize::try_from(meta.len().min(MAX_FILE)).unwrap_or(0));
        // One byte past the cap tells a file at the cap from a larger one.
        Read::by_ref(&mut file)
            .take(MAX_FILE + 1)
            .read_to_end(&mut content)?;
        Ok(Some(Stored {
            file,
            content,
            mtime: meta.modified()?,
        }))
    }

    /// Decodes a file and works out its expiry. A corrupt file (bad
    /// signature, unknown key, bad JSON, non-ASCII bytes) is an empty dict
    /// that keeps its key, the engines' shared rule
    /// ([`engine::decode_or_empty`]); so is one larger than [`MAX_FILE`].
    /// An empty file is Django's placeholder between its create and its
    /// write: empty, not corrupt.
    fn decode(&self, codec: &Codec, key: &str, stored: &Stored, now: OffsetDateTime) -> Session {
        let data = if stored.content.is_empty() {
            SessionMap::new()
        } else if stored.content.len() as u64 > MAX_FILE {
            tracing::warn!(
                session = %key::log_tag(key),
                "session file larger than {MAX_FILE} bytes: loading it as an empty session"
            );
            SessionMap::new()
        } else {
            // Like the db engine: no max_age on the signature, expiry decides.
            engine::decode_or_empty(codec, ENGINE, key, &stored.content, None, now)
        };
        let rule = Rule::of(&data, self.cookie_age);
        let expires_at = from_system(stored.mtime).and_then(|mtime| rule.deadline(mtime));
        Session {
            data,
            rule,
            expires_at,
        }
    }

    /// A temp file beside the target, named as Django names its own
    /// (`<file name>_out_<random>`), mode 0600, holding `content` with its mtime set.
    fn write_temp(
        &self,
        key: &str,
        content: &[u8],
        mtime: SystemTime,
    ) -> io::Result<NamedTempFile> {
        let mut temp = tempfile::Builder::new()
            .prefix(&format!("{}_out_", self.prefix.file_name(key)))
            .rand_bytes(8)
            .tempfile_in(&self.dir)
            .map_err(scrub)?;
        // Through the plain `File`: its errors carry no path.
        temp.as_file_mut().write_all(content)?;
        temp.as_file().set_modified(mtime)?;
        Ok(temp)
    }
}

/// Unlinks a session's name. A directory planted there is no session, so
/// there is nothing to delete.
fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// What sits at a session file's name.
enum Entry {
    /// A regular file, open.
    File(File),
    /// Nothing.
    Missing,
    /// Something else: a symlink, a FIFO, a socket, a directory, a device.
    Foreign,
}

#[cfg(unix)]
fn open_entry(path: &Path, writable: bool) -> io::Result<Entry> {
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;

    let access = if writable {
        OFlags::RDWR
    } else {
        OFlags::RDONLY
    };
    let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => {
            let file = File::from(fd);
            Ok(if file.metadata()?.is_file() {
                Entry::File(file)
            } else {
                Entry::Foreign
            })
        }
        Err(Errno::NOENT) => Ok(Entry::Missing),
        // A symlink (`O_NOFOLLOW`), a socket, a directory opened to write.
        Err(Errno::LOOP | Errno::NXIO | Errno::ISDIR) => Ok(Entry::Foreign),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(unix))]
fn open_entry(path: &Path, writable: bool) -> io::Result<Entry> {
    match fs::OpenOptions::new().read(true).write(writable).open(path) {
        Ok(file) if file.metadata()?.is_file() => Ok(Entry::File(file)),
        Ok(_) => Ok(Entry::Foreign),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
        Err(e) => Err(e),
    }
}

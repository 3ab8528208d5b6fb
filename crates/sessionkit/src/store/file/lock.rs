//! Cross-process write locks: a fixed set of lock files, one per stripe of keys.
//!
//! A lock file per session would have to be deleted with its session, and a
//! lock file cannot be deleted safely while another process may be waiting
//! on it (the waiter then holds a lock on a file nobody else opens). So keys
//! hash onto [`STRIPES`] lock files that are never deleted: a bounded number
//! of files, in one hidden subdirectory that Django's and our
//! `clear_expired` both pass over. Two sessions of one stripe only serialize
//! their saves, which take microseconds.
//!
//! The locks are `flock`s (via `fs4`): held by an open file, so they exclude
//! other processes and other threads of this one alike (each lock opens the
//! file anew), and the kernel releases them when a process dies.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The subdirectory of the session directory that holds the lock files.
pub(super) const LOCK_DIR: &str = ".sessionkit-locks";

/// How many lock files, and so how many saves may run at once per directory.
const STRIPES: u8 = 64;

/// The longest pause between two tries for a busy lock. A holder keeps a
/// lock for microseconds, so most waits end at the first short pause.
const MAX_PAUSE: Duration = Duration::from_millis(5);

/// The lock files of one session directory.
#[derive(Debug)]
pub(super) struct Locks {
    dir: PathBuf,
    timeout: Duration,
}

/// An exclusive lock on one stripe, released on drop (closing the file).
#[derive(Debug)]
pub(super) struct Held {
    _file: File,
}

/// A lock not got within the store's lock timeout: someone holds it (a
/// stuck process, or another user who planted and locked the file).
#[derive(Debug, thiserror::Error)]
#[error("a session lock stayed busy for {0:?}")]
struct Busy(Duration);

impl Locks {
    pub(super) fn new(session_dir: &Path, timeout: Duration) -> Self {
        Self {
            dir: session_dir.join(LOCK_DIR),
            timeout,
        }
    }

    /// Waits until this thread holds the lock of `key`'s stripe, at most the
    /// lock timeout: then [`io::ErrorKind::TimedOut`] (the store answers
    /// `Unavailable`). `flock` itself has no deadline, so it is tried
    /// without blocking, with growing pauses in between.
    pub(super) fn lock(&self, key: &str) -> io::Result<Held> {
        // A stable hash: every process, whatever it was built with, must map
        // a key to the same file.
        let stripe = Sha256::digest(key.as_bytes())[0] % STRIPES;
        let file = imp::open(&self.dir, &format!("{stripe:02}"))?;
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_micros(50);
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(Held { _file: file }),
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(fs4::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Interrupted => {
                    continue
                }
                Err(fs4::TryLockError::Error(e)) => return Err(e),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, Busy(self.timeout)));
            }
            thread::sleep(pause.min(left));
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

#[cfg(unix)]
mod imp {
    //! Opened without following symlinks, relative to the lock directory's
    //! own descriptor, and only files of this user: a lock file someone else
    //! planted (and may hold for ever) is an error, not a lock.

    use std::fs::File;
    use std::io;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use rustix::fs::{Mode, OFlags};

    use super::super::dirs::euid;

    pub(super) fn open(dir: &Path, name: &str) -> io::Result<File> {
        let dir = match open_dir(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // First use of the directory, or someone removed the lock
                // directory: make it again (missing session directory: error).
                create_dir(dir)?;
                open_dir(dir)?
            }
            other => other?,
        };
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(0o600))?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.is_file() || meta.uid() != euid() {
            return Err(not_ours("a lock file is not a regular file of this user"));
        }
        Ok(file)
    }

    fn open_dir(path: &Path) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let dir = File::from(rustix::fs::open(path, flags, Mode::empty())?);
        let meta = dir.metadata()?;
        if meta.uid() != euid() || meta.mode() & 0o022 != 0 {
            return Err(not_ours(
                "the lock directory belongs to another user or others can write to it",
            ));
        }
        Ok(dir)
    }

    fn create_dir(path: &Path) -> io::Result<()> {
        match rustix::fs::mkdir(path, Mode::from_raw_mode(0o700)) {
            Err(rustix::io::Errno::EXIST) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Planted by someone else, or a symlink (`ELOOP` from `O_NOFOLLOW`,
    /// `ENOTDIR` for a file where the directory should be).
    fn not_ours(what: &'static str) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, what)
    }
}

#[cfg(not(unix))]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::path::Path;

    pub(super) fn open(dir: &Path, name: &str) -> io::Result<File> {
        let path = dir.join(name);
        let open = || {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        };
        match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match std::fs::create_dir(dir) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => {}
                }
                open()
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn excludes_other_threads_and_stays_bounded() {
        let dir = tempfile::TempDir::new().unwrap();
        let locks = Arc::new(Locks::new(dir.path(), Duration::from_secs(5)));
        let held = locks.lock("abcdefgh").unwrap();
        let inside = Arc::new(AtomicBool::new(false));
        let waiter = std::thread::spawn({
            let (locks, inside) = (locks.clone(), inside.clone());
            move || {
                let _held = locks.lock("abcdefgh").unwrap();
                inside.store(true, Ordering::SeqCst);
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!inside.load(Ordering::SeqCst), "the lock did not exclude");
        drop(held);
        waiter.join().unwrap();
        assert!(inside.load(Ordering::SeqCst));

        for i in 0..1000 {
            drop(locks.lock(&format!("key{i:08}")).unwrap());
        }
        let files = std::fs::read_dir(dir.path().join(LOCK_DIR))
            .unwrap()
            .count();
        assert!(files <= usize::from(STRIPES), "{files} lock files");
    }

    #[test]
    fn a_missing_session_directory_is_an_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let locks = Locks::new(&dir.path().join("gone"), Duration::from_secs(5));
        assert_eq!(
            locks.lock("abcdefgh").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}

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

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The subdirectory of the session directory that holds the lock files.
pub(super) const LOCK_DIR: &str = ".sessionkit-locks";

/// How many lock files, and so how many saves may run at once per directory.
const STRIPES: u8 = 64;

/// The lock files of one session directory.
#[derive(Debug)]
pub(super) struct Locks {
    dir: PathBuf,
}

/// An exclusive lock on one stripe, released on drop (closing the file).
#[derive(Debug)]
pub(super) struct Held {
    _file: File,
}

impl Locks {
    pub(super) fn new(session_dir: &Path) -> Self {
        Self {
            dir: session_dir.join(LOCK_DIR),
        }
    }

    /// Blocks until this thread holds the lock of `key`'s stripe.
    pub(super) fn lock(&self, key: &str) -> io::Result<Held> {
        // A stable hash: every process, whatever it was built with, must map
        // a key to the same file.
        let stripe = Sha256::digest(key.as_bytes())[0] % STRIPES;
        let path = self.dir.join(format!("{stripe:02}"));
        let file = match open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // First use of the directory, or someone removed the lock
                // directory: make it again (missing session directory: error).
                create_dir(&self.dir)?;
                open(&path)?
            }
            other => other?,
        };
        loop {
            match fs4::FileExt::lock(&file) {
                Ok(()) => return Ok(Held { _file: file }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
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
        let locks = Arc::new(Locks::new(dir.path()));
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
        let locks = Locks::new(&dir.path().join("gone"));
        assert_eq!(
            locks.lock("abcdefgh").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}

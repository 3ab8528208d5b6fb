//! Which session directories the store trusts, and the private default one.
//!
//! A session's key is its file's name, so whoever can list the directory
//! holds every live session, and whoever can create entries in it can plant
//! FIFOs, symlinks or lock files where the store expects its own (security
//! review M1). Django uses the shared temp dir as is. sessionkit refuses a
//! directory other users can write to, or that belongs to another user,
//! unless told it is shared on purpose
//! ([`FileOptions::allow_shared_dir`](super::FileOptions::allow_shared_dir)).
//! One other users can only read, or one shared with a group, is used with
//! a warning: that is what `mkdir` makes under the usual umask (0755), and
//! a Django app running as another user of one group is a real deployment;
//! refusing them would break working setups on upgrade for a risk the
//! warning names.

use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// The default session directory, `<temp dir>/sessionkit-<uid>`, created
/// 0700 if missing.
pub(super) fn private_temp_dir() -> Result<PathBuf, StoreError> {
    private_dir_in(&std::env::temp_dir())
}

/// Checks a configured session directory: it must exist and be a directory;
/// one other users can write to, or owned by another user (root aside), is
/// refused unless `shared_ok`, and then only warned about. Read access for
/// others or any group access is warned about.
pub(super) fn check(dir: &Path, shared_ok: bool) -> Result<(), StoreError> {
    if !dir.is_dir() {
        return Err(StoreError::Config(format!(
            "the session directory {} does not exist or is not a directory",
            dir.display()
        )));
    }
    imp::check_access(dir, shared_ok)
}

#[cfg(unix)]
use imp::private_dir_in;

#[cfg(unix)]
pub(super) use imp::euid;

#[cfg(not(unix))]
fn private_dir_in(parent: &Path) -> Result<PathBuf, StoreError> {
    // No owners or modes to check: the temp dir is per user on Windows.
    let dir = parent.join("sessionkit");
    match std::fs::create_dir(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(StoreError::Config(format!(
                "could not create the session directory {}: {e}",
                dir.display()
            )))
        }
        _ => Ok(dir),
    }
}

#[cfg(unix)]
mod imp {
    use std::fs::{self, DirBuilder, Permissions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    use crate::error::StoreError;

    /// Others may create entries (plant FIFOs, symlinks, lock files).
    const OTHERS_WRITE: u32 = 0o002;
    /// Others may list the directory, and so every session key. Others'
    /// search bit (`x`) alone is harmless: it opens only names already
    /// known, and session files are 0600.
    const OTHERS_READ: u32 = 0o004;
    const GROUP_ANY: u32 = 0o070;

    /// This process's effective user id: the owner of what it creates.
    pub(in super::super) fn euid() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    pub(super) fn private_dir_in(parent: &Path) -> Result<PathBuf, StoreError> {
        let uid = euid();
        let dir = parent.join(format!("sessionkit-{uid}"));
        let config = |why: String| StoreError::Config(format!("{}: {why}", dir.display()));
        match DirBuilder::new().mode(0o700).create(&dir) {
            // The umask may have taken bits off (even the owner's).
            Ok(()) => fs::set_permissions(&dir, Permissions::from_mode(0o700))
                .map_err(|e| config(format!("could not set its mode to 0700: {e}")))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(config(format!("could not create it: {e}"))),
        }
        // Not followed: in a shared temp dir anyone can plant a symlink here.
        let meta =
            fs::symlink_metadata(&dir).map_err(|e| config(format!("could not inspect it: {e}")))?;
        if !meta.file_type().is_dir() {
            return Err(config(
                "it is not a directory (another user may have planted it); remove it".into(),
            ));
        }
        if meta.uid() != uid {
            return Err(config(format!(
                "it belongs to uid {}, not to this user (uid {uid}); remove it",
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            // Not repaired in place: others may have listed or planted
            // entries while it was open.
            return Err(config(format!(
                "its mode is {:o}, open to other users; remove it or make it 0700",
                meta.mode() & 0o7777
            )));
        }
        Ok(dir)
    }

    pub(super) fn check_access(dir: &Path, shared_ok: bool) -> Result<(), StoreError> {
        let meta = fs::metadata(dir)
            .map_err(|e| StoreError::Config(format!("could not inspect {}: {e}", dir.display())))?;
        let (mode, owner, me) = (meta.mode() & 0o7777, meta.uid(), euid());
        let mut problems = Vec::new();
        if owner != me && owner != 0 {
            problems.push(format!("it belongs to another user (uid {owner})"));
        }
        if mode & OTHERS_WRITE != 0 {
            problems.push(format!(
                "other users can create entries in it (mode {mode:o})"
            ));
        }
        if !problems.is_empty() {
            let problems = problems.join("; ");
            if !shared_ok {
                return Err(StoreError::Config(format!(
                    "the session directory {} is not private: {problems}. Use a directory of \
                     this user's with mode 0700 (or 0770 for a group shared with Django), or \
                     FileOptions::allow_shared_dir if sharing it is intended",
                    dir.display()
                )));
            }
            tracing::warn!(dir = %dir.display(), "the session directory is not private: {problems}");
        }
        if mode & OTHERS_READ != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format_args!("{mode:o}"),
                "the session directory is not private: every local user can list it, and a \
                 session's key is its file's name (make it 0700)"
            );
        } else if mode & GROUP_ANY != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format_args!("{mode:o}"),
                "members of the session directory's group can read session keys or plant files"
            );
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn mode_of(path: &Path) -> u32 {
            fs::symlink_metadata(path).unwrap().mode() & 0o7777
        }

        #[test]
        fn the_private_dir_is_made_0700_and_reused() {
            let parent = tempfile::TempDir::new().unwrap();
            let dir = private_dir_in(parent.path()).unwrap();
            assert_eq!(dir, parent.path().join(format!("sessionkit-{}", euid())));
            assert_eq!(mode_of(&dir), 0o700);
            assert_eq!(private_dir_in(parent.path()).unwrap(), dir, "reused");
        }

        #[test]
        fn a_planted_or_open_private_dir_is_refused() {
            let parent = tempfile::TempDir::new().unwrap();
            let name = parent.path().join(format!("sessionkit-{}", euid()));
            let elsewhere = tempfile::TempDir::new().unwrap();
            std::os::unix::fs::symlink(elsewhere.path(), &name).unwrap();
            let err = private_dir_in(parent.path()).unwrap_err();
            assert!(matches!(err, StoreError::Config(_)), "{err:?}");
            fs::remove_file(&name).unwrap();

            fs::write(&name, "").unwrap();
            assert!(private_dir_in(parent.path()).is_err(), "a file");
            fs::remove_file(&name).unwrap();

            fs::create_dir(&name).unwrap();
            fs::set_permissions(&name, Permissions::from_mode(0o755)).unwrap();
            assert!(private_dir_in(parent.path()).is_err(), "mode 755");
            assert_eq!(mode_of(&name), 0o755, "left for the operator to look at");
        }

        #[test]
        fn shared_dirs_pass_only_when_allowed() {
            let dir = tempfile::TempDir::new().unwrap();
            fs::set_permissions(dir.path(), Permissions::from_mode(0o1777)).unwrap();
            let err = check_access(dir.path(), false).unwrap_err();
            assert!(matches!(err, StoreError::Config(_)), "{err:?}");
            assert!(check_access(dir.path(), true).is_ok());
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::path::Path;

    use crate::error::StoreError;

    pub(super) fn check_access(_dir: &Path, _shared_ok: bool) -> Result<(), StoreError> {
        Ok(())
    }
}

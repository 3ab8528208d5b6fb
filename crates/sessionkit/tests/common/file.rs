//! Helpers for the file engine's tests: a store on a directory, records,
//! and what is in the directory.

use std::fs;
use std::path::Path;
use std::time::{Duration as StdDuration, SystemTime};

use sessionkit::store::file::FileStore;
use sessionkit::store::Record;
use time::macros::datetime;
use time::OffsetDateTime;

/// The tests' clock, with microseconds so rounding shows.
pub(crate) const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

/// A store on `dir` with Django's defaults, signing with [`super::SECRET`].
pub(crate) fn store(dir: &Path) -> FileStore {
    FileStore::open(dir)
        .expect("a store on a private directory")
        .with_codec(super::codec())
}

/// A record of `value`'s data expiring at `expires_at`.
pub(crate) fn record(value: serde_json::Value, expires_at: OffsetDateTime) -> Record {
    Record::new(super::data(value), expires_at)
}

/// Names in `dir`, sorted.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list the directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Whether this file system keeps mtimes to the microsecond: then a load
/// gives back `expires_at` exactly, as the suite's `exact_expiry` checks.
pub(crate) fn microsecond_mtimes(dir: &Path) -> bool {
    let path = dir.join("mtime-probe");
    let file = fs::File::create(&path).expect("probe file");
    let t = SystemTime::UNIX_EPOCH + StdDuration::new(1_700_000_000, 123_456_000);
    file.set_modified(t).expect("set the probe's mtime");
    let back = fs::metadata(&path).and_then(|m| m.modified()).ok();
    fs::remove_file(&path).expect("remove the probe");
    back == Some(t)
}

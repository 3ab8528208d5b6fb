//! The file engine's load + compare-and-set save round trip, on a temp
//! directory (see `common::round_trip`). Run it beside `stores` for a
//! same-run comparison with the in-process and SQLite engines.
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use sessionkit::store::file::FileStore;

/// Django's file layout in a fresh temp directory (on this machine's temp
/// file system), as `FileStore::open` opens it.
fn file(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().expect("a temp dir");
    let store = FileStore::open(dir.path())
        .expect("open the directory")
        .with_codec(common::codec());
    let rt = common::runtime();
    common::round_trip(c, &rt, "file", Arc::new(store));
}

criterion_group!(benches, file);
criterion_main!(benches);

//! Helpers shared by the integration tests: where Django's vectors live, and
//! whether a test that needs a server may skip.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/django-vectors` beside the repository root. Fails loudly when
/// missing: the vectors are the proof of Django compatibility.
pub(crate) fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/django-vectors");
    assert!(
        dir.join("signing.json").is_file(),
        "Django vectors not found at {}: the repository must sit beside ../shared",
        dir.display()
    );
    dir
}

/// A vectors file parsed as JSON.
pub(crate) fn vectors(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

/// Whether `SESSIONKIT_REQUIRE_SERVICES=1`: then a missing server fails the test.
pub(crate) fn services_required() -> bool {
    std::env::var("SESSIONKIT_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Parses Python's `datetime.isoformat()` output (with offset) as used in the vectors.
pub(crate) fn iso(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("bad ISO datetime {s:?}: {e}"))
}

#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) mod app;
#[cfg(all(feature = "sqlite", feature = "memory"))]
pub(crate) mod cached_db;
#[cfg(all(feature = "sqlite", feature = "memory"))]
pub(crate) mod cached_db_rig;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) mod db;
#[cfg(feature = "memory")]
pub(crate) mod faulty;
#[cfg(feature = "file")]
pub(crate) mod file;
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) mod http;
pub(crate) mod interleave;
pub(crate) mod logs;
#[cfg(feature = "memcached")]
pub(crate) mod memcached;
pub(crate) mod proxy;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod replay;
pub(crate) mod services;

/// A strong test secret (not the vectors' one).
pub(crate) const SECRET: &str =
    "sessionkit-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF";

/// The sessions codec of a config with [`SECRET`].
pub(crate) fn codec() -> sessionkit::signing::Codec {
    sessionkit::SessionConfig::new(SECRET)
        .expect("a valid test config")
        .codec()
}

/// A JSON object as session data (anything else: empty).
pub(crate) fn data(value: serde_json::Value) -> sessionkit::store::SessionMap {
    value.as_object().cloned().unwrap_or_default()
}

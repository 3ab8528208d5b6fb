//! What the engines on a shared cache server (Redis, Memcached) have in
//! common: Django's logical keys, and the rules of a `cached_db` cache entry
//! whatever its framing (a Redis hash, a memcached value). Kept in one place
//! so the two caches cannot drift apart on what they trust or write.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use time::OffsetDateTime;

use crate::key;
use crate::signing::Codec;
use crate::store::cached_db::{keep_until, CacheEntry};
use crate::store::{Record, Version};

/// Django's logical cache key prefix of its cache session engine
/// (`django.contrib.sessions.cache` + session key).
pub(crate) const DJANGO_CACHE_KEY_PREFIX: &str = "django.contrib.sessions.cache";

/// Django's logical cache key prefix of its `cached_db` engine
/// (`django.contrib.sessions.cached_db` + session key). A session key has no
/// `_`, so no key of the cache engine can spell one of these.
pub(crate) const DJANGO_CACHED_DB_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// How long a delete holds off later sets of the same key in a shared
/// `cached_db` cache (Redis or Memcached), unless its `with_hold_off` says
/// otherwise.
pub const DEFAULT_HOLD_OFF: Duration = Duration::from_secs(10);

/// `<prefix><space><session key>`: the server key of a session.
pub(crate) fn server_key(prefix: &str, space: &str, session_key: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + space.len() + session_key.len());
    out.push_str(prefix);
    out.push_str(space);
    out.push_str(session_key);
    out
}

/// A cache entry's parts as read back, before they are trusted.
pub(crate) struct Stored<'a> {
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) cached_at: OffsetDateTime,
    /// The db version as stored: URL-safe base64 without padding.
    pub(crate) db_version: &'a [u8],
    pub(crate) signed: &'a [u8],
}

/// What a read entry is: `Ok(None)` a miss (expired: the server drops it at
/// its TTL), `Ok(Some)` a hit, `Err(why)` an entry not to be trusted, which
/// the cache logs ([`distrust`]) and removes.
pub(crate) fn read(
    codec: &Codec,
    stored: &Stored<'_>,
    now: OffsetDateTime,
) -> Result<Option<CacheEntry>, &'static str> {
    if stored.expires_at <= now {
        return Ok(None);
    }
    let db_version = URL_SAFE_NO_PAD
        .decode(stored.db_version)
        .map_err(|_| "unreadable db version")?;
    // The signature covers the data; the entry's expiry decides, not the
    // signature's age.
    let data = std::str::from_utf8(stored.signed)
        .ok()
        .and_then(|text| codec.decode(text, None, now).ok())
        .ok_or("bad signature")?;
    Ok(Some(CacheEntry {
        record: Record::new(data.data, stored.expires_at),
        db_version: Version::new(db_version),
        cached_at: stored.cached_at,
    }))
}

/// Logs an entry the cache will not serve, by the session key's log tag only.
pub(crate) fn distrust(engine: &'static str, session_key: &str, why: &'static str) {
    tracing::warn!(
        session = %key::log_tag(session_key),
        engine,
        reason = why,
        "cached session entry not trusted: deleting it and reading the db"
    );
}

/// The parts of an entry a `set` writes.
pub(crate) struct Fresh {
    /// The session signed the Django way.
    pub(crate) signed: String,
    pub(crate) expires_at: OffsetDateTime,
    /// The db version, URL-safe base64 without padding (its bytes are
    /// opaque; this alphabet has no `:`).
    pub(crate) db_version: String,
    /// When the server may drop the entry: the session's expiry or the end
    /// of the entry's max age, whichever comes first (always after `now`).
    pub(crate) keep_until: OffsetDateTime,
}

/// The entry a `set` writes, or `None` when it deletes instead: a version
/// that asks for a rewrite would lose that mark in the entry (without one,
/// every load asks the db and gets it), and a record expired or to be kept
/// for no time is of no use cached.
pub(crate) fn fresh(
    codec: &Codec,
    record: &Record,
    db_version: &Version,
    now: OffsetDateTime,
    max_age: Duration,
) -> Option<Fresh> {
    if db_version.must_rewrite() {
        return None;
    }
    let keep_until = keep_until(record.expires_at, now, max_age);
    if keep_until <= now {
        return None;
    }
    Some(Fresh {
        signed: codec.encode(&record.data, now),
        expires_at: record.expires_at,
        db_version: URL_SAFE_NO_PAD.encode(db_version.as_bytes()),
        keep_until,
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::config::SessionConfig;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789012 UTC);

    fn codec() -> Codec {
        SessionConfig::new("cache-entry-test-secret-0123456789-abcdefghijklmnop")
            .expect("a valid config")
            .codec()
    }

    #[test]
    fn the_key_spaces_never_meet() {
        // A session key is `[a-z0-9]`: no engine key can spell `d_db…`.
        assert!(DJANGO_CACHED_DB_KEY_PREFIX.starts_with(DJANGO_CACHE_KEY_PREFIX));
        assert!(DJANGO_CACHED_DB_KEY_PREFIX[DJANGO_CACHE_KEY_PREFIX.len()..].contains('_'));
        assert_eq!(
            server_key("p:", DJANGO_CACHE_KEY_PREFIX, "abc"),
            "p:django.contrib.sessions.cacheabc"
        );
    }

    #[test]
    fn a_fresh_entry_reads_back_with_any_version_bytes() {
        let codec = codec();
        let mut data = crate::store::SessionMap::new();
        data.insert("visit".into(), 3.into());
        let record = Record::new(data, NOW + time::Duration::hours(1));
        for bytes in [&b""[..], b"\x00\xff:\n \r", &[b'v'; 300]] {
            let version = Version::new(bytes.to_vec());
            let fresh = fresh(&codec, &record, &version, NOW, DEFAULT_HOLD_OFF).expect("written");
            assert_eq!(fresh.keep_until, NOW + time::Duration::seconds(10));
            let stored = Stored {
                expires_at: fresh.expires_at,
                cached_at: NOW,
                db_version: fresh.db_version.as_bytes(),
                signed: fresh.signed.as_bytes(),
            };
            let entry = read(&codec, &stored, NOW).expect("trusted").expect("live");
            assert_eq!(entry.record, record);
            assert_eq!(entry.db_version, version);
            assert_eq!(entry.cached_at, NOW);
            assert_eq!(read(&codec, &stored, record.expires_at).ok(), Some(None));
        }
    }

    #[test]
    fn untrusted_entries_say_why() {
        let codec = codec();
        let signed = codec.encode(&crate::store::SessionMap::new(), NOW);
        let later = NOW + time::Duration::hours(1);
        let entry = |db_version: &'static [u8], signed: &'static [u8]| {
            let stored = Stored {
                expires_at: later,
                cached_at: NOW,
                db_version,
                signed,
            };
            read(&codec, &stored, NOW).err()
        };
        assert_eq!(entry(b"***", b"x"), Some("unreadable db version"));
        assert_eq!(entry(b"AA=", b"x"), Some("unreadable db version"));
        assert_eq!(entry(b"AAAA", b"not signed"), Some("bad signature"));
        assert_eq!(entry(b"AAAA", b"\xff\xfe"), Some("bad signature"));
        let good = Stored {
            expires_at: later,
            cached_at: NOW,
            db_version: b"AAAA",
            signed: signed.as_bytes(),
        };
        assert!(matches!(read(&codec, &good, NOW), Ok(Some(_))));
    }

    #[test]
    fn nothing_is_written_that_could_not_be_served() {
        let codec = codec();
        let record = Record::new(crate::store::SessionMap::new(), NOW);
        let version = Version::new(b"v".to_vec());
        assert!(fresh(&codec, &record, &version, NOW, DEFAULT_HOLD_OFF).is_none());
        let live = Record::new(record.data.clone(), NOW + time::Duration::hours(1));
        assert!(fresh(&codec, &live, &version, NOW, Duration::ZERO).is_none());
        let rewrite = Version::rewrite(b"v".to_vec());
        assert!(fresh(&codec, &live, &rewrite, NOW, DEFAULT_HOLD_OFF).is_none());
    }
}

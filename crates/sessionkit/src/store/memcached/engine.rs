//! The store contract on memcached entries: load, create, compare-and-set
//! save, touch, delete (see the module docs for the entry format and the
//! versions).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::commands::{Item, Mode, Reply};
use super::entry::{self, Token};
use super::error::Unexpected;
use super::{MemcachedStore, ENGINE, UNIQUE_CHASES};
use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::key;
use crate::store::engine;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionMap, SessionStore, Version};

impl MemcachedStore {
    /// The outcome of a save whose version this engine never made: it can
    /// match nothing, so only whether there is an entry matters.
    async fn unmatched(&self, full_key: &str) -> Result<SaveOutcome, StoreError> {
        Ok(match self.server.get(full_key).await? {
            Some(_) => SaveOutcome::Conflict,
            None => SaveOutcome::Gone,
        })
    }

    /// Writes `value` (or deletes, for an expired record) if the entry still
    /// has the unique `cas`.
    async fn write_if(&self, full_key: &str, write: &Write, cas: u64) -> Result<Reply, StoreError> {
        match write {
            Write::Value { bytes, exptime } => {
                let reply = self
                    .server
                    .set(full_key, bytes, *exptime, Mode::Cas(cas))
                    .await?;
                self.refuse_too_large(reply, bytes.len())
            }
            Write::Delete => self.server.delete(full_key, Some(cas)).await,
        }
    }

    /// Turns a server's size refusal into [`StoreError::TooLarge`].
    fn refuse_too_large(&self, reply: Reply, size: usize) -> Result<Reply, StoreError> {
        match reply {
            Reply::TooLarge => Err(self.too_large(size)),
            other => Ok(other),
        }
    }
}

/// What a save or touch puts in place of the current entry.
enum Write {
    Value {
        bytes: Vec<u8>,
        exptime: i64,
    },
    /// The new expiry has passed: the entry goes.
    Delete,
}

impl Write {
    fn new(expires_at: OffsetDateTime, signed: &[u8], now: OffsetDateTime) -> Self {
        match entry::exptime(expires_at, now, wall_clock()) {
            Some(exptime) => Self::Value {
                bytes: entry::encode(expires_at, signed),
                exptime,
            },
            None => Self::Delete,
        }
    }
}

/// The real clock's Unix time, which memcached's absolute TTLs count on.
fn wall_clock() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A reply the command cannot have, as an error.
fn unexpected(command: &'static str, reply: &Reply) -> StoreError {
    StoreError::Backend(Box::new(Unexpected {
        command,
        reply: format!("{reply:?}"),
    }))
}

/// Whether an entry read back is still live at `now`. One whose expiry is
/// unreadable is live as long as memcached keeps it.
fn live(item: &Item, now: OffsetDateTime) -> bool {
    entry::parse(&item.value).expires_at.is_none_or(|t| t > now)
}

#[async_trait]
impl SessionStore for MemcachedStore {
    fn engine_name(&self) -> &'static str {
        "memcached"
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        // A key we never issue has no entry; and its bytes (a space, a CR LF)
        // must never reach the text protocol, where they would be commands.
        if !key::is_valid_key(key) {
            return Ok(None);
        }
        let codec = self.codec()?;
        let Some(item) = self.server.get(&self.full_key(key)).await? else {
            return Ok(None);
        };
        let entry = entry::parse(&item.value);
        let expires_at = match entry.expires_at {
            Some(t) => t,
            None => {
                tracing::warn!(
                    session = %key::log_tag(key),
                    engine = ENGINE,
                    "memcached entry without a readable expiry: loading it as an empty session"
                );
                entry::fallback_expiry(item.ttl, now)
            }
        };
        if expires_at <= now {
            // Memcached drops it at its TTL, a second or so later.
            return Ok(None);
        }
        let data = match entry.expires_at {
            // No max age on the signature: the entry's expiry decides.
            Some(_) => engine::decode_or_empty(codec, ENGINE, key, entry.signed, None, now),
            None => SessionMap::new(),
        };
        Ok(Some(Loaded {
            record: Record::new(data, expires_at),
            version: Token::new(item.cas, entry.signed).to_version(),
        }))
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let signed = self.codec()?.encode(&record.data, now);
        let write = Write::new(record.expires_at, signed.as_bytes(), now);
        let Write::Value { bytes, exptime } = write else {
            // Already expired: there is nothing to keep, and the key will
            // never load. Nothing is written.
            return Ok(Saved {
                cookie_value: key::generate_key(),
                version: Token::new(0, signed.as_bytes()).to_version(),
            });
        };
        let (bytes, signed) = (&bytes, signed.as_bytes());
        engine::with_fresh_key(|key| async move {
            let reply = self
                .server
                .set(&self.full_key(&key), bytes, exptime, Mode::Add)
                .await?;
            match self.refuse_too_large(reply, bytes.len())? {
                Reply::Done { cas } => Ok(Some(Saved {
                    cookie_value: key,
                    version: Token::new(cas, signed).to_version(),
                })),
                // Taken: draw another key.
                Reply::NotStored | Reply::Exists => Ok(None),
                other @ (Reply::NotFound | Reply::TooLarge) => Err(unexpected("ms (add)", &other)),
            }
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
        let full_key = self.full_key(key);
        let Some(expected) = Token::from_version(expected) else {
            return self.unmatched(&full_key).await;
        };
        let signed = self.codec()?.encode(&record.data, now);
        let write = Write::new(record.expires_at, signed.as_bytes(), now);
        let saved = |cas| {
            SaveOutcome::Saved(Saved {
                cookie_value: key.to_owned(),
                version: Token::new(cas, signed.as_bytes()).to_version(),
            })
        };

        // 0: the unique is unknown (a version from a write that did not get
        // one back); go straight to comparing the session.
        let mut cas = expected.cas;
        for _ in 0..UNIQUE_CHASES {
            if cas != 0 {
                match self.write_if(&full_key, &write, cas).await? {
                    Reply::Done { cas } => return Ok(saved(cas)),
                    Reply::NotFound => return Ok(SaveOutcome::Gone),
                    Reply::Exists => {}
                    other => return Err(unexpected("ms (cas)", &other)),
                }
            }
            // The unique moved. If only the expiry did (a touch), the session
            // is still the one the caller loaded and the save may go ahead.
            let Some(item) = self.server.get(&full_key).await? else {
                return Ok(SaveOutcome::Gone);
            };
            if !live(&item, now) {
                return Ok(SaveOutcome::Gone);
            }
            if entry::digest(entry::parse(&item.value).signed) != expected.digest {
                return Ok(SaveOutcome::Conflict);
            }
            cas = item.cas;
        }
        // Still racing with writers of the same session: let the caller
        // reload and retry.
        Ok(SaveOutcome::Conflict)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !key::is_valid_key(key) {
            return Ok(());
        }
        match self.server.delete(&self.full_key(key), None).await? {
            Reply::Done { .. } | Reply::NotFound => Ok(()),
            other => Err(unexpected("md", &other)),
        }
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
        let full_key = self.full_key(key);
        // A version this engine never made matches no entry: only a missing
        // or expired one counts as gone.
        let Some(expected) = Token::from_version(expected) else {
            return Ok(self
                .server
                .get(&full_key)
                .await?
                .is_none_or(|item| !live(&item, now)));
        };
        // As in `save`: the unique decides at once, and when it moved, a
        // touch (same signed part) must not keep the record alive.
        let mut cas = expected.cas;
        for _ in 0..UNIQUE_CHASES {
            if cas != 0 {
                match self.server.delete(&full_key, Some(cas)).await? {
                    Reply::Done { .. } | Reply::NotFound => return Ok(true),
                    Reply::Exists => {}
                    other => return Err(unexpected("md (cas)", &other)),
                }
            }
            let Some(item) = self.server.get(&full_key).await? else {
                return Ok(true);
            };
            if !live(&item, now) {
                return Ok(true);
            }
            if entry::digest(entry::parse(&item.value).signed) != expected.digest {
                return Ok(false);
            }
            cas = item.cas;
        }
        // Touches kept moving the unique; the session is the one expected,
        // but deleting it is not proven: the caller keeps the record.
        Ok(false)
    }

    async fn clear_expired(&self, _now: OffsetDateTime) -> Result<u64, StoreError> {
        // Memcached drops entries at their TTL by itself.
        Ok(0)
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
        let full_key = self.full_key(key);
        for _ in 0..UNIQUE_CHASES {
            let Some(item) = self.server.get(&full_key).await? else {
                return Ok(false);
            };
            if !live(&item, now) {
                return Ok(false);
            }
            // The expiry lives in the value, so a touch rewrites the entry
            // with the same signed bytes; memcached's own `touch` would move
            // only the TTL.
            let write = Write::new(expires_at, entry::parse(&item.value).signed, now);
            match self.write_if(&full_key, &write, item.cas).await? {
                Reply::Done { .. } => return Ok(true),
                Reply::NotFound => return Ok(false),
                Reply::Exists => {}
                other => return Err(unexpected("ms (touch)", &other)),
            }
        }
        // Writers kept winning; each wrote its own expiry, which wins over a
        // touch anyway. The record is live.
        Ok(true)
    }

    fn attach(&self, config: &SessionConfig) {
        self.keys.attach(config);
    }
}

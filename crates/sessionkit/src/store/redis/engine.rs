//! The store contract on Redis hashes: load, create, compare-and-set save,
//! touch, delete (see the module docs for the entry layout and the scripts).

use ::redis::cmd;
use async_trait::async_trait;
use time::OffsetDateTime;

use super::error::{from_redis, is_wrong_type};
use super::reply::{self, Cas};
use super::{expiry, nonce, script, RedisStore, DATA_FIELD, ENGINE, EXPIRY_FIELD};
use crate::config::SessionConfig;
use crate::error::StoreError;
use crate::key;
use crate::store::engine;
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};

#[async_trait]
impl SessionStore for RedisStore {
    fn engine_name(&self) -> &'static str {
        "redis"
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        let codec = self.codec()?;
        let mut hmget = cmd("HMGET");
        hmget
            .arg(self.redis_key(key))
            .arg(DATA_FIELD)
            .arg(EXPIRY_FIELD);
        let found = match self.conn.query(&hmget).await {
            Ok(found) => found,
            Err(e) if is_wrong_type(&e) => {
                // Someone else's value under our key: not a session to adopt,
                // and no reason to fail every request that carries this key.
                tracing::warn!(
                    session = %key::log_tag(key),
                    engine = ENGINE,
                    "session key holds a value that is not a session entry: ignoring it"
                );
                return Ok(None);
            }
            Err(e) => return Err(from_redis(e)),
        };
        let fields = reply::fields(found)?;
        let Some(stored) = fields.data else {
            return Ok(None);
        };
        let Some(expires_at) = fields.expire_date.as_deref().and_then(expiry::from_micros) else {
            // Without a readable expiry nothing says the session is still
            // valid: fail closed, as the db engine does.
            tracing::warn!(
                session = %key::log_tag(key),
                engine = ENGINE,
                "session expire_date unreadable: treating the session as expired"
            );
            return Ok(None);
        };
        if expires_at <= now {
            return Ok(None);
        }
        // `expire_date` decides expiry; the signature's age does not.
        let data = engine::decode_or_empty(codec, ENGINE, key, &stored, None, now);
        Ok(Some(Loaded {
            record: Record::new(data, expires_at),
            version: Version::new(stored),
        }))
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let data = self.codec()?.encode(&record.data, now);
        let Some(ttl) = expiry::ttl_ms(record.expires_at, now) else {
            // Already expired: nothing is written, and the key never loads.
            return Ok(Saved {
                cookie_value: key::generate_key(),
                version: Version::new(data),
            });
        };
        let expires = expiry::to_micros(record.expires_at).to_string();
        let ttl = ttl.to_string();
        let args = [data.as_bytes(), expires.as_bytes(), ttl.as_bytes()];
        let cookie_value = engine::with_fresh_key(|key| async move {
            let nonce = nonce();
            let written = script::CREATE
                .run(
                    &self.conn,
                    self.redis_key(&key).as_bytes(),
                    &[args[0], args[1], args[2], nonce.as_bytes()],
                )
                .await
                .map_err(from_redis)?;
            Ok(reply::flag(&written, "the create script")?.then_some(key))
        })
        .await?;
        Ok(Saved {
            cookie_value,
            version: Version::new(data),
        })
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let data = self.codec()?.encode(&record.data, now);
        let expires = expiry::to_micros(record.expires_at).to_string();
        // `0` tells the script to delete: an expiry in the past ends the session.
        let ttl = expiry::ttl_ms(record.expires_at, now)
            .unwrap_or(0)
            .to_string();
        let now_us = expiry::to_micros(now).to_string();
        let nonce = nonce();
        let outcome = script::SAVE
            .run(
                &self.conn,
                self.redis_key(key).as_bytes(),
                &[
                    expected.as_bytes(),
                    data.as_bytes(),
                    expires.as_bytes(),
                    ttl.as_bytes(),
                    now_us.as_bytes(),
                    nonce.as_bytes(),
                    script::REVS_KEPT_CHARS.as_bytes(),
                ],
            )
            .await
            .map_err(from_redis)?;
        Ok(match reply::save(&outcome)? {
            Cas::Written => SaveOutcome::Saved(Saved {
                cookie_value: key.to_owned(),
                version: Version::new(data),
            }),
            Cas::Conflict => SaveOutcome::Conflict,
            Cas::Gone => SaveOutcome::Gone,
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut del = cmd("DEL");
        del.arg(self.redis_key(key));
        let deleted = self.conn.query(&del).await.map_err(from_redis)?;
        reply::count(&deleted, "DEL").map(|_| ())
    }

    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now_us = expiry::to_micros(now).to_string();
        let gone = script::DELETE_IF
            .run(
                &self.conn,
                self.redis_key(key).as_bytes(),
                &[expected.as_bytes(), now_us.as_bytes()],
            )
            .await;
        match gone {
            Ok(gone) => reply::flag(&gone, "the delete-if script"),
            // Not a session entry (see `load`): there is no record to keep.
            Err(e) if is_wrong_type(&e) => Ok(true),
            Err(e) => Err(from_redis(e)),
        }
    }

    async fn clear_expired(&self, _now: OffsetDateTime) -> Result<u64, StoreError> {
        // Redis drops every entry when its TTL runs out; until then an
        // expired entry never loads.
        Ok(0)
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expires = expiry::to_micros(expires_at).to_string();
        // `0` tells the script to delete: an expiry in the past ends the session.
        let ttl = expiry::ttl_ms(expires_at, now).unwrap_or(0).to_string();
        let now_us = expiry::to_micros(now).to_string();
        let found = script::TOUCH
            .run(
                &self.conn,
                self.redis_key(key).as_bytes(),
                &[expires.as_bytes(), ttl.as_bytes(), now_us.as_bytes()],
            )
            .await
            .map_err(from_redis)?;
        reply::flag(&found, "the touch script")
    }

    fn attach(&self, config: &SessionConfig) {
        self.keys.attach(config);
    }
}

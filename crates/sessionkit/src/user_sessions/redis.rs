//! [`RedisIndex`]: the index in Redis (single node or Cluster), a set per
//! user and a hash per session, expiring with the sessions.

use std::collections::HashMap;

use ::redis::{cmd, Value};
use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::store::redis::conn::Conn;
use crate::store::redis::error::from_redis;
use crate::store::redis::RedisStore;

use super::index::{live, EXPIRY_GRACE};
use super::{IndexEntry, SessionIndex};

/// Writes a hash, its TTL and its id in the user's set, whose TTL follows
/// its longest-lived member. KEYS: set, hash. ARGV: id, expiry (Unix ms),
/// then the hash's field/value pairs.
const PUT: &str = r"
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1";

/// Every hash of the user's set; ids whose hash expired leave the set.
/// KEYS: set.
const LIST: &str = r"
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HGETALL', KEYS[1] .. ':' .. id)
  if #h == 0 then redis.call('SREM', KEYS[1], id) else table.insert(out, h) end
end
return out";

/// Moves last-seen and the expiry of an existing hash only.
/// KEYS: set, hash. ARGV: last_seen (µs), expires_at (µs), expiry (Unix ms).
const SEEN: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'last_seen', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return 1";

/// KEYS: set, hash. ARGV: id.
const REMOVE: &str = r"
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
return 1";

/// The index in Redis: for user `u`, the set `<prefix>sessionkit.user:{u}`
/// of public ids, and per session the hash `<prefix>sessionkit.user:{u}:<id>`
/// with its fields. The braces make a user's keys one Cluster hash slot, so
/// each operation is one atomic script. Every key expires (5 minutes after)
/// when its sessions do: nothing to sweep.
///
/// Pairs with every session engine; built on a [`RedisStore`]'s connection
/// (the same server as the sessions) or its own.
#[derive(Clone)]
pub struct RedisIndex {
    conn: Conn,
    prefix: String,
}

impl std::fmt::Debug for RedisIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisIndex")
            .field("mode", &self.conn.mode())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisIndex {
    /// The index on the connection of `store`, under `prefix` (for example
    /// the store's own, [`RedisStore::prefix`]).
    pub fn for_store(store: &RedisStore, prefix: impl Into<String>) -> Self {
        Self {
            conn: store.connection().clone(),
            prefix: prefix.into(),
        }
    }

    /// Connects to `url` (`redis://`, `redis+cluster://h:p,h:p`, …, as
    /// [`RedisStore::open`]) for an index under `prefix`.
    ///
    /// # Errors
    /// As [`RedisStore::open`].
    pub async fn open(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        Ok(Self::for_store(&RedisStore::open(url).await?, prefix))
    }

    fn set_key(&self, user_id: &str) -> String {
        format!("{}sessionkit.user:{{{user_id}}}", self.prefix)
    }

    async fn eval(&self, script: &str, keys: &[&str], args: &[&[u8]]) -> Result<Value, StoreError> {
        let mut c = cmd("EVAL");
        c.arg(script).arg(keys.len()).arg(keys);
        for a in args {
            c.arg(*a);
        }
        self.conn.query(&c).await.map_err(from_redis)
    }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn micros(at: OffsetDateTime) -> String {
    (at.unix_timestamp_nanos() / 1_000).to_string()
}

fn unexpected(what: &'static str) -> StoreError {
    StoreError::Backend(format!("unexpected reply from Redis to the session index's {what}").into())
}

/// A flat `field, value, …` array as a map.
fn fields(value: Value) -> Result<HashMap<String, String>, StoreError> {
    let Value::Array(items) = value else {
        return Err(unexpected("read"));
    };
    let mut map = HashMap::new();
    let mut it = items.into_iter();
    while let (Some(Value::BulkString(k)), Some(Value::BulkString(v))) = (it.next(), it.next()) {
        let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| unexpected("read"));
        map.insert(text(k)?, text(v)?);
    }
    Ok(map)
}

fn entry(mut m: HashMap<String, String>) -> Result<IndexEntry, StoreError> {
    let time = |m: &HashMap<String, String>, k: &str| {
        m.get(k)
            .and_then(|v| v.parse::<i128>().ok())
            .and_then(|us| OffsetDateTime::from_unix_timestamp_nanos(us * 1_000).ok())
            .ok_or_else(|| unexpected("read"))
    };
    Ok(IndexEntry {
        created: time(&m, "created")?,
        last_seen: time(&m, "last_seen")?,
        expires_at: time(&m, "expires_at")?,
        user_id: m.remove("user_id").ok_or_else(|| unexpected("read"))?,
        id: m.remove("id").ok_or_else(|| unexpected("read"))?,
        session_key: m.remove("session_key"),
        user_agent: m.remove("user_agent"),
        ip: m.remove("ip"),
    })
}

#[async_trait]
impl SessionIndex for RedisIndex {
    async fn put(&self, e: &IndexEntry) -> Result<(), StoreError> {
        let set = self.set_key(&e.user_id);
        let hash = format!("{set}:{}", e.id);
        let expiry = unix_ms(e.expires_at + EXPIRY_GRACE).to_string();
        let (created, last_seen, expires_at) =
            (micros(e.created), micros(e.last_seen), micros(e.expires_at));
        let mut args: Vec<&[u8]> = vec![
            e.id.as_bytes(),
            expiry.as_bytes(),
            b"id",
            e.id.as_bytes(),
            b"user_id",
            e.user_id.as_bytes(),
            b"created",
            created.as_bytes(),
            b"last_seen",
            last_seen.as_bytes(),
            b"expires_at",
            expires_at.as_bytes(),
        ];
        for (name, value) in [
            (&b"session_key"[..], &e.session_key),
            (b"user_agent", &e.user_agent),
            (b"ip", &e.ip),
        ] {
            if let Some(v) = value {
                args.extend([name, v.as_bytes()]);
            }
        }
        self.eval(PUT, &[&set, &hash], &args).await.map(|_| ())
    }

    async fn get(
        &self,
        user_id: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IndexEntry>, StoreError> {
        let hash = format!("{}:{id}", self.set_key(user_id));
        let reply = self
            .conn
            .query(cmd("HGETALL").arg(&hash))
            .await
            .map_err(from_redis)?;
        let map = match reply {
            Value::Map(pairs) => pairs
                .into_iter()
                .map(|(k, v)| Value::Array(vec![k, v]))
                .map(fields)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect(),
            other => fields(other)?,
        };
        if map.is_empty() {
            return Ok(None);
        }
        Ok(Some(entry(map)?).filter(|e| live(e.expires_at, now)))
    }

    async fn list(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let set = self.set_key(user_id);
        let Value::Array(items) = self.eval(LIST, &[&set], &[]).await? else {
            return Err(unexpected("list"));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let e = entry(fields(item)?)?;
            if live(e.expires_at, now) {
                out.push(e);
            }
        }
        Ok(out)
    }

    async fn seen(
        &self,
        user_id: &str,
        id: &str,
        last_seen: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let set = self.set_key(user_id);
        let hash = format!("{set}:{id}");
        let (seen, until) = (micros(last_seen), micros(expires_at));
        let expiry = unix_ms(expires_at + EXPIRY_GRACE).to_string();
        let reply = self
            .eval(
                SEEN,
                &[&set, &hash],
                &[seen.as_bytes(), until.as_bytes(), expiry.as_bytes()],
            )
            .await?;
        Ok(matches!(reply, Value::Int(1)))
    }

    async fn remove(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        let set = self.set_key(user_id);
        let hash = format!("{set}:{id}");
        self.eval(REMOVE, &[&set, &hash], &[id.as_bytes()])
            .await
            .map(|_| ())
    }

    async fn clear_expired(&self, _now: OffsetDateTime) -> Result<u64, StoreError> {
        // Redis expires the keys itself.
        Ok(0)
    }
}

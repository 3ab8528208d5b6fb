//! The Lua scripts behind creates, compare-and-set saves and touches, run by SHA.
//!
//! A script runs atomically on the server, so a compare-and-set is one round
//! trip with no `WATCH`. Each script touches exactly one key, passed as
//! `KEYS[1]`, so on a cluster it runs on the node that owns the session's slot.
//!
//! Expiries are compared as Lua numbers (doubles): exact for Unix microseconds
//! up to the year 2255, and still correctly ordered beyond it unless two
//! instants are within a few dozen microseconds of each other.

use std::sync::LazyLock;

use ::redis::{cmd, Cmd, ErrorKind, RedisResult, Script, ServerErrorKind, Value};

use super::conn::Conn;

/// Insert-if-absent. `ARGV`: session data, expiry (Unix µs), TTL (ms, > 0),
/// this attempt's nonce. Returns `1` written (now, or already by this very
/// attempt: a re-sent request), `0` the key is taken.
pub(super) static CREATE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('TYPE', KEYS[1]).ok == 'hash'
    and redis.call('HGET', KEYS[1], 'rev') == ARGV[4] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'session_data', ARGV[1], 'expire_date', ARGV[2], 'rev', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// Compare-and-set. `ARGV`: the session data the caller loaded, the new data,
/// its expiry (Unix µs), its TTL (ms; `0`: already expired, so delete),
/// `now` (Unix µs), and this attempt's nonce. Returns `1` written (now, or
/// already by this attempt: its nonce is among the last [`REVS_KEPT`]
/// writes), `0` other data is stored (conflict), `-1` no live record (gone:
/// deleted or expired; never revived here).
///
/// The nonce is what makes a re-sent request safe: the client re-sends after
/// a lost connection (a cluster connection does, up to its retry count), and
/// without it the second run would find this attempt's own data, answer
/// "conflict", and the session layer would apply the change a second time.
/// (A save that deleted an expired record leaves no nonce: its copy answers
/// "gone", which is what the record is.)
pub(super) static SAVE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local stored = redis.call('HMGET', KEYS[1], 'session_data', 'expire_date', 'rev')
if stored[3] and string.find(' ' .. stored[3] .. ' ', ' ' .. ARGV[6] .. ' ', 1, true) then
  return 1
end
if not stored[1] then return -1 end
local expires = tonumber(stored[2])
if not expires or expires <= tonumber(ARGV[5]) then return -1 end
if stored[1] ~= ARGV[1] then return 0 end
if ARGV[4] == '0' then
  redis.call('DEL', KEYS[1])
else
  local revs, kept = ARGV[6], 1
  for rev in string.gmatch(stored[3] or '', '%S+') do
    if kept >= tonumber(ARGV[7]) then break end
    revs, kept = revs .. ' ' .. rev, kept + 1
  end
  redis.call('HSET', KEYS[1], 'session_data', ARGV[2], 'expire_date', ARGV[3], 'rev', revs)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
",
    )
});

/// How many of the latest writes' nonces an entry keeps (newest first, in its
/// `rev` field): a re-sent save is recognised even when a few other saves
/// landed between its first run and the copy.
pub(super) const REVS_KEPT: &str = "4";

/// Moves a live record's expiry, leaving its data (the version) alone.
/// `ARGV`: the new expiry (Unix µs), its TTL (ms; `0`: delete), `now` (Unix
/// µs). Returns `1` when a live record was found, else `0`. Running it twice
/// is running it once, so a re-sent touch needs no nonce.
pub(super) static TOUCH: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local expires = tonumber(redis.call('HGET', KEYS[1], 'expire_date'))
if not expires or expires <= tonumber(ARGV[3]) then return 0 end
if ARGV[2] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'expire_date', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
",
    )
});

/// Compare-and-delete. `ARGV`: the session data the caller expects, `now`
/// (Unix µs). Returns `1` when no live record is left (deleted here, or
/// already missing or expired), `0` when other data is stored (kept). A
/// re-sent copy finds the key gone and answers `1` again.
pub(super) static DELETE_IF: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local stored = redis.call('HMGET', KEYS[1], 'session_data', 'expire_date')
if not stored[1] then return 1 end
local expires = tonumber(stored[2])
if not expires or expires <= tonumber(ARGV[2]) then return 1 end
if stored[1] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
",
    )
});

/// A script with its SHA1 computed once.
pub(super) struct Lua {
    script: Script,
    source: &'static str,
}

impl Lua {
    pub(super) fn new(source: &'static str) -> Self {
        Self {
            script: Script::new(source),
            source,
        }
    }

    /// Runs the script on `key` with `args`: `EVALSHA`, then `EVAL` when the
    /// server does not know the SHA yet. `EVAL` also caches the script on the
    /// node that ran it, so later calls are one round trip again; unlike
    /// `SCRIPT LOAD` it needs no other cluster node to be up.
    pub(super) async fn run(&self, conn: &Conn, key: &[u8], args: &[&[u8]]) -> RedisResult<Value> {
        let by_sha = command("EVALSHA", self.script.get_hash().as_bytes(), key, args);
        match conn.query(&by_sha).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                let by_source = command("EVAL", self.source.as_bytes(), key, args);
                conn.query(&by_source).await
            }
            other => other,
        }
    }
}

/// `EVALSHA sha 1 key args…` or `EVAL source 1 key args…`.
fn command(name: &str, script: &[u8], key: &[u8], args: &[&[u8]]) -> Cmd {
    let mut command = cmd(name);
    command.arg(script).arg(1).arg(key);
    for arg in args {
        command.arg(*arg);
    }
    command
}

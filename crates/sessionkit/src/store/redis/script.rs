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
/// `now` (Unix µs), this attempt's nonce, and how many characters of the
/// older nonces to keep ([`REVS_KEPT_CHARS`]). Returns `1` written (now, or
/// already by this attempt: its nonce is among the last few writes'), `0`
/// other data is stored (conflict), `-1` no live record (gone: deleted or
/// expired; never revived here).
///
/// The nonce is what makes a re-sent request safe: the client re-sends after
/// a lost connection (a cluster connection does, up to its retry count), and
/// without it the second run would find this attempt's own data, answer
/// "conflict", and the session layer would apply the change a second time.
/// (A save that deleted an expired record leaves no nonce: its copy answers
/// "gone", which is what the record is.)
///
/// Kept to plain string calls on purpose: the script runs on the Redis
/// server's core once per saved request, and splitting the nonce list into
/// words (`gmatch`, one string per nonce) cost a third of the script's time.
/// The nonces are of one fixed length, so the newest few are a prefix of
/// `rev` (space-separated, newest first, as before); a plain `find` of a
/// 16-character random nonce cannot match by accident.
pub(super) static SAVE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local stored = redis.call('HMGET', KEYS[1], 'session_data', 'expire_date', 'rev')
local revs = stored[3]
if revs and string.find(revs, ARGV[6], 1, true) then return 1 end
if not stored[1] then return -1 end
local expires = tonumber(stored[2])
if not expires or expires <= tonumber(ARGV[5]) then return -1 end
if stored[1] ~= ARGV[1] then return 0 end
if ARGV[4] == '0' then
  redis.call('DEL', KEYS[1])
  return 1
end
revs = ARGV[6] .. ' ' .. string.sub(revs or '', 1, tonumber(ARGV[7]))
redis.call('HSET', KEYS[1], 'session_data', ARGV[2], 'expire_date', ARGV[3], 'rev', revs)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
",
    )
});

/// How many of the latest writes' nonces an entry keeps in its `rev` field,
/// newest first: a re-sent save is recognised even when a few other saves
/// landed between its first run and the copy.
const REVS_KEPT: usize = 4;

/// The characters of `rev` a save keeps behind its own nonce and a space:
/// the previous `REVS_KEPT - 1` nonces with the spaces between them, as
/// `ARGV[7]` of [`SAVE`].
pub(super) static REVS_KEPT_CHARS: LazyLock<String> =
    LazyLock::new(|| ((REVS_KEPT - 1) * (super::NONCE_LEN + 1) - 1).to_string());

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

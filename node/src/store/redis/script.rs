//! The two server-side scripts every session operation goes through, and the hash they keep.
//!
//! One hash per session, `rjk:s:{<id>}` (see [`super::slot`]):
//! `@c` created, `@a` last refresh (ms, Redis's clock), `@m` max inactive (ms), `@v` version,
//! and `a:<name>` per attribute. The key's TTL is the session's life: max inactive plus the
//! refresh window, renewed by a request when the last renewal is at least a window old (a tenth
//! of max inactive, 100 ms to 5 s), so a busy session costs no extra write and no key outlives
//! its session by more than one window. No keyspace notification, no sweeper.
//!
//! Saving applies only the attributes the request changed, and bumps `@v`, in one script: Redis
//! runs it atomically, so two requests changing different attributes both keep their change;
//! for the same attribute the request whose save reaches Redis last wins.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::session::manager::SessionData;
use crate::session::SessionDelta;

/// Renews the TTL as the save script does, with the refresh window computed from `@m`.
const WINDOW_LUA: &str = "
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function window(m)
  return math.min(math.max(math.floor(m / 10), 100), 5000)
end
";

/// KEYS[1] the session. Returns its hash (flat), empty if there is no such session; renews its
/// last access and TTL when due.
static LOAD: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(&format!(
        "{WINDOW_LUA}
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return h end
local a, m
for i = 1, #h, 2 do
  if h[i] == '@a' then a = tonumber(h[i + 1]) elseif h[i] == '@m' then m = tonumber(h[i + 1]) end
end
if a and m then
  local now = now_ms()
  if now - a >= window(m) then
    redis.call('HSET', KEYS[1], '@a', now)
    redis.call('PEXPIRE', KEYS[1], m + window(m))
  end
end
return h
"
    ))
});

/// KEYS[1] the session's key now, KEYS[2] its key before the request (the same unless the id
/// changed). ARGV[1] flags (`c` created, `i` invalidated), ARGV[2] max inactive ms or empty,
/// then (`s`|`d`, name, value) per changed attribute. Returns the new version, 0 when deleted,
/// -1 when the session is gone (invalidated or expired meanwhile: it is not brought back).
static SAVE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(&format!(
        "{WINDOW_LUA}
local key, old, flags = KEYS[1], KEYS[2], ARGV[1]
if string.find(flags, 'i', 1, true) then
  redis.call('DEL', key)
  if old ~= key then redis.call('DEL', old) end
  return 0
end
if old ~= key and redis.call('EXISTS', old) == 1 then
  redis.call('RENAME', old, key)
end
local created = string.find(flags, 'c', 1, true)
local m = tonumber(redis.call('HGET', key, '@m'))
if not created and not m then return -1 end
if ARGV[2] ~= '' then m = tonumber(ARGV[2]) end
local now = now_ms()
local set = {{'@a', now}}
if created then table.insert(set, '@c'); table.insert(set, now) end
if ARGV[2] ~= '' then table.insert(set, '@m'); table.insert(set, ARGV[2]) end
for i = 3, #ARGV, 3 do
  if ARGV[i] == 's' then
    table.insert(set, 'a:' .. ARGV[i + 1]); table.insert(set, ARGV[i + 2])
  else
    redis.call('HDEL', key, 'a:' .. ARGV[i + 1])
  end
end
redis.call('HSET', key, unpack(set))
local v = redis.call('HINCRBY', key, '@v', 1)
redis.call('PEXPIRE', key, m + window(m))
return v
"
    ))
});

/// `LOAD` for `key`.
pub(crate) fn load(key: &str) -> redis::ScriptInvocation<'static> {
    let mut inv = LOAD.prepare_invoke();
    inv.key(key);
    inv
}

/// `SAVE` for one delta; `default_max` for a session the delta creates.
pub(crate) fn save(d: &SessionDelta, default_max: Duration) -> redis::ScriptInvocation<'static> {
    let mut inv = SAVE.prepare_invoke();
    let key = super::slot::key(&d.id);
    let old = d
        .previous_id
        .as_deref()
        .map(super::slot::key)
        .unwrap_or_else(|| key.clone());
    inv.key(key).key(old);
    let flags = match (d.invalidated, d.created) {
        (true, _) => "i",
        (false, true) => "c",
        (false, false) => "",
    };
    inv.arg(flags);
    let max = d.max_inactive.or(d.created.then_some(default_max));
    inv.arg(
        max.map(|m| m.as_millis().max(1).to_string())
            .unwrap_or_default(),
    );
    for (name, value) in &d.changes {
        match value {
            Some(v) => inv.arg("s").arg(name.as_bytes()).arg(v.as_ref()),
            None => inv.arg("d").arg(name.as_bytes()).arg(""),
        };
    }
    inv
}

/// A session from its hash (`None` when there is no hash).
pub(crate) fn session_of(hash: HashMap<Vec<u8>, Vec<u8>>, now: Instant) -> Option<SessionData> {
    if hash.is_empty() {
        return None;
    }
    let num = |f: &[u8]| {
        hash.get(f)
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
    };
    let max_inactive = Duration::from_millis(num(b"@m").unwrap_or(1_800_000));
    let version = num(b"@v").unwrap_or(0);
    let attributes = hash
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(b"a:")?;
            Some((
                String::from_utf8_lossy(name).into_owned(),
                Bytes::from(v.clone()),
            ))
        })
        .collect();
    Some(SessionData {
        attributes,
        last_access: now,
        max_inactive,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_becomes_a_session_and_ignores_bookkeeping_fields() {
        let mut h = HashMap::new();
        h.insert(b"@m".to_vec(), b"2000".to_vec());
        h.insert(b"@v".to_vec(), b"7".to_vec());
        h.insert(b"@a".to_vec(), b"1".to_vec());
        h.insert(b"a:counter".to_vec(), b"3".to_vec());
        h.insert(b"a:@odd".to_vec(), b"x".to_vec());
        let s = session_of(h, Instant::now()).unwrap();
        assert_eq!(s.max_inactive, Duration::from_secs(2));
        assert_eq!(s.version, 7);
        assert_eq!(s.attributes.len(), 2);
        assert_eq!(s.attributes["counter"], "3");
        assert_eq!(s.attributes["@odd"], "x");
        assert!(session_of(HashMap::new(), Instant::now()).is_none());
    }
}

"""The Lua scripts behind the Redis store's options, each one atomic step on one slot.

With ``max_age`` or ``track_users`` a session is a hash: ``u`` the user id, ``a`` its
absolute deadline (Unix ms, with ``max_age``), ``i`` its user's index (with
``track_users``). A user index is a sorted set of its sessions' key suffixes, scored by
deadline (``inf`` for never), which expires with its longest-lived session. Times come
from the server's clock (``TIME``), as with ``PX``. The keys a script reaches beyond its
declared ones (a user index, a session from an index) share its hash tag, so its slot.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

__all__ = [
    "DELETE",
    "DELETE_USER",
    "INSERT",
    "LIST_USER",
    "REFRESH",
    "ROTATE",
    "SCRIPTS",
    "Script",
]

_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(ms) return string.format('%.0f', ms) end
-- A write's deadline: now + ttl ('' for none), never past max_at; false for never.
local function deadline(now, ttl, max_at)
  local d = false
  if ttl ~= '' then d = now + tonumber(ttl) end
  if max_at and (not d or max_at < d) then d = max_at end
  return d
end
-- A key under the prefix that sesh did not write (another type) is never made a session,
-- and nothing is written before this check: a script that fails halfway would leave keys
-- without their expiry.
local function refuse_foreign(key, kind)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= kind then
    return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
  end
end
local function expire(key, d)
  if d then redis.call('PEXPIREAT', key, fmt(d)) else redis.call('PERSIST', key) end
end
-- Files member under its deadline, drops entries past theirs, and lets the index live
-- as long as its longest-lived session.
local function index_put(index, member, d, now)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. fmt(now))
  redis.call('ZADD', index, d and fmt(d) or 'inf', member)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2]
  if top == 'inf' then redis.call('PERSIST', index) else redis.call('PEXPIREAT', index, top) end
end
"""


class Script(NamedTuple):
    """A script's source and SHA-1 (for EVALSHA)."""

    source: str
    sha: str


def _script(body: str) -> Script:
    source = _COMMON + body
    return Script(source, hashlib.sha1(source.encode("utf-8")).hexdigest())


INSERT = _script("""
-- KEYS: session [, user index]; ARGV: user id, ttl ms, max_age ms ('' for none), member
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if KEYS[2] then
  local refused = refuse_foreign(KEYS[2], 'zset')
  if refused then return refused end
end
local now = now_ms()
local max_at = ARGV[3] ~= '' and now + tonumber(ARGV[3]) or false
local d = deadline(now, ARGV[2], max_at)
redis.call('HSET', KEYS[1], 'u', ARGV[1])
expire(KEYS[1], d)
if max_at then redis.call('HSET', KEYS[1], 'a', fmt(max_at)) end
if KEYS[2] then
  redis.call('HSET', KEYS[1], 'i', KEYS[2])
  index_put(KEYS[2], ARGV[4], d, now)
end
return 1
""")

REFRESH = _script("""
-- KEYS: session; ARGV: ttl ms, member. Returns the user id, or nil.
local s = redis.call('HMGET', KEYS[1], 'u', 'a', 'i')
if not s[1] then return false end
if s[3] and ARGV[2] ~= '' then
  local refused = refuse_foreign(s[3], 'zset')
  if refused then return refused end
end
local now = now_ms()
local d = deadline(now, ARGV[1], s[2] and tonumber(s[2]) or false)
expire(KEYS[1], d)
if s[3] and ARGV[2] ~= '' then index_put(s[3], ARGV[2], d, now) end
return s[1]
""")

DELETE = _script("""
-- KEYS: session; ARGV: member. A session ends even if its index is not sesh's any more.
local index = redis.call('TYPE', KEYS[1]).ok == 'hash' and redis.call('HGET', KEYS[1], 'i')
if index and redis.call('TYPE', index).ok == 'zset' then redis.call('ZREM', index, ARGV[1]) end
return redis.call('DEL', KEYS[1])
""")

ROTATE = _script("""
-- KEYS: old session, new session; ARGV: ttl ms, old member, new member, and the type of a
-- session in this layout ('string', or 'hash' with max_age or track_users).
-- Returns 1 if moved, 0 if the new key is taken, nil if there is no old session.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local refused = refuse_foreign(KEYS[1], ARGV[4])
if refused then return refused end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local max_at, index = false, false
if ARGV[4] == 'hash' then
  local s = redis.call('HMGET', KEYS[1], 'u', 'a', 'i')
  if not s[1] then return false end  -- a hash, but not a session (no user): not sesh's
  max_at = s[2] and tonumber(s[2]) or false
  index = s[3]
  if index then
    refused = refuse_foreign(index, 'zset')
    if refused then return refused end
  end
end
redis.call('RENAME', KEYS[1], KEYS[2])
local now = now_ms()
local d = deadline(now, ARGV[1], max_at)
expire(KEYS[2], d)
if index and ARGV[2] ~= '' then
  redis.call('ZREM', index, ARGV[2])
  index_put(index, ARGV[3], d, now)
end
return 1
""")

LIST_USER = _script("""
-- KEYS: user index; ARGV: key head. Returns the members whose session is live.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. fmt(now_ms()))
local live = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  -- A session evicted or deleted by hand leaves its entry behind: drop it here.
  if redis.call('EXISTS', ARGV[1] .. m) == 1 then
    live[#live + 1] = m
  else
    redis.call('ZREM', KEYS[1], m)
  end
end
return live
""")

DELETE_USER = _script("""
-- KEYS: user index; ARGV: key head. Returns how many live sessions were removed.
local n = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. m)
end
redis.call('DEL', KEYS[1])
return n
""")

SCRIPTS = {s.sha: s for s in (INSERT, REFRESH, DELETE, ROTATE, LIST_USER, DELETE_USER)}
"""Every script, by SHA-1: what to send whole when the server answers NOSCRIPT."""

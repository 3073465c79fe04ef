"""Lua scripts of the Redis webhook store; every key is in the store's global slot.

Records are JSON written by Python (Lua never re-encodes them: cjson would round
floats); the scripts only move ids between the queues, the due set and the claims.
"""

from __future__ import annotations

# KEYS[1] cursor, KEYS[2] due, KEYS[3] endpoints, then per delivery: record, index,
# queue, queue set. ARGV[1] expected cursor or '', ARGV[2] new cursor or '',
# ARGV[3] index cap, then per delivery: id, endpoint id, json, number, final (1/0),
# order key, first due score, ttl ms of a final record.
ADD = """
if ARGV[1] ~= '' then
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
  if cur ~= tonumber(ARGV[1]) then return 0 end
end
local n = (#KEYS - 3) / 4
for i = 0, n - 1 do
  local k = 4 + i * 4
  local a = 4 + i * 8
  local id = ARGV[a]
  if redis.call('HEXISTS', KEYS[3], ARGV[a + 1]) == 1
     and redis.call('EXISTS', KEYS[k]) == 0 then
    if ARGV[a + 4] == '1' then
      redis.call('SET', KEYS[k], ARGV[a + 2], 'PX', ARGV[a + 7])
    else
      redis.call('SET', KEYS[k], ARGV[a + 2])
      redis.call('RPUSH', KEYS[k + 2], id)
      redis.call('SADD', KEYS[k + 3], ARGV[a + 5])
      if redis.call('LLEN', KEYS[k + 2]) == 1 then
        redis.call('ZADD', KEYS[2], ARGV[a + 6], id)
      end
    end
    redis.call('ZADD', KEYS[k + 1], ARGV[a + 3], id)
    redis.call('ZREMRANGEBYRANK', KEYS[k + 1], 0, -(tonumber(ARGV[3]) + 1))
  end
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""

# KEYS[1] due, KEYS[2] claims. ARGV: now, lease until, limit, token prefix.
# Returns id, token, id, token, ...
CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  local token = ARGV[4] .. i
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  redis.call('HSET', KEYS[2], id, token)
  out[#out + 1] = id
  out[#out + 1] = token
end
return out
"""

# KEYS: claims, record, due, queue, queue set. ARGV: id, token, json, pending (1/0),
# next score, now, ttl ms, order key. Returns 0 when the claim is not current.
COMPLETE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
  return 1
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[7])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('LREM', KEYS[4], 1, ARGV[1])
local nxt = redis.call('LINDEX', KEYS[4], 0)
if nxt then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[6], nxt)
else
  redis.call('SREM', KEYS[5], ARGV[8])
end
return 1
"""

# KEYS: record, queue, queue set, due. ARGV: id, json, order key, due score.
# Returns 0 unless the stored record is final.
REQUEUE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if cjson.decode(raw).state == 'pending' then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('LLEN', KEYS[2]) == 1 then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
return 1
"""

# KEYS: queue, queue set, due, claims, then one record key per id.
# ARGV: order key, ttl ms, count, ids..., jsons... Returns 0 when the queue changed.
FAIL_QUEUE = """
local n = tonumber(ARGV[3])
if redis.call('LLEN', KEYS[1]) ~= n then return 0 end
for i = 1, n do
  if redis.call('LINDEX', KEYS[1], i - 1) ~= ARGV[3 + i] then return 0 end
end
for i = 1, n do
  local id = ARGV[3 + i]
  redis.call('SET', KEYS[4 + i], ARGV[3 + n + i], 'PX', ARGV[2])
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: index, then one record key per id. ARGV: ids. Deletes the final (or vanished)
# ones and their index entries; pending ones stay. Returns how many went.
TRIM = """
local gone = 0
for i, id in ipairs(ARGV) do
  local raw = redis.call('GET', KEYS[i + 1])
  if not raw or cjson.decode(raw).state ~= 'pending' then
    redis.call('DEL', KEYS[i + 1])
    redis.call('ZREM', KEYS[1], id)
    gone = gone + 1
  end
end
return gone
"""

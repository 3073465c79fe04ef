"""Lua scripts of the Redis store; each one runs atomically on the server.

Every key a script touches arrives in ``KEYS`` (payloads refer to keys by their
1-based index there), so Redis can route and check them.
"""

from __future__ import annotations

# The one atomic write: checks first, then every change; a conflict returns before
# anything is written, and nothing after the checks can fail on well-formed input.
#   KEYS[1] seq counter, KEYS[2] global event feed, KEYS[3] plan, then more keys.
#   ARGV[1] JSON payload:
#     expect       [[key index, other key index or 0, version], ...]
#                  (the record is whichever key exists; a missing record is version 0)
#     expect_plan  plan version, or -1 for no check
#     idem         [key index, value, ttl ms] or []
#     records      [[key index, json, index key index, id, open set index, terminal], ...]
#     plan         plan JSON or ''
#     community    the community id (value of the id -> community indexes)
#     events       [[community feed key index, json without seq], ...]
#   Returns {'conflict', reason} or {'ok', first seq} (first seq 0: no events).
WRITE = """
local p = cjson.decode(ARGV[1])
local function version_of(raw)
  if not raw then return 0 end
  return tonumber(cjson.decode(raw).version)
end
for _, e in ipairs(p.expect) do
  local raw = redis.call('GET', KEYS[e[1]])
  if not raw and e[2] > 0 then raw = redis.call('GET', KEYS[e[2]]) end
  local have = version_of(raw)
  if have ~= e[3] then
    return {'conflict', KEYS[e[1]] .. ' is at version ' .. have .. ', expected ' .. e[3]}
  end
end
if p.expect_plan >= 0 then
  local have = version_of(redis.call('GET', KEYS[3]))
  if have ~= p.expect_plan then
    return {'conflict', 'plan is at version ' .. have .. ', expected ' .. p.expect_plan}
  end
end
if #p.idem > 0 and redis.call('EXISTS', KEYS[p.idem[1]]) == 1 then
  return {'conflict', 'idempotency key already used'}
end
if #p.idem > 0 then
  redis.call('SET', KEYS[p.idem[1]], p.idem[2], 'PX', p.idem[3])
end
for _, r in ipairs(p.records) do
  redis.call('SET', KEYS[r[1]], r[2])
  redis.call('HSET', KEYS[r[3]], r[4], p.community)
  if r[6] == 1 then
    redis.call('SREM', KEYS[r[5]], r[4])
  else
    redis.call('SADD', KEYS[r[5]], r[4])
  end
end
if p.plan ~= '' then redis.call('SET', KEYS[3], p.plan) end
local n = #p.events
if n == 0 then return {'ok', 0} end
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
for i, ev in ipairs(p.events) do
  local seq = first + i - 1
  local member = '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ev[2], 2)
  redis.call('ZADD', KEYS[2], seq, member)
  redis.call('ZADD', KEYS[ev[1]], seq, member)
end
return {'ok', first}
"""

# Events on their own: KEYS[1] seq, KEYS[2] global feed, then community feeds;
# ARGV: pairs (community feed key index, json without seq). Returns the first seq.
APPEND = """
local n = #ARGV / 2
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
for i = 1, n do
  local seq = first + i - 1
  local member = '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[2 * i], 2)
  redis.call('ZADD', KEYS[2], seq, member)
  redis.call('ZADD', KEYS[tonumber(ARGV[2 * i - 1])], seq, member)
end
return first
"""

# Lease value "<expires>|<owner>" (expires in the caller's clock, as Python repr).
#   KEYS[1] lease; ARGV owner, now, expires, px (Redis-side safety TTL).
# Succeeds when the key is absent, expired by the caller's clock, or held by owner.
LEASE = """
local raw = redis.call('GET', KEYS[1])
if raw then
  local bar = string.find(raw, '|', 1, true)
  local expires = tonumber(string.sub(raw, 1, bar - 1))
  local owner = string.sub(raw, bar + 1)
  if owner ~= ARGV[1] and expires > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3] .. '|' .. ARGV[1], 'PX', ARGV[4])
return 1
"""

# Release only by the holder: KEYS[1] lease; ARGV[1] owner. Returns 1 when released.
RELEASE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local bar = string.find(raw, '|', 1, true)
if string.sub(raw, bar + 1) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# A new rule set and its version in one step: KEYS[1] version counter, KEYS[2] rules;
# ARGV[1] rules JSON. Returns the new version.
PUT_RULES = """
local v = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1])
return v
"""

# Compare-and-delete: KEYS[1]; ARGV[1] the value read. Removes the key only if it
# still holds that value, so clearing an expired record never deletes a newer one.
DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

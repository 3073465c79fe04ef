"""Lua scripts of the Redis store; each one runs atomically on the server.

Every key a script touches arrives in ``KEYS`` (payloads refer to keys by their
1-based index there), so Redis can route and check them, and every script keeps
to one hash slot (a community's, or the global one), so all run on Redis Cluster;
the one exception, ``WRITE_PUBLISH``, runs only on a single server.
"""

from __future__ import annotations

# The one atomic write of a community; every key is in the community's slot.
# Checks first, then every change; a conflict returns before anything is written,
# and nothing after the checks can fail on well-formed input.
#   KEYS[1] event counter, KEYS[2] outbox, KEYS[3] plan, then more keys.
#   ARGV[1] JSON payload:
#     expect       [[key index, other key index or 0, version], ...]
#                  (the record is whichever key exists; a missing record is version 0)
#     expect_plan  plan version, or -1 for no check
#     idem         [key index, value, ttl ms] or []
#     records      [[key index, json, open set index, id, terminal], ...]
#     plan         plan JSON or ''
#     events       [json without seq, ...]
#     history      [[event position, history list key index], ...]: the events an
#                  order's or job's own history keeps (capped at history_limit entries,
#                  expiring history_ttl_ms after the last)
#     history_limit, history_ttl_ms
#     trim_to      outbox entries numbered up to this are known published: dropped
#                  from the outbox's head (0: none)
#     fence        [lease key index, owner, token] or []
#   Returns {'fenced', reason}, {'conflict', reason} or {'ok', first outbox number
#   (0: no events), every outbox entry after the write...}: the caller publishes
#   them without reading the outbox again.
# Events go to the community's outbox as "<number>|<json>", numbered by the
# community's own counter; PUBLISH gives them their global seq afterwards.
# The checks of a write: the fence, every expected version, the plan version and the
# idempotency record; any failure returns before anything is written.
_WRITE_CHECKS = """
local p = cjson.decode(ARGV[1])
local function version_of(raw)
  if not raw then return 0 end
  return tonumber(cjson.decode(raw).version)
end
if #p.fence > 0 then
  local held = redis.call('GET', KEYS[p.fence[1]])
  local want = string.format('%d', p.fence[3]) .. '|' .. p.fence[2]
  if not held or string.sub(held, string.find(held, '|', 1, true) + 1) ~= want then
    return {'fenced', 'lease is ' .. (held or 'free') .. ', writer holds ' .. want}
  end
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
"""

# The changes of a write, after its checks passed; leaves ``first``, the outbox number
# of its first event (0: no events).
_WRITE_CHANGES = """
if #p.idem > 0 then
  redis.call('SET', KEYS[p.idem[1]], p.idem[2], 'PX', p.idem[3])
end
for _, r in ipairs(p.records) do
  redis.call('SET', KEYS[r[1]], r[2])
  if r[5] == 1 then
    redis.call('SREM', KEYS[r[3]], r[4])
  else
    redis.call('SADD', KEYS[r[3]], r[4])
  end
end
if p.plan ~= '' then redis.call('SET', KEYS[3], p.plan) end
local function trim_outbox(mark)
  while mark > 0 do
    local head = redis.call('LINDEX', KEYS[2], 0)
    if not head then break end
    local bar = string.find(head, '|', 1, true)
    if tonumber(string.sub(head, 1, bar - 1)) > mark then break end
    redis.call('LPOP', KEYS[2])
  end
end
trim_outbox(tonumber(p.trim_to or 0))
local n = #p.events
local first = 0
if n > 0 then
  first = redis.call('INCRBY', KEYS[1], n) - n + 1
  for i, ev in ipairs(p.events) do
    redis.call('RPUSH', KEYS[2], string.format('%d', first + i - 1) .. '|' .. ev)
  end
  for _, h in ipairs(p.history or {}) do
    local key = KEYS[h[2]]
    redis.call('RPUSH', key, string.format('%d', first + h[1] - 1) .. '|' .. p.events[h[1]])
    redis.call('LTRIM', key, -p.history_limit, -1)
    redis.call('PEXPIRE', key, p.history_ttl_ms)
  end
end
"""

WRITE = (
    _WRITE_CHECKS
    + _WRITE_CHANGES
    + """
local out = {'ok', first}
for _, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do out[#out + 1] = entry end
return out
"""
)

# Events on their own into a community's outbox: KEYS[1] event counter, KEYS[2]
# outbox; ARGV the events' JSON without seq. Returns the first outbox number.
STAGE = """
local n = #ARGV
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
for i = 1, n do
  redis.call('RPUSH', KEYS[2], string.format('%d', first + i - 1) .. '|' .. ARGV[i])
end
return first
"""

# Give a community's staged events their global seqs; every key is in the global slot.
#   KEYS[1] seq counter, KEYS[2] global feed, KEYS[3] the community's feed,
#   KEYS[4] hash community -> last published outbox number,
#   KEYS[5] the community's outbox number -> seq map (sorted set, score = number).
#   ARGV[1] community id, ARGV[2..3] the numbers whose seqs the caller wants (lo, hi;
#   0 0 for none), ARGV[4..] outbox entries "<number>|<json>" as read, in order.
# Entries already published (by this caller earlier or by a concurrent one) are
# skipped, so running it twice publishes nothing twice. Returns {mark, seq of lo, ...}.
_PUBLISH_FN = """
local function publish(k, cid, entries)
  local mark = tonumber(redis.call('HGET', k[4], cid) or '0')
  local start = mark
  for _, entry in ipairs(entries) do
    local bar = string.find(entry, '|', 1, true)
    local num = tonumber(string.sub(entry, 1, bar - 1))
    if num > mark then
      if num ~= mark + 1 then
        return nil, 'outbox of ' .. cid .. ' skips from ' .. mark .. ' to ' .. num
      end
      local seq = redis.call('INCR', k[1])
      local member = '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(entry, bar + 2)
      redis.call('ZADD', k[2], seq, member)
      redis.call('ZADD', k[3], seq, member)
      redis.call('ZADD', k[5], num, string.format('%d', seq))
      mark = num
    end
  end
  if mark ~= start then
    redis.call('HSET', k[4], cid, string.format('%d', mark))
    redis.call('ZREMRANGEBYSCORE', k[5], '-inf', mark - 100000)
  end
  return mark
end
local function seqs_of(k, cid, lo, hi, out)
  if lo <= 0 then return out end
  local got = redis.call('ZRANGEBYSCORE', k[5], lo, hi)
  if #got ~= hi - lo + 1 then
    return nil, 'events ' .. lo .. '..' .. hi .. ' of ' .. cid .. ' not published'
  end
  for _, s in ipairs(got) do out[#out + 1] = tonumber(s) end
  return out
end
"""

PUBLISH = (
    _PUBLISH_FN
    + """
local entries = {}
for i = 4, #ARGV do entries[#entries + 1] = ARGV[i] end
local mark, err = publish(KEYS, ARGV[1], entries)
if not mark then return redis.error_reply(err) end
local out, err2 = seqs_of(KEYS, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), {mark})
if not out then return redis.error_reply(err2) end
return out
"""
)

# Claim, write and publish in one script: for a single Redis server (not Cluster),
# where one script may touch the community's slot and the global one. The same
# checks and changes as WRITE, with CLAIM's check before them and its claim after
# them; then the outbox is published as PUBLISH does and dropped, so the commit
# costs one round trip. ARGV[1] is WRITE's payload plus:
#     claim   [claim key index, community id, ttl ms] or []
#     pub     the five key indexes of PUBLISH's KEYS, and cid the community id
#   Returns WRITE's refusals, {'claimed', holder}, or {'ok', first, mark, the seqs of
#   this write's events...}.
WRITE_PUBLISH = (
    _PUBLISH_FN
    + _WRITE_CHECKS
    + """
if #p.claim > 0 then
  local holder = redis.call('GET', KEYS[p.claim[1]])
  if holder and holder ~= p.claim[2] then return {'claimed', holder} end
  redis.call('SET', KEYS[p.claim[1]], p.claim[2], 'PX', p.claim[3])
end
"""
    + _WRITE_CHANGES
    + """
local k = {}
for i, idx in ipairs(p.pub) do k[i] = KEYS[idx] end
local mark, err = publish(k, p.cid, redis.call('LRANGE', KEYS[2], 0, -1))
if not mark then return redis.error_reply(err) end
trim_outbox(mark)
local lo, hi = 0, 0
if n > 0 then lo, hi = first, first + n - 1 end
local out, err2 = seqs_of(k, p.cid, lo, hi, {'ok', first, mark})
if not out then return redis.error_reply(err2) end
return out
"""
)

# Drop published entries from the head of an outbox: KEYS[1] outbox; ARGV[1] the
# last published number. Returns how many entries remain.
TRIM = """
local mark = tonumber(ARGV[1])
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local bar = string.find(head, '|', 1, true)
  if tonumber(string.sub(head, 1, bar - 1)) > mark then break end
  redis.call('LPOP', KEYS[1])
end
return redis.call('LLEN', KEYS[1])
"""

# Claim an idempotency key for one community (the record itself lives in that
# community's slot): KEYS[1] claim; ARGV community id, ttl ms. Returns 1 when the key
# is free or already this community's, 0 when another community holds it.
CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# Lease value "<expires>|<token>|<owner>" (expires in the caller's clock, as Python
# repr; token the fencing token).
#   KEYS[1] lease, KEYS[2] token counter; ARGV owner, now, expires, px (Redis-side TTL).
# Succeeds when the key is absent, expired by the caller's clock, or held by owner;
# returns the token (kept on a live renewal, the next one otherwise) or 0.
LEASE = """
local raw = redis.call('GET', KEYS[1])
local token = nil
if raw then
  local bar = string.find(raw, '|', 1, true)
  local expires = tonumber(string.sub(raw, 1, bar - 1))
  local rest = string.sub(raw, bar + 1)
  local bar2 = string.find(rest, '|', 1, true)
  local owner = string.sub(rest, bar2 + 1)
  local live = expires > tonumber(ARGV[2])
  if owner ~= ARGV[1] and live then return 0 end
  if owner == ARGV[1] and live then token = tonumber(string.sub(rest, 1, bar2 - 1)) end
end
if not token then token = redis.call('INCR', KEYS[2]) end
local value = ARGV[3] .. '|' .. string.format('%d', token) .. '|' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[4])
return token
"""

# Release only by the holder: KEYS[1] lease; ARGV[1] owner. Returns 1 when released.
RELEASE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rest = string.sub(raw, string.find(raw, '|', 1, true) + 1)
if string.sub(rest, string.find(rest, '|', 1, true) + 1) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# Compare-and-delete: KEYS[1]; ARGV[1] the value read. Removes the key only if it
# still holds that value, so clearing an expired record never deletes a newer one.
DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

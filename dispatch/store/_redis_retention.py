"""Redis store, retention: trimming the event feeds and expiring idempotency records.

The feeds (``P:{~}:events`` and each ``P:{~}:events:<cid>``) and the trim mark
``P:{~}:events-trimmed`` (the seq of the newest event trimmed away) all live in
the global slot, so one script trims them together. Idempotency records and
their claims carry a server TTL (``idempotency_safety_ttl_s``), so Redis expires
them itself and ``expire_idempotency`` has nothing to do.
"""

from __future__ import annotations

from typing import Any

from dispatch.store._redis_base import RedisBase

# Trim the global feed to the newest ARGV[1] events and drop those stamped before
# ARGV[2] (found by binary search on the head: ``ts`` grows with seq, up to clock
# skew between writers), at most ARGV[3] of them per call (Redis is never blocked
# long); the same seqs leave every community feed.
#   KEYS[1] global feed, KEYS[2] trim mark, KEYS[3..] community feeds.
# Returns how many events left the global feed.
TRIM_FEEDS = """
local feed = KEYS[1]
local n = redis.call('ZCARD', feed)
if n == 0 then return 0 end
local keep, before = tonumber(ARGV[1]), tonumber(ARGV[2])
local cut = math.max(0, n - keep)
local function ts_at(rank)
  local m = redis.call('ZRANGE', feed, rank, rank)[1]
  return tonumber(cjson.decode(m).ts)
end
if cut < n and ts_at(cut) < before then
  local lo, hi = cut, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if ts_at(mid) < before then lo = mid + 1 else hi = mid end
  end
  cut = lo
end
cut = math.min(cut, tonumber(ARGV[3]))
if cut == 0 then return 0 end
local last = redis.call('ZRANGE', feed, cut - 1, cut - 1, 'WITHSCORES')
local floor = tonumber(last[2])
local mark = tonumber(redis.call('GET', KEYS[2]) or '0')
if floor > mark then redis.call('SET', KEYS[2], string.format('%d', floor)) end
local removed = redis.call('ZREMRANGEBYSCORE', feed, '-inf', floor)
for i = 3, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', floor) end
return removed
"""


class RedisRetention(RedisBase):
    """Event retention and idempotency expiry of ``RedisStore``."""

    #: Most events one trimming script removes (a larger backlog takes several calls).
    trim_step = 10_000

    _trim_feeds: Any = None

    def trim_events(self, keep: int, before_ts: float) -> int:
        """Drop events beyond the newest ``keep`` and those stamped before ``before_ts``,
        in script calls of at most ``trim_step`` events each."""
        if self._trim_feeds is None:
            self._trim_feeds = self.r.register_script(TRIM_FEEDS)
        communities = sorted(self.call(self.r.smembers, self._g("communities")))
        keys = [self._g("events"), self._g("events-trimmed")]
        keys += [self._g("events", cid) for cid in [*communities, "*"]]  # "*": rule events
        args = [max(0, int(keep)), repr(float(before_ts)), self.trim_step]
        total = 0
        while True:
            removed = int(self.call(self._trim_feeds, keys=keys, args=args))
            total += removed
            if removed < self.trim_step:
                return total

    def trimmed_seq(self) -> int:
        """The seq of the newest event trimmed away (0: none yet)."""
        raw = self.call(self.r.get, self._g("events-trimmed"))
        return int(raw) if raw else 0

    def expire_idempotency(self, now: float) -> int:
        """Nothing to do: Redis expires records and claims by their TTL."""
        return 0

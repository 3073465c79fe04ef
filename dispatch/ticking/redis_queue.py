"""The tick queue on the store's own Redis: a Stream read through a consumer group.

Keys (all in the global hash slot ``{~}``, so it runs on Redis Cluster):
``P:{~}:ticks`` (the stream; group ``dispatchers``), ``P:{~}:tick-pending``
(hash community → its pending entry), ``P:{~}:tick-next`` (hash community →
next due time by the callers' clock) and ``P:{~}:tick-beats`` (hash consumer
→ its last finished tick).

``offer`` is one script: a community with a pending entry, or not yet due, is
skipped, so each community has at most one tick in the stream. Consumers read
new entries with ``XREADGROUP``; an entry a consumer read but never
acknowledged (it died, or hangs) is taken over by another with
``XAUTOCLAIM`` once idle for ``reclaim_idle_s`` of server time. ``done``
acknowledges and deletes the entry and clears the community's pending mark in
one script.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from dispatch.store.redis import RedisStore
from dispatch.ticking.queue import TickClaim

__all__ = ["RedisTickQueue", "read_beats"]

GROUP = "dispatchers"

# KEYS[1] stream, KEYS[2] pending hash, KEYS[3] next-due hash;
# ARGV[1] now, then community id, interval pairs. Returns the ids enqueued.
_OFFER = """
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local cid = ARGV[i]
  if redis.call('HEXISTS', KEYS[2], cid) == 0 then
    local nxt = redis.call('HGET', KEYS[3], cid)
    if not nxt or tonumber(nxt) <= now then
      local id = redis.call('XADD', KEYS[1], '*', 'c', cid, 'at', ARGV[1])
      redis.call('HSET', KEYS[2], cid, id)
      redis.call('HSET', KEYS[3], cid, string.format('%.17g', now + tonumber(ARGV[i + 1])))
      out[#out + 1] = cid
    end
  end
end
return out
"""

# KEYS[1] stream, KEYS[2] pending hash; ARGV group, entry id, community id.
_DONE = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[2] then redis.call('HDEL', KEYS[2], ARGV[3]) end
return 1
"""


class RedisTickQueue:
    """``TickQueue`` on a ``RedisStore``'s connection and key prefix."""

    def __init__(self, store: RedisStore, *, reclaim_idle_s: float = 30.0) -> None:
        if not reclaim_idle_s > 0:
            raise ValueError("reclaim_idle_s must be positive")
        self.store = store
        self.reclaim_idle_s = reclaim_idle_s
        self.r: Any = store.r
        self._stream = store.global_key("ticks")
        self._pending_key = store.global_key("tick-pending")
        self._next_key = store.global_key("tick-next")
        self._beats_key = store.global_key("tick-beats")
        self._offer = self.r.register_script(_OFFER)
        self._done = self.r.register_script(_DONE)
        self._call(self._create_group)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.store.call(fn, *args, **kwargs)

    def _create_group(self) -> None:
        try:
            self.r.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def offer(self, communities: Sequence[tuple[str, float]], now: float) -> list[str]:
        if not communities:
            return []
        args: list[Any] = [repr(float(now))]
        for cid, interval in communities:
            args += [cid, repr(float(interval))]
        keys = [self._stream, self._pending_key, self._next_key]
        return [str(c) for c in self._call(self._offer, keys=keys, args=args)]

    def claim(self, consumer: str, count: int, now: float, block_s: float = 0.0) -> list[TickClaim]:
        out: list[TickClaim] = []
        idle_ms = max(1, int(self.reclaim_idle_s * 1000))
        reply = self._call(
            self.r.xautoclaim, self._stream, GROUP, consumer, idle_ms, "0-0", count=count
        )
        for entry_id, fields in reply[1]:
            if fields:  # a deleted entry (acknowledged meanwhile) has none
                out.append(TickClaim(fields["c"], entry_id, True, _at(fields)))
        left = count - len(out)
        if left > 0:
            block = int(block_s * 1000) if block_s > 0 and not out else None
            read = self._call(
                self.r.xreadgroup, GROUP, consumer, {self._stream: ">"}, count=left, block=block
            )
            for _stream, entries in read or []:
                for entry_id, fields in entries:
                    out.append(TickClaim(fields["c"], entry_id, offered_at=_at(fields)))
        return out

    def done(self, claim: TickClaim) -> None:
        keys = [self._stream, self._pending_key]
        self._call(self._done, keys=keys, args=[GROUP, claim.entry_id, claim.community_id])

    def pending(self) -> int:
        return int(self._call(self.r.hlen, self._pending_key))

    def beat(self, consumer: str, now: float) -> None:
        self._call(self.r.hset, self._beats_key, consumer, repr(float(now)))

    def beats(self) -> dict[str, float]:
        return read_beats(self.store)

    def reset(self) -> None:
        keys = [self._stream, self._pending_key, self._next_key, self._beats_key]
        for key in keys:  # one at a time: each is one slot, and so is every key here
            self._call(self.r.delete, key)
        self._call(self._create_group)


def _at(fields: dict[str, str]) -> float | None:
    raw = fields.get("at")
    return float(raw) if raw else None


def read_beats(store: RedisStore) -> dict[str, float]:
    """The workers' heartbeats on a store's Redis, without joining the queue."""
    raw = store.call(store.r.hgetall, store.global_key("tick-beats"))
    return {k: float(v) for k, v in raw.items()}

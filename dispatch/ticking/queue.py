"""Handing out due ticks: the ``TickQueue`` port and its in-process implementation.

Semantics every implementation keeps (one shared contract test checks them):

* ``offer`` enqueues one tick for each community whose interval has passed and
  that has no tick pending; so a slow worker causes no pile-up, and a
  community's next tick is due ``interval`` after it was offered.
* ``claim`` hands out pending ticks to one consumer: first those held longer than
  ``reclaim_idle_s`` by a consumer that stopped answering (it died or hangs),
  then new ones. A claimed tick stays pending until ``done``.
* ``done`` acknowledges a tick; only then can the community be offered again.
  Acknowledging twice, or a tick another consumer reclaimed, is harmless.
* ``beat`` records that a consumer finished a tick at ``now``; ``beats`` reads them
  (readiness: how long since any dispatcher last ticked).
* A claim carries ``offered_at``, the time its community was offered (due), so a
  worker can tell how late a tick starts.
* ``reset`` forgets everything (benchmarks between phases; never in service).
* Time is never read inside a queue: callers pass ``now`` from their clock.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MemoryTickQueue", "TickClaim", "TickQueue"]


@dataclass(frozen=True)
class TickClaim:
    """One handed-out tick: the community and the queue's id of the entry."""

    community_id: str
    entry_id: str
    reclaimed: bool = False  # taken over from a consumer that stopped answering
    offered_at: float | None = None  # when it was offered (due), by the callers' clock


class TickQueue(Protocol):
    """See the module docstring."""

    reclaim_idle_s: float

    def offer(self, communities: Sequence[tuple[str, float]], now: float) -> list[str]:
        """Enqueue due communities ``(id, interval_s)``; returns the ids enqueued."""
        ...

    def claim(self, consumer: str, count: int, now: float, block_s: float = 0.0) -> list[TickClaim]:
        """Up to ``count`` ticks for ``consumer``, reclaimed ones first."""
        ...

    def done(self, claim: TickClaim) -> None: ...

    def pending(self) -> int:
        """How many ticks are enqueued or held and not yet done."""
        ...

    def beat(self, consumer: str, now: float) -> None: ...

    def beats(self) -> dict[str, float]: ...

    def reset(self) -> None: ...


@dataclass
class _Entry:
    claim: TickClaim
    holder: str | None = None
    since: float = 0.0


class MemoryTickQueue:
    """The queue of one process (the embedded default: the memory store)."""

    def __init__(self, reclaim_idle_s: float = 30.0) -> None:
        if not reclaim_idle_s > 0:
            raise ValueError("reclaim_idle_s must be positive")
        self.reclaim_idle_s = reclaim_idle_s
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._entries: dict[str, _Entry] = {}  # entry id -> entry, in offer order
        self._pending: dict[str, str] = {}  # community -> entry id
        self._next: dict[str, float] = {}  # community -> next due time
        self._beats: dict[str, float] = {}

    def offer(self, communities: Sequence[tuple[str, float]], now: float) -> list[str]:
        out = []
        with self._lock:
            for cid, interval in communities:
                if cid in self._pending or self._next.get(cid, now) > now:
                    continue
                entry_id = f"{next(self._ids)}"
                self._entries[entry_id] = _Entry(TickClaim(cid, entry_id, offered_at=now))
                self._pending[cid] = entry_id
                self._next[cid] = now + interval
                out.append(cid)
        return out

    def claim(self, consumer: str, count: int, now: float, block_s: float = 0.0) -> list[TickClaim]:
        out: list[TickClaim] = []
        with self._lock:
            for e in self._entries.values():  # reclaim first, then new entries
                if len(out) >= count:
                    break
                if e.holder is not None and now - e.since >= self.reclaim_idle_s:
                    e.holder, e.since = consumer, now
                    c = e.claim
                    out.append(TickClaim(c.community_id, c.entry_id, True, c.offered_at))
            for e in self._entries.values():
                if len(out) >= count:
                    break
                if e.holder is None:
                    e.holder, e.since = consumer, now
                    out.append(e.claim)
        return out

    def done(self, claim: TickClaim) -> None:
        with self._lock:
            self._entries.pop(claim.entry_id, None)
            if self._pending.get(claim.community_id) == claim.entry_id:
                del self._pending[claim.community_id]

    def pending(self) -> int:
        with self._lock:
            return len(self._entries)

    def beat(self, consumer: str, now: float) -> None:
        with self._lock:
            self._beats[consumer] = max(now, self._beats.get(consumer, now))

    def beats(self) -> dict[str, float]:
        with self._lock:
            return dict(self._beats)

    def reset(self) -> None:
        """Forget every tick, due time and heartbeat (benchmarks between phases)."""
        with self._lock:
            self._entries.clear()
            self._pending.clear()
            self._next.clear()
            self._beats.clear()

"""The simulator's clockwork: a heap of timed events, and their priorities at equal times.

Workers act first, demand comes before reports and ticks, samples come last.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

AGENT, SHIFT, CANCEL, DEMAND, REPORT, TICK, SAMPLE = range(7)

#: One scheduled event: (seconds after the start, priority, sequence, kind, arguments).
Scheduled = tuple[float, int, int, str, tuple[Any, ...]]


class EventQueue:
    """Events by time, then priority, then the order they were scheduled in."""

    def __init__(self) -> None:
        self._heap: list[Scheduled] = []
        self._seq = itertools.count()

    def at(self, t_s: float, priority: int, kind: str, *data: Any) -> None:
        """Schedule the event ``kind(*data)`` at ``t_s`` seconds after the start."""
        heapq.heappush(self._heap, (t_s, priority, next(self._seq), kind, data))

    def pop(self) -> tuple[float, str, tuple[Any, ...]]:
        """The next event as (time, kind, arguments)."""
        t_s, _priority, _seq, kind, data = heapq.heappop(self._heap)
        return t_s, kind, data

    def __len__(self) -> int:
        return len(self._heap)

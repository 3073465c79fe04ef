"""Injected clocks: nothing in the engine reads the wall clock directly."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the Unix epoch (UTC), as a float."""

    def now(self) -> float: ...


class WallClock:
    """The real clock, for production."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to: tests and the simulator."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._now += seconds
        return self._now

    def set(self, t: float) -> None:
        if t < self._now:
            raise ValueError("a clock never goes back")
        self._now = float(t)

"""Caps on what one API key holds open at once in this process: long polls, WebSockets.

A waiting long poll or an open stream costs a task and a wake-up on every change;
without a cap one key could hold thousands and slow everyone's requests. The cap
is per process (a server with ``--workers N`` admits up to N times as many).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["Slots"]


class Slots:
    """At most ``limit`` concurrent holders per key; used only from the event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}

    def held(self, key: str) -> int:
        return self._held.get(key, 0)

    def try_acquire(self, key: str) -> bool:
        n = self._held.get(key, 0)
        if n >= self.limit:
            return False
        self._held[key] = n + 1
        return True

    def release(self, key: str) -> None:
        n = self._held.get(key, 0) - 1
        if n > 0:
            self._held[key] = n
        else:
            self._held.pop(key, None)

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[bool]:
        """Yields whether a slot was free; a slot taken is given back on exit."""
        got = self.try_acquire(key)
        try:
            yield got
        finally:
            if got:
                self.release(key)

"""Wake-ups for long polls and route streams when state may have changed.

Everything that can add events in this process (a mutating request, a
background tick) calls ``notify``; waiters wake at once instead of polling.
Changes made by other processes sharing a Redis store are not seen here, so
waiters also re-check after a bounded interval.
"""

from __future__ import annotations

import asyncio
import contextlib


class Changes:
    """A generation counter guarded by an ``asyncio.Condition``."""

    def __init__(self) -> None:
        self.generation = 0
        self.waiting = 0  # tasks waiting right now (tests order steps by it, without sleeping)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        # One condition per event loop: test clients may run the app on several loops.
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._loop, self._cond = loop, asyncio.Condition()
        return self._cond

    async def notify(self) -> None:
        """Something may have changed: wake every waiter."""
        cond = self._condition()
        async with cond:
            self.generation += 1
            cond.notify_all()

    async def wait(self, seen: int, timeout: float) -> int:
        """Wait until the generation differs from ``seen`` or ``timeout`` passes."""
        if timeout <= 0 or self.generation != seen:
            return self.generation
        cond = self._condition()
        self.waiting += 1
        try:
            async with cond:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cond.wait_for(lambda: self.generation != seen), timeout)
        finally:
            self.waiting -= 1
        return self.generation

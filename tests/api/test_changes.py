"""The wake-up primitive behind long polls and route pushes."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from api.changes import Changes

pytestmark = pytest.mark.anyio


async def test_waiters_wake_on_notify_and_see_the_new_generation() -> None:
    """Every waiter returns the bumped generation as soon as notify runs."""
    changes = Changes()
    seen = changes.generation
    with anyio.fail_after(10):
        waiters = [asyncio.create_task(changes.wait(seen, 60)) for _ in range(3)]
        while changes.waiting < 3:
            await asyncio.sleep(0)
        await changes.notify()
        assert await asyncio.gather(*waiters) == [seen + 1] * 3
    assert changes.waiting == 0


async def test_a_missed_change_returns_at_once_and_quiet_times_out() -> None:
    """A generation already past ``seen`` never waits; no change means the timeout ends it."""
    changes = Changes()
    await changes.notify()
    with anyio.fail_after(10):
        assert await changes.wait(0, 60) == 1
        assert await changes.wait(1, 0.01) == 1
        assert await changes.wait(1, 0) == 1

"""The wake-up primitive behind long polls and route pushes."""

from __future__ import annotations

import asyncio

import anyio
import httpx
import pytest
from fastapi import FastAPI

from api.changes import Changes
from tests.api.conftest import APP, OPS, OS, north, order_body

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


async def test_only_requests_that_change_state_wake_waiters(
    client: httpx.AsyncClient, courier: str, app: FastAPI
) -> None:
    """Quotes and positions wake nobody; an order wakes feed readers but not route streams;
    a dispatch wakes both."""
    feed, routes = app.state.changes, app.state.route_changes

    def seen() -> tuple[int, int]:
        return feed.generation, routes.generation

    before = seen()
    assert (await client.post("/v1/quotes", json=order_body(), headers=OS)).status_code == 200
    body = {"updates": [{"worker_id": "w1", **north(10)}]}
    assert (await client.post("/v1/locations", json=body, headers=APP)).status_code == 200
    assert seen() == before
    assert (await client.post("/v1/orders", json=order_body(), headers=OS)).status_code == 201
    assert seen() == (before[0] + 1, before[1])
    assert (await client.post("/v1/communities/c1/dispatch", headers=OPS)).status_code == 200
    assert seen() == (before[0] + 2, before[1] + 1)

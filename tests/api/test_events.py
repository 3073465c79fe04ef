"""The event feed: paging by sequence number, filters, and long polls that wake on changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import ApiSettings
from dispatch import Engine
from tests.api.conftest import CENTER, KEYS, OPS, OS, assert_problem, north, order_body

pytestmark = pytest.mark.anyio


async def test_pages_follow_the_sequence(client: httpx.AsyncClient, courier: str) -> None:
    """limit cuts a page; after=last_seq continues without gaps or repeats."""
    for _ in range(3):
        await client.post("/v1/orders", json=order_body(), headers=OS)
    everything = (await client.get("/v1/events", params={"limit": 1000}, headers=OPS)).json()
    seqs = [e["seq"] for e in everything["events"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    first = (await client.get("/v1/events", params={"limit": 2}, headers=OS)).json()
    rest = (await client.get("/v1/events", params={"after": first["last_seq"]}, headers=OS)).json()
    assert [e["seq"] for e in first["events"] + rest["events"]] == seqs
    assert first["events"][0]["ts"].endswith("Z")
    end = (await client.get("/v1/events", params={"after": rest["last_seq"]}, headers=OS)).json()
    assert end == {"events": [], "last_seq": rest["last_seq"]}


async def test_community_filter(client: httpx.AsyncClient, courier: str) -> None:
    """community_id keeps that community's events; an unknown one is 404."""
    await client.put("/v1/communities/c2", json={"name": "Other", "center": CENTER}, headers=OPS)
    feed = (await client.get("/v1/events", params={"community_id": "c2"}, headers=OS)).json()
    assert feed["events"] and {e["community_id"] for e in feed["events"]} == {"c2"}
    assert_problem(await client.get("/v1/events", params={"community_id": "c9"}, headers=OS), 404)


async def test_query_strings_refuse_non_finite_and_out_of_range(
    client: httpx.AsyncClient,
) -> None:
    """NaN, Infinity and negative numbers in the query are 422 with the field named."""
    for params in (
        {"wait_s": "NaN"},
        {"wait_s": "nan"},
        {"wait_s": "Infinity"},
        {"wait_s": "-inf"},
        {"wait_s": "31"},
        {"after": "-1"},
        {"after": "1e3"},
        {"limit": "0"},
        {"limit": "1001"},
    ):
        body = assert_problem(await client.get("/v1/events", params=params, headers=OS), 422)
        assert body["errors"][0]["loc"] == ["query", next(iter(params))]


@pytest.fixture
async def slow_recheck(engine: Engine) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app that re-reads the store only every 60 s: only a notification wakes a poll."""
    settings = ApiSettings(api_keys=KEYS, tick_enabled=False, feed_recheck_s=60)
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        yield app, c


async def test_long_poll_wakes_when_an_event_is_added(
    slow_recheck: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """A waiting poll returns the new event as soon as a request adds one."""
    app, client = slow_recheck
    await client.put("/v1/communities/c1", json={"name": "R", "center": CENTER}, headers=OPS)
    last = (await client.get("/v1/events", headers=OS)).json()["last_seq"]
    with anyio.fail_after(20):
        poll = asyncio.create_task(
            client.get("/v1/events", params={"after": last, "wait_s": 30}, headers=OS)
        )
        while app.state.changes.waiting == 0:  # the poll found nothing and is waiting
            await asyncio.sleep(0)
        r = await client.post("/v1/orders", json=order_body(), headers=OS)
        assert r.status_code == 201
        got: dict[str, Any] = (await poll).json()
    assert [e["type"] for e in got["events"]] == ["order.created"]
    assert got["events"][0]["entity_id"] == r.json()["id"]


async def test_wait_zero_answers_at_once(client: httpx.AsyncClient, courier: str) -> None:
    """With nothing new and no wait the answer is an empty page."""
    last = (await client.get("/v1/events", headers=OS)).json()["last_seq"]
    r = await client.get("/v1/events", params={"after": last, "wait_s": 0}, headers=OS)
    assert r.json() == {"events": [], "last_seq": last}
    ev = await client.post(
        "/v1/workers/w1/location", json=north(3), headers={"Authorization": "Bearer app-k"}
    )
    assert ev.status_code == 200  # locations are not events
    assert (await client.get("/v1/events", params={"after": last}, headers=OS)).json()[
        "events"
    ] == []

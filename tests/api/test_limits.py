"""Rate limits per key, failed authentication per address, and caps on long polls and streams.

Every test runs on the memory store, a real Redis and a real Redis Cluster (the
limits then live on the store's server, shared by every process).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from api.app import create_app
from api.gate import gate_of
from api.ratelimit import DEFAULT_RATE_LIMITS, parse_rate_limits
from api.settings import ApiSettings
from dispatch import Engine
from tests.api.conftest import (
    CENTER,
    COMMUNITY,
    KEYS,
    OPS,
    OS,
    PROBLEM,
    assert_problem,
    north,
    order_body,
)
from tests.api.limit_counting import CountingStrategy

pytestmark = pytest.mark.anyio


def _app(engine: Engine, **settings: Any) -> FastAPI:
    return create_app(ApiSettings(api_keys=KEYS, tick_enabled=False, **settings), engine=engine)


@contextlib.asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as c,
    ):
        yield c


async def _eventually(condition: Any, timeout_s: float = 5.0) -> bool:
    """Poll ``condition`` on the event loop until true or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return bool(condition())


def test_rate_limit_settings_parse_and_refuse_clearly() -> None:
    """Listed roles override the defaults, ``none`` lifts a limit, bad entries are named."""
    parsed = parse_rate_limits("order-service=5/minute,analyst=none")
    item = parsed["order-service"]
    assert item is not None and (item.amount, item.get_expiry()) == (5, 60)
    assert parsed["analyst"] is None
    assert parsed["courier-app"] is not None  # from the defaults
    assert "courier-app=500/second" in DEFAULT_RATE_LIMITS
    with pytest.raises(ValueError, match="entry 1"):
        ApiSettings(rate_limits="order-service=lots")
    with pytest.raises(ValueError, match="role=N/unit"):
        ApiSettings(rate_limits="robots=5/second")
    with pytest.raises(ValueError, match="30/minute"):
        ApiSettings(auth_failure_limit="often")


async def test_a_key_past_its_limit_gets_429_with_rate_limit_headers(engine: Engine) -> None:
    """Five quotes a minute: the sixth is a 429 problem with Retry-After and RateLimit."""
    app = _app(engine, rate_limits="order-service=5/minute")
    async with _client(app) as c:
        assert (await c.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)).is_success
        for _ in range(5):
            r = await c.post("/v1/quotes", json=order_body(), headers=OS)
            assert r.status_code == 200, r.text
        r = await c.post("/v1/quotes", json=order_body(), headers=OS)
        body = assert_problem(r, 429)
        assert body["code"] == "too_many_requests"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["ratelimit-policy"].endswith(";q=5;w=60")
        assert ";r=0;t=" in r.headers["ratelimit"]
        # Another key has its own budget; ops is not limited by the order service's use.
        assert (await c.get("/v1/communities/c1", headers=OPS)).status_code == 200


async def test_a_limit_holds_across_processes_sharing_a_store(engine: Engine) -> None:
    """Two apps on one store share a key's budget (memory: each process its own)."""
    settings = {"rate_limits": "order-service=4/minute"}
    first, second = _app(engine, **settings), _app(engine, **settings)
    async with _client(first) as a, _client(second) as b:
        assert (await a.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)).is_success
        for c in (a, b, a, b):
            assert (await c.post("/v1/quotes", json=order_body(), headers=OS)).status_code == 200
        shared = getattr(engine.store, "url", None) is not None
        r = await b.post("/v1/quotes", json=order_body(), headers=OS)
        assert r.status_code == (429 if shared else 200)


async def test_failed_authentication_is_limited_per_address(engine: Engine) -> None:
    """Three bad keys a minute; then the address gets 429 without its key being checked."""
    app = _app(engine, auth_failure_limit="3/minute")
    async with _client(app) as c:
        for _ in range(3):
            r = await c.get("/v1/communities/c1", headers={"Authorization": "Bearer wrong"})
            assert_problem(r, 401)
        r = await c.get("/v1/communities/c1", headers={"Authorization": "Bearer wrong"})
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1
        assert_problem(await c.get("/v1/communities/c1", headers=OPS), 429)
        assert_problem(await c.get("/v1/communities/c1"), 429)  # no key at all
        assert (await c.get("/healthz")).status_code == 200


async def test_long_polls_are_capped_per_key(engine: Engine) -> None:
    """One waiting long poll per key: a second one is 429, another key still waits."""
    app = _app(engine, max_waits_per_key=1)
    async with _client(app) as c:
        assert (await c.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)).is_success
        first = (await c.get("/v1/events", headers=OS)).json()["last_seq"]
        waiting = asyncio.create_task(
            c.get("/v1/events", params={"after": first, "wait_s": 10}, headers=OS)
        )
        try:
            waits = gate_of_app(app).waits
            key = app.state.auth.resolve("os-k").key_id
            assert await _eventually(lambda: waits.held(key) == 1)
            r = await c.get("/v1/events", params={"after": first, "wait_s": 10}, headers=OS)
            assert_problem(r, 429)
            ok = await c.get("/v1/events", params={"after": first, "wait_s": 0}, headers=OS)
            assert ok.status_code == 200  # a plain read takes no slot
            await c.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)  # wakes the waiter
            woken = await asyncio.wait_for(waiting, 10)
            assert woken.status_code == 200 and woken.json()["events"]
            assert waits.held(key) == 0
        finally:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting


def gate_of_app(app: FastAPI) -> Any:
    gate = app.state.gate
    assert gate is not None, "the gate is built by the first request"
    return gate


def _ready(c: TestClient) -> None:
    assert c.put("/v1/communities/c1", json={"name": "R", "center": CENTER}, headers=OPS).is_success
    w = {"kind": "courier", "community_id": "c1"}
    assert c.put("/v1/workers/w1", json=w, headers=OPS).is_success
    fix = c.post(
        "/v1/workers/w1/location", json=north(10), headers={"Authorization": "Bearer app-k"}
    )
    assert fix.is_success


def test_streams_are_capped_per_key(engine: Engine) -> None:
    """One open stream per key: a second handshake is refused with a 429 problem."""
    with TestClient(_app(engine, max_streams_per_key=1)) as c:
        _ready(c)
        with c.websocket_connect("/v1/workers/w1/stream?token=app-k") as ws:
            assert ws.receive_json()["type"] == "route"
            with (
                pytest.raises(WebSocketDenialResponse) as refused,
                c.websocket_connect("/v1/workers/w1/stream?token=app-k"),
            ):
                pass  # pragma: no cover - the handshake fails
            assert refused.value.status_code == 429
            assert refused.value.headers["content-type"].startswith(PROBLEM)
        # The slot is given back when the stream ends.
        with c.websocket_connect("/v1/workers/w1/stream?token=app-k") as ws:
            assert ws.receive_json()["type"] == "route"


def test_streams_take_the_key_from_a_subprotocol(engine: Engine) -> None:
    """``bearer.<key>`` beside ``dispatch.v1``: accepted, and only dispatch.v1 is echoed."""
    with TestClient(_app(engine)) as c:
        _ready(c)
        offered = ["dispatch.v1", "bearer.app-k"]
        with c.websocket_connect("/v1/workers/w1/stream", subprotocols=offered) as ws:
            assert ws.accepted_subprotocol == "dispatch.v1"
            assert ws.receive_json()["type"] == "route"
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            c.websocket_connect("/v1/workers/w1/stream", subprotocols=["bearer.nope"]),
        ):
            pass  # pragma: no cover - the handshake fails
        assert refused.value.status_code == 401


def test_gate_of_builds_one_gate_per_app(engine: Engine) -> None:
    """The gate is built once per app and kept."""
    with TestClient(_app(engine)) as c:
        assert c.get("/v1/communities/c1", headers=OPS).status_code == 404
        websocket_app = c.app
        assert isinstance(websocket_app, FastAPI)
        gate = websocket_app.state.gate
        assert gate is not None
        assert gate_of_conn(websocket_app) is gate


def gate_of_conn(app: FastAPI) -> Any:
    from starlette.requests import Request

    return gate_of(Request({"type": "http", "app": app, "headers": []}))


async def test_shared_limits_reserve_shares_and_never_exceed(engine: Engine) -> None:
    """On Redis a process reserves a tenth of the limit per round trip; refusals are local."""
    app = _app(engine, rate_limits="order-service=40/minute")
    async with _client(app) as c:
        assert (await c.get("/v1/communities/c1", headers=OPS)).status_code == 404
        keys = gate_of_app(app).keys
        counting = CountingStrategy(keys.limiter)
        keys.limiter = counting
        principal = app.state.auth.resolve("os-k")
        admitted = [(await keys.admit(principal)).allowed for _ in range(100)]
        assert sum(admitted) == 40 and all(admitted[:40])
        shared = getattr(engine.store, "url", None) is not None
        # Memory: one call per admitted request; Redis: ten reservations. Both: one
        # refusal reaches the storage (two calls), the other 59 are refused locally.
        assert counting.calls <= (10 if shared else 40) + 3


async def test_concurrent_requests_share_one_reservation(engine: Engine) -> None:
    """Thirty requests at once under 40/minute are all admitted (no reservation race)."""
    app = _app(engine, rate_limits="order-service=40/minute")
    async with _client(app) as c:
        assert (await c.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)).is_success
        replies = await asyncio.gather(
            *(c.post("/v1/quotes", json=order_body(), headers=OS) for _ in range(30))
        )
        assert [r.status_code for r in replies] == [200] * 30


def test_failed_stream_handshakes_count_as_failed_authentication(engine: Engine) -> None:
    """Bad keys on the WebSocket count per address too: the third refusal is a 429."""
    with TestClient(_app(engine, auth_failure_limit="2/minute")) as c:
        _ready(c)
        statuses = []
        for _ in range(3):
            with (
                pytest.raises(WebSocketDenialResponse) as refused,
                c.websocket_connect("/v1/workers/w1/stream?token=wrong"),
            ):
                pass  # pragma: no cover - the handshake fails
            statuses.append(refused.value.status_code)
        assert statuses == [401, 401, 429]

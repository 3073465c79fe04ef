"""An app per test on a manual clock, with keys for every role, over memory and Redis.

Requests go through the ASGI app with httpx (``AsyncClient`` + ``ASGITransport``);
WebSocket tests use Starlette's ``TestClient``. The engine uses the
regret-insertion policy: these tests are about the HTTP layer, not about
solution quality.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from dispatch import Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.policies import RegretInsertionPolicy
from dispatch.store.base import Store
from tests.conftest import redis_store

KEYS = (
    "ops-k=ops,os-k=order-service,app-k=courier-app,an-k=analyst,"
    "w1-k=courier-app@w1,multi-k=order-service+analyst"
)
OPS = {"Authorization": "Bearer ops-k"}
OS = {"Authorization": "Bearer os-k"}
APP = {"Authorization": "Bearer app-k"}
AN = {"Authorization": "Bearer an-k"}
W1 = {"Authorization": "Bearer w1-k"}
CENTER = {"lat": 31.2304, "lng": 121.4737}
PROBLEM = "application/problem+json"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def api_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """The engine's store: in memory, or a real Redis or Cluster with a key prefix of its own."""
    if request.param == "memory":
        yield MemoryStore()
        return
    store = redis_store(request, request.param, request.getfixturevalue("redis_prefix"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_engine(store: Store, clock: ManualClock) -> Engine:
    counter = itertools.count(1)
    return Engine(
        EngineSettings(),
        store,
        clock,
        ids=lambda p: f"{p}{next(counter)}",
        policy=RegretInsertionPolicy(),
    )


@pytest.fixture
def engine(api_store: Store, clock: ManualClock) -> Engine:
    return make_engine(api_store, clock)


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(ApiSettings(api_keys=KEYS, tick_enabled=False), engine=engine)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client speaking ASGI to the app, inside the app's lifespan."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        yield c


@pytest.fixture
def sync_client(app: FastAPI) -> Iterator[TestClient]:
    """Starlette's client, for WebSockets (one event loop for HTTP and sockets)."""
    with TestClient(app) as c:
        yield c


def north(metres: float, east: float = 0.0) -> dict[str, float]:
    """A point ``metres`` north (and ``east``) of the test community's centre."""
    return {"lat": CENTER["lat"] + metres / 111_195.0, "lng": CENTER["lng"] + east / 95_000.0}


def order_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"community_id": "c1", "pickup": north(100), "dropoff": north(900, 300)}
    body.update(kw)
    return body


def job_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "community_id": "c1",
        "location": north(300),
        "skills": ["plumbing"],
        "duration_min": 45,
        "service_type": "plumbing",
    }
    body.update(kw)
    return body


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


COMMUNITY = {"name": "Riverside", "center": CENTER}


@pytest.fixture
async def community(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
async def courier(client: httpx.AsyncClient, community: dict[str, Any]) -> str:
    """Courier w1 with a fresh position 10 m from the centre."""
    r = await client.put(
        "/v1/workers/w1", json={"kind": "courier", "community_id": "c1"}, headers=OPS
    )
    assert r.status_code == 200, r.text
    r = await client.post("/v1/workers/w1/location", json=north(10), headers=APP)
    assert r.status_code == 200, r.text
    return "w1"


@pytest.fixture
async def technician(client: httpx.AsyncClient, community: dict[str, Any]) -> str:
    """Technician t1 (plumbing) with a fresh position at the centre."""
    body = {"kind": "technician", "community_id": "c1", "skills": ["plumbing"], "capacity": 0}
    assert (await client.put("/v1/workers/t1", json=body, headers=OPS)).status_code == 200
    r = await client.post("/v1/workers/t1/location", json=north(0), headers=APP)
    assert r.status_code == 200, r.text
    return "t1"

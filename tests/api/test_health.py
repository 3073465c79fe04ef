"""Liveness, readiness and Prometheus metrics, without auth."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from api.app import create_app
from api.metrics import Metrics
from api.settings import ApiSettings
from dispatch import ManualClock
from dispatch.requests import TickResult
from tests.api.conftest import APP, OPS, OS, assert_problem, make_engine, north, order_body

pytestmark = pytest.mark.anyio


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    """Both answer 200 without a key while the store is reachable."""
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_readyz_is_503_when_the_store_is_down() -> None:
    """A Redis store nobody listens on makes readiness fail with a problem."""
    from dispatch.store.redis import RedisStore

    store = RedisStore("redis://127.0.0.1:1/0?socket_connect_timeout=1")
    app = create_app(
        ApiSettings(api_keys="k=ops", tick_enabled=False), engine=make_engine(store, ManualClock())
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a") as c:
            r = await c.get("/readyz")
            assert assert_problem(r, 503)["code"] == "unavailable"
            assert (await c.get("/healthz")).status_code == 200
            down = await c.get("/v1/communities/c1", headers={"Authorization": "Bearer k"})
            assert assert_problem(down, 503)["code"] == "store_unavailable"
            assert down.headers["retry-after"]
    finally:
        store.close()


async def test_metrics_expose_dispatch_series(client: httpx.AsyncClient, courier: str) -> None:
    """Latency by route template, ticks, locations, orders by state, surge by community."""
    await client.post("/v1/quotes", json=order_body(), headers=OS)
    await client.post("/v1/orders", json=order_body(), headers=OS)
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    await client.post("/v1/workers/w1/location", json=north(2000, 2000), headers=APP)
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'dispatch_http_request_duration_seconds_bucket{le="0.005",method="POST"' in text
    assert 'route="/v1/workers/{worker_id}/location"' in text
    assert "dispatch_tick_duration_seconds_count 1.0" in text
    assert 'dispatch_ticks_total{outcome="done"} 1.0' in text
    assert 'dispatch_location_updates_total{outcome="accepted"} 2.0' in text  # + the fixture's
    assert 'dispatch_orders{state="assigned"} 1.0' in text
    assert 'dispatch_surge_multiplier{community="c1"}' in text
    assert "w1" not in text.replace('route="/v1/workers/{worker_id}', "")


async def test_each_app_has_its_own_registry(client: httpx.AsyncClient) -> None:
    """A second app in the same process starts from zero."""
    await client.get("/healthz")
    other = create_app(ApiSettings(tick_enabled=False))
    assert b'route="/healthz"' not in other.state.metrics.render()


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    """A sane X-Request-ID comes back; a missing or odd one is replaced by a fresh id."""
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = (await client.get("/healthz")).headers["x-request-id"]
    odd = (await client.get("/healthz", headers={"X-Request-ID": "a b\tc"})).headers["x-request-id"]
    assert len(made) == 32 and len(odd) == 32 and made != odd


def test_tick_outcomes_are_counted() -> None:
    """Fallbacks and lost version races (retries) are counted; skipped ticks only as skipped."""
    metrics = Metrics()
    result = TickResult("c1", 1, 0, 12.0, 3, fallback=True, retries=2)
    metrics.observe_tick(result)
    metrics.observe_tick(dataclasses.replace(result, skipped=True))
    text = metrics.render()
    assert b"dispatch_solver_fallbacks_total 1.0" in text
    assert b"dispatch_tick_retries_total 2.0" in text
    assert b'dispatch_ticks_total{outcome="skipped"} 1.0' in text

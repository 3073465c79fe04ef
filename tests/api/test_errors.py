"""Every error is problem+json: bad bodies, unknown paths, wrong methods, oversize bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from dispatch import Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.model import Community
from tests.api.conftest import CENTER, OPS, OS, assert_problem, north, order_body

pytestmark = pytest.mark.anyio
JSON = {"content-type": "application/json"}
MIB = 1024 * 1024


async def test_non_finite_numbers_in_bodies_are_422(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """NaN and ±Infinity (which Python's json writes) are refused with the field named."""
    for value in (float("nan"), float("inf"), float("-inf")):
        raw = json.dumps(order_body(pickup={"lat": value, "lng": 121.47}))
        r = await client.post("/v1/quotes", content=raw, headers={**OS, **JSON})
        assert assert_problem(r, 422)["errors"][0]["loc"][:2] == ["body", "pickup"]
    raw = json.dumps({"name": "x", "center": CENTER, "radius_m": float("nan")})
    assert_problem(
        await client.put("/v1/communities/c2", content=raw, headers={**OPS, **JSON}), 422
    )


async def test_malformed_and_mistyped_bodies_are_422(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Broken JSON, a list instead of an object, strings for numbers, missing bodies."""
    for raw in (b"{", b"[1, 2]", b'{"community_id": "c1", "pickup": "here"}', b"", b"\xff\xfe"):
        assert_problem(await client.post("/v1/quotes", content=raw, headers={**OS, **JSON}), 422)
    as_text = order_body(pickup={"lat": "31.2", "lng": "121.4"})
    assert_problem(await client.post("/v1/quotes", json=as_text, headers=OS), 422)
    assert_problem(await client.post("/v1/quotes", headers=OS), 422)


async def test_unknown_paths_and_methods(client: httpx.AsyncClient) -> None:
    """404 for unknown paths, 405 with Allow for known paths, both problem+json."""
    assert_problem(await client.get("/v1/nowhere", headers=OS), 404)
    assert_problem(await client.get("/", headers=OS), 404)
    r = await client.delete("/v1/communities/c1", headers=OPS)
    assert_problem(r, 405)
    assert set(r.headers["allow"].split(", ")) == {"GET", "PUT"}
    assert_problem(await client.put("/v1/orders", headers=OS), 405)


async def test_body_over_the_limit_is_413(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """1 MiB passes the limit; 1 MiB + 1 byte is 413 problem+json; the app still serves."""
    at_limit = b" " * (MIB - 2) + b"{}"
    r = await client.put("/v1/communities/c3", content=at_limit, headers={**OPS, **JSON})
    assert_problem(r, 422)  # read, and refused for its content
    over = b" " * MIB + b"{}"
    r = await client.put("/v1/communities/c3", content=over, headers={**OPS, **JSON})
    assert assert_problem(r, 413)["code"] == "content_too_large"
    assert (await client.get("/v1/communities/c1", headers=OPS)).status_code == 200


async def test_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Without Content-Length the bytes are counted as they arrive."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(40):
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    r = await client.put("/v1/communities/c3", content=chunks(), headers={**OPS, **JSON})
    assert "content-length" not in r.request.headers
    assert_problem(r, 413)
    assert_problem(await client.get("/v1/communities/c3", headers=OPS), 404)  # nothing created


async def test_oversize_check_comes_before_auth(client: httpx.AsyncClient) -> None:
    """A huge body is refused before anything else looks at it, even without a key."""
    r = await client.post("/v1/quotes", content=b"x" * (MIB + 1), headers=JSON)
    assert_problem(r, 413)


class _BrokenEngine(Engine):
    """An engine with a bug: reading a community crashes."""

    def get_community(self, community_id: str) -> Community:
        raise RuntimeError("boom")


async def test_unexpected_errors_are_500_problems_without_details() -> None:
    """A crash inside the engine is a 500 problem that does not leak the exception text."""
    engine = _BrokenEngine(EngineSettings(), MemoryStore(), ManualClock())
    app = create_app(ApiSettings(api_keys="k=ops", tick_enabled=False), engine=engine)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://a") as c:
        r = await c.get("/v1/communities/c1", headers={"Authorization": "Bearer k"})
    assert assert_problem(r, 500)["code"] == "internal"
    assert "boom" not in r.text


async def test_location_outside_and_malformed_coordinates(
    client: httpx.AsyncClient, courier: str
) -> None:
    """Coordinates must be numbers in range; booleans and strings are not numbers."""
    for body in ({"lat": True, "lng": 1}, {"lat": "1", "lng": 1}, {"lat": 1}, {**north(1), "x": 1}):
        r = await client.post(
            "/v1/workers/w1/location", json=body, headers={"Authorization": "Bearer app-k"}
        )
        assert_problem(r, 422)

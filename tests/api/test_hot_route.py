"""Hot routes: the common case served without FastAPI's solver, everything else by FastAPI.

A small app with one ``@hot`` route shows which requests take which path (a spy
stands in for FastAPI's handler); the real app shows that both paths answer alike.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from api.hot_route import hot, hot_handler
from api.strict_query import StrictQueryRoute
from tests.api.conftest import OS, order_body

pytestmark = pytest.mark.anyio


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=0)


class Out(BaseModel):
    n: int
    key: str | None
    who: str


calls: list[str] = []


async def who(request: Request) -> str:
    calls.append("who")
    return request.headers.get("x-who", "anonymous")


Who = Annotated[str, Depends(who)]
Key = Annotated[str | None, Header(alias="Idempotency-Key", min_length=2)]


async def _post(app: FastAPI, body: bytes, **kw: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.post("/things", content=body, **kw)


def _spy_app() -> tuple[FastAPI, list[str]]:
    """The app with its route's fallback replaced by a spy that answers 299."""
    from starlette.responses import Response

    router = APIRouter(route_class=StrictQueryRoute)

    @router.post("/things", status_code=201)
    @hot
    async def post_thing(body: Body, by: Who, key: Key = None) -> Out:
        return Out(n=body.n, key=key, who=by)

    route = next(r for r in router.routes if getattr(r, "path", "") == "/things")
    fell_back: list[str] = []

    async def spy(request: Request) -> Response:
        fell_back.append(request.url.path)
        return Response(status_code=299)

    handler = hot_handler(route, spy)  # type: ignore[arg-type]

    async def endpoint(request: Request) -> Response:
        return await handler(request)

    app = FastAPI()
    app.add_route("/things", endpoint, methods=["POST"])
    return app, fell_back


JSON = {"content-type": "application/json"}


async def test_the_common_case_is_served_directly_with_the_declared_status() -> None:
    app, fell_back = _spy_app()
    calls.clear()
    r = await _post(app, b'{"n": 3}', headers={**JSON, "Idempotency-Key": "k1", "x-who": "ann"})
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    assert r.json() == {"n": 3, "key": "k1", "who": "ann"}
    assert fell_back == [] and calls == ["who"]
    r = await _post(app, b'{"n": 4}', headers=JSON)  # an optional header left out
    assert r.status_code == 201 and r.json() == {"n": 4, "key": None, "who": "anonymous"}


@pytest.mark.parametrize(
    ("body", "headers", "query"),
    [
        (b'{"n": 3}', {"content-type": "application/json; charset=utf-8"}, ""),
        (b'{"n": 3}', {"content-type": "text/plain"}, ""),
        (b'{"n": 3}', {}, ""),
        (b'{"n": 3', JSON, ""),  # not JSON
        (b'{"n": -1}', JSON, ""),  # refused by the model
        (b'{"n": 1, "m": 2}', JSON, ""),  # an unknown field
        (b'{"n": 3}', {**JSON, "Idempotency-Key": "k"}, ""),  # header too short
        (b'{"n": 3}', JSON, "?x=1"),  # a query string: the strict check decides
    ],
)
async def test_everything_else_goes_to_fastapi_before_any_dependency_runs(
    body: bytes, headers: dict[str, str], query: str
) -> None:
    app, fell_back = _spy_app()
    calls.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post("/things" + query, content=body, headers=headers)
    assert r.status_code == 299 and fell_back == ["/things"] and calls == []


def test_routes_it_cannot_serve_exactly_are_refused_when_declared() -> None:
    router = APIRouter(route_class=StrictQueryRoute)

    async def with_path(x: str, body: Body) -> Out:
        raise AssertionError

    def sync_endpoint(body: Body) -> Out:
        raise AssertionError

    async def no_model(body: Body) -> dict[str, int]:
        raise AssertionError

    async def no_body(by: Who) -> Out:
        raise AssertionError

    for path, endpoint, why in [
        ("/a/{x}", with_path, "path, query or cookie"),
        ("/b", sync_endpoint, "async def"),
        ("/c", no_model, "pydantic response model"),
        ("/d", no_body, "one JSON body"),
    ]:
        with pytest.raises(TypeError, match=f"cannot be hot: .*{why}"):
            router.post(path)(hot(endpoint))
    assert router.routes == []


async def test_the_real_order_route_answers_alike_on_both_paths(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """The same order through the hot path and through FastAPI (a charset in the
    content type sends it there): same status, same fields, same values."""
    body = order_body()
    raw = json.dumps(body).encode()
    answers = []
    for content_type in ("application/json", "application/json; charset=utf-8"):
        headers = {**OS, "content-type": content_type}
        r = await client.post("/v1/orders", content=raw, headers=headers)
        assert r.status_code == 201, r.text
        answers.append(r.json())
    fast, slow = answers
    assert fast.keys() == slow.keys()
    differ = {k for k in fast if fast[k] != slow[k]}
    assert differ <= {"id", "created_at", "ready_at", "promised_by", "eta", "updated_at"}
    assert "id" in differ
    # and refusals keep FastAPI's shape on either path
    bad = {**body, "size": 0}
    r = await client.post("/v1/orders", json=bad, headers=OS)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = await client.post("/v1/orders", json=body)  # no key: the role check refuses
    assert r.status_code == 401


async def test_on_redis_a_warm_server_accepts_orders_on_the_loop_and_counts_it(
    request: pytest.FixtureRequest, redis_prefix: str
) -> None:
    """The first order fills the caches on the thread path; the next ones are awaited on
    the event loop; ``/metrics`` counts both."""
    from api.app import create_app
    from api.settings import ApiSettings
    from dispatch import Engine, EngineSettings, ManualClock
    from tests.api.conftest import COMMUNITY, KEYS, OPS
    from tests.conftest import redis_store

    store = redis_store(request, "redis", redis_prefix)
    try:
        engine = Engine(EngineSettings(), store, ManualClock(), read_cache_s=3600.0)
        app = create_app(ApiSettings(api_keys=KEYS, tick_enabled=False), engine=engine)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://api") as c,
        ):
            r = await c.put("/v1/communities/c1", json=COMMUNITY, headers=OPS)
            assert r.status_code in (200, 201), r.text
            ids = []
            for i in range(3):
                headers = {**OS, "Idempotency-Key": f"k{i}"}
                r = await c.post("/v1/orders", json=order_body(community_id="c1"), headers=headers)
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            again = await c.post(
                "/v1/orders",
                json=order_body(community_id="c1"),
                headers={**OS, "Idempotency-Key": "k0"},
            )
            assert again.status_code == 201 and again.json()["id"] == ids[0]  # replayed
            metrics = (await c.get("/metrics", headers=OPS)).text
        assert 'dispatch_engine_calls_total{path="loop"} 2.0' in metrics
        assert 'dispatch_engine_calls_total{path="thread"} 2.0' in metrics  # cold, retry
        assert len(set(ids)) == 3 and all(store.get_order(i) is not None for i in ids)
    finally:
        store.close()

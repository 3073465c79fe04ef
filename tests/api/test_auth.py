"""API keys and roles: 401 for missing or unknown keys, 403 for a missing role or worker."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import Authenticator, parse_keys
from api.settings import ApiSettings
from tests.api.conftest import (
    AN,
    APP,
    OPS,
    OS,
    W1,
    assert_problem,
    job_body,
    make_engine,
    north,
    order_body,
)

pytestmark = pytest.mark.anyio

# Every authenticated route with a body good enough to get past validation.
ROUTES: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/v1/communities", None, {"ops"}),
    ("PUT", "/v1/communities/c1", {"name": "R", "center": north(0)}, {"ops"}),
    ("GET", "/v1/communities/c1", None, {"ops", "order-service", "courier-app", "analyst"}),
    ("GET", "/v1/communities/c1/workers", None, {"ops"}),
    ("POST", "/v1/communities/c1/dispatch", None, {"ops"}),
    ("GET", "/v1/communities/c1/surge", None, {"analyst", "ops"}),
    ("PUT", "/v1/workers/w1", {"kind": "courier", "community_id": "c1"}, {"ops"}),
    ("GET", "/v1/workers/w1", None, {"courier-app", "ops"}),
    ("POST", "/v1/workers/w1/location", north(1), {"courier-app"}),
    ("GET", "/v1/workers/w1/route", None, {"courier-app", "ops"}),
    ("POST", "/v1/locations", {"updates": [{"worker_id": "w1", **north(1)}]}, {"courier-app"}),
    ("POST", "/v1/quotes", order_body(), {"order-service"}),
    ("POST", "/v1/orders", order_body(), {"order-service"}),
    ("GET", "/v1/orders/o1", None, {"order-service", "ops"}),
    ("POST", "/v1/orders/o1/cancel", None, {"order-service", "ops"}),
    ("POST", "/v1/orders/o1/events", {"type": "picked_up", "worker_id": "w1"}, {"courier-app"}),
    ("POST", "/v1/jobs", job_body(), {"order-service"}),
    ("GET", "/v1/jobs/j1", None, {"order-service", "ops"}),
    ("POST", "/v1/jobs/j1/cancel", None, {"order-service", "ops"}),
    ("POST", "/v1/jobs/j1/events", {"type": "started", "worker_id": "w1"}, {"courier-app"}),
    ("GET", "/v1/events", None, {"order-service", "ops"}),
    ("GET", "/v1/surge/rules", None, {"analyst", "ops"}),
    ("PUT", "/v1/surge/rules", {}, {"analyst"}),
    ("POST", "/v1/surge/rules/preview", {}, {"analyst"}),
]
ROLE_HEADERS = {"ops": OPS, "order-service": OS, "courier-app": APP, "analyst": AN}


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
async def test_every_route_answers_401_without_a_valid_key(
    client: httpx.AsyncClient, method: str, path: str, body: Any, roles: set[str]
) -> None:
    """No key, an unknown key or another scheme: 401 with a Bearer challenge, never 403."""
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic b3BzLWs="}):
        r = await client.request(method, path, json=body, headers=headers)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
async def test_every_route_answers_403_to_the_other_roles(
    client: httpx.AsyncClient, method: str, path: str, body: Any, roles: set[str]
) -> None:
    """A valid key without one of the route's roles gets 403, and the right role gets past."""
    for role, headers in ROLE_HEADERS.items():
        r = await client.request(method, path, json=body, headers=headers)
        if role in roles:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert assert_problem(r, 403)["code"] == "forbidden"
            assert "www-authenticate" not in r.headers


async def test_key_with_two_roles_passes_both(client: httpx.AsyncClient, courier: str) -> None:
    """order-service+analyst may quote and read surge rules."""
    multi = {"Authorization": "Bearer multi-k"}
    assert (await client.post("/v1/quotes", json=order_body(), headers=multi)).status_code == 200
    assert (await client.get("/v1/surge/rules", headers=multi)).status_code == 200
    assert_problem(await client.get("/v1/communities/c1/workers", headers=multi), 403)


async def test_bound_courier_key_acts_only_for_its_workers(
    client: httpx.AsyncClient, courier: str
) -> None:
    """A key bound to w1 moves and reads w1 but not w2, in single and batch calls."""
    await client.put("/v1/workers/w2", json={"kind": "courier", "community_id": "c1"}, headers=OPS)
    assert (await client.post("/v1/workers/w1/location", json=north(5), headers=W1)).is_success
    assert_problem(await client.post("/v1/workers/w2/location", json=north(5), headers=W1), 403)
    assert_problem(await client.get("/v1/workers/w2/route", headers=W1), 403)
    assert_problem(await client.get("/v1/workers/w2", headers=W1), 403)
    batch = {"updates": [{"worker_id": "w2", **north(5)}, {"worker_id": "w1", **north(6)}]}
    out = (await client.post("/v1/locations", json=batch, headers=W1)).json()
    assert out["accepted"] == 1 and [e["index"] for e in out["errors"]] == [0]
    event = {"type": "picked_up", "worker_id": "w2"}
    assert_problem(await client.post("/v1/orders/o1/events", json=event, headers=W1), 403)


def test_key_spec_parsing() -> None:
    """Roles split on '+', bound workers on '|'; malformed entries name their position."""
    keys = parse_keys("a=ops, b=order-service+analyst\n# comment\nc=courier-app@w1|w2")
    assert keys["a"].roles == {"ops"} and keys["a"].workers is None
    assert keys["b"].roles == {"order-service", "analyst"}
    assert keys["c"].workers == {"w1", "w2"} and keys["c"].may_act_for("w2")
    assert not keys["c"].may_act_for("w3")
    for bad in ("a", "a=", "=ops", "a=admin", "a=ops@w1", "a=courier-app@", "a=ops,a=ops"):
        with pytest.raises(ValueError, match="entry"):
            parse_keys(bad)


def test_keys_from_a_file(tmp_path: Path) -> None:
    """DISPATCH_API_KEYS_FILE entries join those of DISPATCH_API_KEYS."""
    path = tmp_path / "keys"
    path.write_text("f1=analyst\n")
    app = create_app(ApiSettings(api_keys="e1=ops", api_keys_file=path, tick_enabled=False))
    auth: Authenticator = app.state.auth
    assert auth.resolve("f1").roles == {"analyst"} and auth.resolve("e1").roles == {"ops"}


def test_malformed_key_spec_refuses_to_build_the_app() -> None:
    """A typo in the keys stops the app from starting instead of running open."""
    with pytest.raises(ValueError, match="unknown roles"):
        create_app(ApiSettings(api_keys="k=opps", tick_enabled=False))


async def test_open_mode_grants_every_role_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without keys every route is open, and starting says so loudly."""
    from dispatch import ManualClock, MemoryStore

    app = create_app(
        ApiSettings(api_keys="", tick_enabled=False),
        engine=make_engine(MemoryStore(), ManualClock()),
    )
    with caplog.at_level(logging.WARNING, logger="api.app"):
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a") as c,
        ):
            r = await c.put("/v1/communities/c1", json={"name": "R", "center": north(0)})
            assert r.status_code == 200
            assert (await c.get("/v1/surge/rules")).status_code == 200
    assert any("NO API KEYS" in rec.getMessage() for rec in caplog.records)

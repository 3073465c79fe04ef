"""The hardened edge in process, on every store: sane times, strict queries, retention,
capped error lists, 503s without infrastructure names, closable docs and metrics, roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from dispatch import Engine, ManualClock
from dispatch.model import Job, LatLng, Price, Worker, WorkerKind
from dispatch.store.base import NewEvent
from tests.api.conftest import (
    AN,
    APP,
    CENTER,
    KEYS,
    OPS,
    OS,
    assert_problem,
    job_body,
    make_engine,
    north,
    order_body,
)

pytestmark = pytest.mark.anyio

YEAR_ONE = "0001-01-01T00:00+14:00"
YEAR_9999 = "9999-12-31T23:59:59-14:00"
LEGACY = -62_135_596_800.0 - 50_400.0  # what year one at +14:00 was once stored as


# ---- times -----------------------------------------------------------------------


@pytest.mark.parametrize("when", [YEAR_ONE, YEAR_9999, "1999-12-31T23:59:59Z"])
async def test_a_shift_end_out_of_range_is_422_and_nothing_is_stored(
    client: httpx.AsyncClient, community: dict[str, Any], when: str
) -> None:
    """The issue's shift ends: refused at the edge, the worker never exists."""
    body = {"kind": "courier", "community_id": "c1", "shift_end": when}
    r = await client.put("/v1/workers/w9", json=body, headers=OPS)
    assert assert_problem(r, 422)["errors"][0]["loc"][-1] == "shift_end"
    assert_problem(await client.get("/v1/workers/w9", headers=OPS), 404)
    assert (await client.get("/v1/communities/c1/workers", headers=OPS)).status_code == 200


@pytest.mark.parametrize(
    ("start", "end"),
    [(YEAR_ONE, "2026-01-01T10:00:00Z"), ("2026-01-01T09:00:00Z", YEAR_9999)],
)
async def test_a_job_window_out_of_range_is_422_and_nothing_is_stored(
    client: httpx.AsyncClient, community: dict[str, Any], start: str, end: str
) -> None:
    """The issue's windows: 422, no job created, no event, replay of the key still 422."""
    before = (await client.get("/v1/events", headers=OPS)).json()["last_seq"]
    body = job_body(window={"start": start, "end": end})
    headers = {**OS, "Idempotency-Key": "window-key-0001"}
    for _ in range(2):
        assert_problem(await client.post("/v1/jobs", json=body, headers=headers), 422)
    events = (await client.get("/v1/events", params={"after": before}, headers=OPS)).json()
    assert not [e for e in events["events"] if e["type"].startswith("job.")]


def test_the_engine_holds_times_to_90_days_ahead(engine: Engine, clock: ManualClock) -> None:
    """Any path into the engine (not only HTTP) is checked: InvalidInput, nothing stored."""
    from dispatch.errors import InvalidInput
    from dispatch.requests import CommunitySpec, JobRequest, WorkerSpec

    engine.upsert_community(CommunitySpec("c1", "R", LatLng(CENTER["lat"], CENTER["lng"])))
    now = clock.now()
    with pytest.raises(InvalidInput, match="90 days"):
        engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1", shift_end=now + 91 * 86400))
    with pytest.raises(InvalidInput, match="2000"):
        engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1", shift_end=LEGACY))
    assert engine.store.get_worker("w1") is None
    window = JobRequest(
        "c1",
        LatLng(CENTER["lat"], CENTER["lng"]),
        frozenset({"plumbing"}),
        30,
        window_start=now + 3600,
        window_end=now + 91 * 86400,
    )
    with pytest.raises(InvalidInput, match="90 days"):
        engine.create_job(window)
    assert engine.open_jobs("c1") == []
    ok = engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1", shift_end=now + 3600))
    assert ok.shift_end == now + 3600


async def test_records_stored_out_of_range_never_make_a_read_fail(
    client: httpx.AsyncClient, engine: Engine, community: dict[str, Any]
) -> None:
    """Legacy records (year one, year 9999) read, list, cancel and tick; times clamped."""
    store = engine.store
    store.put_worker(Worker("w8", WorkerKind.COURIER, "c1", shift_end=LEGACY))
    store.put_worker(Worker("w9", WorkerKind.COURIER, "c1", shift_end=253_402_300_799.0 + 50_400))
    price = Price(10.0, 1.0, 10.0, 1)
    p = LatLng(CENTER["lat"], CENTER["lng"])
    job = Job("j9", "c1", p, frozenset({"plumbing"}), 1800.0, engine.clock.now(), price)
    job = Job(**{**job.__dict__, "window_start": LEGACY, "window_end": 253_402_300_799.0})
    store.write("c1", jobs=[job], expect={"j9": 0})
    r = await client.get("/v1/workers/w8", headers=OPS)
    assert r.status_code == 200 and r.json()["shift_end"].startswith("2000-01-01")
    assert (await client.get("/v1/workers/w9", headers=OPS)).status_code == 200
    listed = await client.get("/v1/communities/c1/workers", headers=OPS)
    assert listed.status_code == 200 and {w["id"] for w in listed.json()} >= {"w8", "w9"}
    got = await client.get("/v1/jobs/j9", headers=OS)
    assert got.status_code == 200, got.text
    assert (await client.post("/v1/communities/c1/dispatch", headers=OPS)).status_code == 200
    assert (await client.post("/v1/jobs/j9/cancel", headers=OPS)).status_code == 200


# ---- query strings ---------------------------------------------------------------


def test_every_http_route_checks_its_query_string() -> None:
    """Strict query strings hold on every route because each is a ``StrictQueryRoute``:
    a router made without that route class would silently accept unknown parameters."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from api.strict_query import StrictQueryRoute

    app = create_app(ApiSettings(api_keys=KEYS, tick_enabled=False))
    routes = [c.original_route for c in iter_route_contexts(app.routes)]
    api_routes = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api_routes) > 40
    assert [r.path for r in api_routes if not isinstance(r, StrictQueryRoute)] == []


async def test_unknown_query_parameters_are_422(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """A typo in a query is refused, on routes with and without query parameters."""
    r = await client.get("/v1/events", params={"afetr": 5}, headers=OPS)
    assert assert_problem(r, 422)["errors"] == [
        {"loc": ["query", "afetr"], "msg": "unknown query parameter", "type": "extra_forbidden"}
    ]
    assert_problem(await client.get("/v1/communities/c1", params={"x": 1}, headers=OPS), 422)
    ok = await client.get("/v1/events", params={"after": 0, "limit": 5}, headers=OPS)
    assert ok.status_code == 200


# ---- retention -------------------------------------------------------------------


async def test_a_cursor_older_than_the_retention_is_410(
    client: httpx.AsyncClient, engine: Engine, community: dict[str, Any]
) -> None:
    """After a trim, after=0 starts at the oldest kept event; a trimmed cursor is 410."""
    now = engine.clock.now()
    engine.store.append_events([NewEvent(now, "c1", "worker.upserted", "w1", {}) for _ in range(6)])
    last = engine.store.last_seq()
    assert engine.store.trim_events(2, before_ts=0.0) > 0
    kept = (await client.get("/v1/events", headers=OPS)).json()
    assert [e["seq"] for e in kept["events"]] == [last - 1, last]
    gone = await client.get("/v1/events", params={"after": 1}, headers=OPS)
    assert f"after={last - 2}" in assert_problem(gone, 410)["detail"]
    resumed = await client.get("/v1/events", params={"after": last - 2}, headers=OPS)
    assert [e["seq"] for e in resumed.json()["events"]] == [last - 1, last]
    one = {"after": 1, "community_id": "c1"}
    assert_problem(await client.get("/v1/events", params=one, headers=OPS), 410)


async def test_the_servers_sweep_trims_by_its_settings(engine: Engine) -> None:
    """The background janitor applies DISPATCH_EVENTS_RETENTION_COUNT. Its first sweep
    runs at start-up, concurrently with the one awaited here: whichever trims, the
    feed keeps the newest 100 events."""
    app = create_app(
        ApiSettings(api_keys=KEYS, tick_enabled=False, events_retention_count=100), engine=engine
    )
    now = engine.clock.now()
    engine.store.append_events([NewEvent(now, "c1", "x", "e", {}) for _ in range(150)])
    async with app.router.lifespan_context(app):
        result = await app.state.janitor.sweep_once()
    assert result is not None and result.events in (0, 50)
    assert engine.store.trimmed_seq() == 50
    assert [e.seq for e in engine.store.events_after(0)] == list(range(51, 151))


# ---- errors ----------------------------------------------------------------------


async def test_error_lists_are_capped_at_50_with_a_count(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Sixty bad items: the first 50 problems and error_count 60."""
    updates = [{"worker_id": "w1", "lat": "north", "lng": 0.0} for _ in range(60)]
    r = await client.post("/v1/locations", json={"updates": updates}, headers=APP)
    body = assert_problem(r, 422)
    assert len(body["errors"]) == 50 and body["error_count"] == 60


async def test_too_many_surge_overrides_are_refused_at_once(client: httpx.AsyncClient) -> None:
    """501 overrides: one problem naming the limit, not one per override."""
    rules = (await client.get("/v1/surge/rules", headers=AN)).json()
    body = {k: v for k, v in rules.items() if k not in ("version", "community_id")}
    override = {"name": "o", "start_hour": 1, "end_hour": 2, "scale": 1.1}
    body["overrides"] = [{**override, "name": f"o{i}"} for i in range(501)]
    r = await client.put("/v1/surge/rules", json=body, headers=AN)
    problem = assert_problem(r, 422)
    assert any("at most 500 overrides" in e["msg"] for e in problem["errors"])
    assert len(problem["errors"]) <= 50


async def test_a_503_names_no_infrastructure() -> None:
    """With Redis down the problem says the store is unavailable, not where it lives."""
    from dispatch.store.redis import RedisStore

    store = RedisStore("redis://127.0.0.1:1/0", socket_timeout_s=0.5)
    app = create_app(
        ApiSettings(api_keys="k=ops", tick_enabled=False), engine=make_engine(store, ManualClock())
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a") as c:
            r = await c.get("/v1/communities/c1", headers={"Authorization": "Bearer k"})
            body = assert_problem(r, 503)
            assert "127.0.0.1" not in r.text and "Redis" not in r.text and ":1" not in r.text
            assert body["detail"] == "the state store is unavailable; retry later"
    finally:
        store.close()


# ---- docs and metrics, roles -----------------------------------------------------


async def test_docs_and_metrics_can_be_closed_to_all_but_ops(engine: Engine) -> None:
    """protect_ops_endpoints: /metrics and /openapi.json need an ops key; /healthz stays open."""
    app = create_app(
        ApiSettings(api_keys=KEYS, tick_enabled=False, protect_ops_endpoints=True), engine=engine
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a") as c,
    ):
        for path in ("/metrics", "/openapi.json", "/docs"):
            assert_problem(await c.get(path), 401)
            assert_problem(await c.get(path, headers=OS), 403)
        assert (await c.get("/metrics", headers=OPS)).status_code == 200
        assert (await c.get("/openapi.json", headers=OPS)).status_code == 200
        assert (await c.get("/healthz")).status_code == 200


async def test_open_by_default_docs_and_metrics(client: httpx.AsyncClient) -> None:
    """Without the setting, Prometheus and the docs need no key (as before)."""
    assert (await client.get("/metrics")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_ops_may_cancel_orders_and_jobs_and_read_rules(
    client: httpx.AsyncClient, community: dict[str, Any], technician: str
) -> None:
    """README's role table: cancel is order-service or ops; rules are read by ops too."""
    order = (await client.post("/v1/orders", json=order_body(), headers=OS)).json()
    r = await client.post(f"/v1/orders/{order['id']}/cancel", headers=OPS)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    job = (await client.post("/v1/jobs", json=job_body(location=north(200)), headers=OS)).json()
    r = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=OPS)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert (await client.get("/v1/surge/rules", headers=OPS)).status_code == 200
    assert_problem(await client.put("/v1/surge/rules", json={}, headers=OPS), 403)


EDGE_SETTINGS = (
    "rate_limits",
    "auth_failure_limit",
    "max_waits_per_key",
    "max_streams_per_key",
    "events_retention_s",
    "events_retention_count",
    "maintenance_every_s",
    "protect_ops_endpoints",
    "header_timeout_s",
    "body_timeout_s",
    "keep_alive_s",
    "max_header_bytes",
    "rules_body_limit_bytes",
)


def test_readme_documents_the_edge_settings() -> None:
    """Every limit and timeout of the edge is named in README with its variable."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name in EDGE_SETTINGS:
        assert name in ApiSettings.model_fields
        assert f"DISPATCH_{name.upper()}" in readme, name

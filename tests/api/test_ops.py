"""The ops console's HTTP side: its page and assets, the snapshot, waiting, alerts.

Runs on memory, Redis and Redis Cluster through the shared ``api_store`` fixture.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.routes.ops import MIN_LOOK_S
from api.settings import ApiSettings
from api.ticker import MetricsObserver
from dispatch import Engine, ManualClock
from dispatch.ops import AlertThresholds
from tests.api.conftest import AN, APP, KEYS, OPS, OS, assert_problem, north, order_body

pytestmark = pytest.mark.anyio

SNAPSHOT = "/v1/ops/communities/c1/snapshot"


async def _deliver(client: httpx.AsyncClient, order_id: str, worker: str = "w1") -> None:
    for step in ("picked_up", "delivered"):
        r = await client.post(
            f"/v1/orders/{order_id}/events", json={"type": step, "worker_id": worker}, headers=APP
        )
        assert r.status_code == 200, r.text


async def _dispatch(client: httpx.AsyncClient) -> None:
    """A fresh fix for w1 (the clock moves in these tests), then a tick that assigns."""
    r = await client.post("/v1/workers/w1/location", json=north(10), headers=APP)
    assert r.status_code == 200, r.text
    r = await client.post("/v1/communities/c1/dispatch", headers=OPS)
    assert r.status_code == 200 and r.json()["assigned"] == 1, r.text


async def _order(client: httpx.AsyncClient) -> str:
    r = await client.post("/v1/orders", json=order_body(), headers=OS)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


async def test_snapshot_draws_the_community(
    client: httpx.AsyncClient, courier: str, engine: Engine
) -> None:
    """Fence, every cell with its outline and multiplier, workers, open work, KPIs."""
    order_id = await _order(client)
    r = await client.get(SNAPSHOT, headers=AN)
    assert r.status_code == 200, r.text
    snap = r.json()
    community = engine.get_community("c1")
    assert len(snap["cells"]) >= community.cell_count > 200
    assert all(len(c["boundary"]) >= 5 and c["multiplier"] >= 0.5 for c in snap["cells"])
    assert len(snap["fence"]) > 16
    lats = [p[0] for p in snap["fence"]]
    assert min(lats) < north(-2900)["lat"] and max(lats) > north(2900)["lat"]
    assert [(w["id"], w["status"], w["stops"]) for w in snap["workers"]] == [("w1", "idle", [])]
    assert [(w["id"], w["state"], w["at_risk"]) for w in snap["work"]] == [
        (order_id, "pending", False)
    ]
    k = snap["kpis"]
    assert (k["open_orders"], k["couriers_online"], k["couriers_busy"]) == (1, 1, 0)
    assert k["on_time_share"] is None and k["delivered_last_hour"] == 0
    assert snap["alerts"] == [] and snap["tile_url"] is None


async def test_a_tick_shows_the_assignment_and_the_route(
    client: httpx.AsyncClient, courier: str
) -> None:
    """After a tick the order is assigned, the courier busy with its two stops; the etag
    changed."""
    order_id = await _order(client)
    before = (await client.get(SNAPSHOT, headers=OPS)).json()
    assert (await client.post("/v1/communities/c1/dispatch", headers=OPS)).status_code == 200
    after = (await client.get(SNAPSHOT, headers=OPS)).json()
    assert after["etag"] != before["etag"]
    assert [(w["state"], w["worker_id"]) for w in after["work"]] == [("assigned", "w1")]
    (w1,) = after["workers"]
    assert w1["status"] == "busy"
    assert [(s["kind"], s["entity_id"]) for s in w1["stops"]] == [
        ("pickup", order_id),
        ("dropoff", order_id),
    ]
    assert after["kpis"]["couriers_busy"] == 1


async def test_roles_and_unknown_communities(client: httpx.AsyncClient, courier: str) -> None:
    """Ops and analyst keys read it; others are 403, no key 401; unknown ids 404."""
    assert (await client.get(SNAPSHOT, headers=OPS)).status_code == 200
    assert (await client.get("/v1/ops/communities", headers=AN)).json() == [
        {"id": "c1", "name": "Riverside", "retired": False}
    ]
    assert_problem(await client.get(SNAPSHOT, headers=OS), 403)
    assert_problem(await client.get(SNAPSHOT), 401)
    assert_problem(await client.get("/v1/ops/communities/nope/snapshot", headers=OPS), 404)
    assert_problem(await client.get(SNAPSHOT + "?since=zz", headers=OPS), 422)
    assert_problem(await client.get(SNAPSHOT + "?wait_s=31", headers=OPS), 422)


async def test_kpis_count_the_last_hour_of_deliveries(
    client: httpx.AsyncClient, courier: str, clock: ManualClock
) -> None:
    """One on time and one late: share 0.5, p90 the late one's click-to-door; an hour
    later neither counts."""
    first = await _order(client)
    await _dispatch(client)
    clock.advance(600)
    await _deliver(client, first)
    second = await _order(client)
    await _dispatch(client)
    clock.advance(2400)  # past its 30-minute promise
    await _deliver(client, second)
    k = (await client.get(SNAPSHOT, headers=OPS)).json()["kpis"]
    assert (k["delivered_last_hour"], k["on_time_share"]) == (2, 0.5)
    assert k["click_to_door_p90_s"] == 2400.0
    assert k["open_orders"] == 0
    clock.advance(3601)
    k = (await client.get(SNAPSHOT, headers=OPS)).json()["kpis"]
    assert (k["delivered_last_hour"], k["on_time_share"], k["click_to_door_p90_s"]) == (
        0,
        None,
        None,
    )


@pytest.fixture
def waiting_app(engine: Engine) -> FastAPI:
    """An app whose waits re-read the store every 50 ms."""
    return create_app(
        ApiSettings(api_keys=KEYS, tick_enabled=False, feed_recheck_s=0.05), engine=engine
    )


async def test_waiting_returns_on_a_change_or_at_the_deadline(
    waiting_app: FastAPI, courier: str
) -> None:
    """With ``since`` the answer waits: the same etag after the wait, a new one as soon as
    a position moved (positions wake nobody: the recheck finds them)."""
    app = waiting_app
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        etag = (await c.get(SNAPSHOT, headers=OPS)).json()["etag"]
        r = await c.get(SNAPSHOT, params={"since": etag, "wait_s": 0.2}, headers=OPS)
        assert r.json()["etag"] == etag
        waiting = asyncio.create_task(
            c.get(SNAPSHOT, params={"since": etag, "wait_s": 10}, headers=OPS)
        )
        r = await c.post("/v1/workers/w1/location", json=north(400), headers=APP)
        assert r.status_code == 200, r.text
        snap = (await asyncio.wait_for(waiting, 5)).json()
        assert snap["etag"] != etag
        assert snap["workers"][0]["position"]["lat"] == pytest.approx(north(400)["lat"])


async def test_alerts_are_evaluated_after_ticks_and_become_events(
    engine: Engine, clock: ManualClock
) -> None:
    """Late deliveries raise on_time_low after a tick (event + metric); it clears once
    the late ones leave the hour."""
    settings = ApiSettings(
        api_keys=KEYS,
        tick_enabled=False,
        alerts=AlertThresholds(on_time_below=0.9, on_time_min_deliveries=2),
    )
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        await c.put("/v1/communities/c1", json={"name": "R", "center": north(0)}, headers=OPS)
        await c.put("/v1/workers/w1", json={"kind": "courier", "community_id": "c1"}, headers=OPS)
        for _ in range(2):
            order_id = await _order(c)
            await _dispatch(c)
            clock.advance(2400)
            await _deliver(c, order_id)
        console = app.state.ops
        # What the in-process dispatcher does after each tick (api.ticker.MetricsObserver).
        observer = MetricsObserver(app.state.metrics, ops=console)
        observer.ticked(engine.tick("c1"))
        snap: dict[str, Any] = (await c.get(SNAPSHOT, headers=OPS)).json()
        assert [a["kind"] for a in snap["alerts"]] == ["on_time_low"]
        r = await c.get("/v1/events", params={"community_id": "c1"}, headers=OPS)
        raised = [e for e in r.json()["events"] if e["type"] == "alert.raised"]
        assert [(e["entity_id"], e["data"]["severity"]) for e in raised] == [
            ("on_time_low", "critical")
        ]
        metrics = (await c.get("/metrics", headers=OPS)).text
        assert 'dispatch_alerts_active{kind="on_time_low"} 1.0' in metrics
        assert 'dispatch_alerts_raised_total{kind="on_time_low"} 1.0' in metrics
        observer.ticked(engine.tick("c1"))  # still holds: raised once only
        clock.advance(3601)
        observer.tick_failed("c1", RuntimeError("solver crashed"))
        observer.tick_failed("c1", RuntimeError("solver crashed"))
        r = await c.get("/v1/events", params={"community_id": "c1"}, headers=OPS)
        alerts = [(e["type"], e["entity_id"]) for e in r.json()["events"] if "alert" in e["type"]]
        assert alerts == [
            ("alert.raised", "on_time_low"),
            ("alert.cleared", "on_time_low"),
            ("alert.raised", "tick_failing"),
        ]
        metrics = (await c.get("/metrics", headers=OPS)).text
        assert 'dispatch_alerts_active{kind="on_time_low"} 0.0' in metrics
        assert 'dispatch_alerts_active{kind="tick_failing"} 1.0' in metrics
        snap = (await c.get(SNAPSHOT, headers=OPS)).json()
        assert [a["kind"] for a in snap["alerts"]] == ["tick_failing"]
        assert "solver crashed" in snap["alerts"][0]["message"]


async def test_the_page_and_its_assets_are_served_locally(client: httpx.AsyncClient) -> None:
    """/ops needs no key, loads only its own assets, and forbids other origins by CSP."""
    r = await client.get("/ops")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "http://" not in r.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    for name, media in (("console.js", "text/javascript"), ("console.css", "text/css")):
        r = await client.get(f"/ops/assets/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert "http://" not in r.text.replace("http://www.w3.org/2000/svg", "")
    assert_problem(await client.get("/ops/assets/console.html"), 404)
    assert_problem(await client.get("/ops/assets/..%2Fapp.py"), 404)


async def test_a_tile_url_reaches_the_snapshot_and_the_page_policy(
    engine: Engine, courier: str
) -> None:
    """The optional basemap: its template is in the snapshot, its host allowed for images."""
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    app = create_app(
        ApiSettings(api_keys=KEYS, tick_enabled=False, ops_tile_url=url), engine=engine
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        assert (await c.get(SNAPSHOT, headers=OPS)).json()["tile_url"] == url
        csp = (await c.get("/ops")).headers["content-security-policy"]
        assert "img-src 'self' data: https://tiles.example.org;" in csp


def test_tile_urls_and_thresholds_are_validated() -> None:
    """A tile template must be http(s) with {z}, {x}, {y}; thresholds check their ranges."""
    for bad in ("ftp://x/{z}/{x}/{y}", "https://x/{z}/{x}.png", "/tiles/{z}/{x}/{y}"):
        with pytest.raises(ValueError, match="URL template"):
            ApiSettings(ops_tile_url=bad)
    with pytest.raises(ValueError, match="on_time_below"):
        ApiSettings(alerts={"on_time_below": 1.5})
    with pytest.raises(ValueError, match="unknown alerts setting"):
        ApiSettings(alerts={"on_time_floor": 0.5})
    assert ApiSettings(alerts={"stale_min_workers": 7}).alerts.stale_min_workers == 7


async def test_waiting_takes_one_of_the_keys_long_poll_slots(engine: Engine, courier: str) -> None:
    """With one slot per key, a second wait by the same key is 429; another key may wait."""
    settings = ApiSettings(api_keys=KEYS, tick_enabled=False, max_waits_per_key=1)
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        etag = (await c.get(SNAPSHOT, headers=OPS)).json()["etag"]
        params = {"since": etag, "wait_s": 10}
        first = asyncio.create_task(c.get(SNAPSHOT, params=params, headers=OPS))
        with anyio.fail_after(20):
            while app.state.changes.waiting == 0:  # the first wait holds its slot, waiting
                await asyncio.sleep(0)
        r = await c.get(SNAPSHOT, params=params, headers=OPS)
        assert_problem(r, 429)
        r = await c.get(SNAPSHOT, params={**params, "wait_s": 0.1}, headers=AN)
        assert r.status_code == 200 and r.json()["etag"] == etag
        await c.post("/v1/workers/w1/location", json=north(300), headers=APP)
        assert (await asyncio.wait_for(first, 5)).json()["etag"] != etag


async def test_a_busy_server_wakes_a_waiting_snapshot_at_a_bounded_rate(
    waiting_app: FastAPI, courier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every change wakes every waiter; a waiting snapshot still looks at most every
    MIN_LOOK_S (plus its first and last look), however many changes arrive."""
    app = waiting_app
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c,
    ):
        etag = (await c.get(SNAPSHOT, headers=OPS)).json()["etag"]
        console = app.state.ops
        looks = 0
        view = console.view

        def counted(community_id: str) -> Any:
            nonlocal looks
            looks += 1
            return view(community_id)

        monkeypatch.setattr(console, "view", counted)
        wait_s = 1.0
        waiting = asyncio.create_task(
            c.get(SNAPSHOT, params={"since": etag, "wait_s": wait_s}, headers=OPS)
        )
        wakes = 0
        with anyio.fail_after(20):
            while not waiting.done():
                await app.state.changes.notify()
                wakes += 1
                await asyncio.sleep(0)
        assert (await waiting).json()["etag"] == etag
        assert wakes > 50
        assert 2 <= looks <= wait_s / MIN_LOOK_S + 2, (looks, wakes)


async def test_outlines_can_be_left_out_and_leave_the_etag_alone(
    client: httpx.AsyncClient, courier: str
) -> None:
    """``outlines=false`` empties every cell's outline, shrinks the answer, keeps the etag;
    a new community version (its outlines may change) changes the etag."""
    full = await client.get(SNAPSHOT, headers=OPS)
    lean = await client.get(SNAPSHOT, params={"outlines": "false"}, headers=OPS)
    assert {len(c["boundary"]) for c in lean.json()["cells"]} == {0}
    assert [c["cell"] for c in lean.json()["cells"]] == [c["cell"] for c in full.json()["cells"]]
    assert lean.json()["etag"] == full.json()["etag"]
    assert len(lean.content) * 2 < len(full.content)
    version = full.json()["community_version"]
    r = await client.put(
        "/v1/communities/c1", json={"name": "Riverside", "center": north(50)}, headers=OPS
    )
    assert r.status_code == 200, r.text
    moved = (await client.get(SNAPSHOT, params={"outlines": "false"}, headers=OPS)).json()
    assert moved["community_version"] == version + 1 and moved["etag"] != full.json()["etag"]


async def test_the_console_list_marks_retired_communities(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """A retired community stays listed (its snapshot still answers), marked retired."""
    body = {"name": "Old town", "center": north(0)}
    assert (await client.put("/v1/communities/c2", json=body, headers=OPS)).status_code == 200
    r = await client.post("/v1/communities/c2/retire", headers=OPS)
    assert r.status_code == 200, r.text
    listed = (await client.get("/v1/ops/communities", headers=OPS)).json()
    assert sorted((c["id"], c["retired"]) for c in listed) == [("c1", False), ("c2", True)]
    r = await client.get("/v1/ops/communities/c2/snapshot", headers=OPS)
    assert r.status_code == 200 and r.json()["work"] == []
